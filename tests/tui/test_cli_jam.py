"""`composer jam` refuses bad input in one line, exit 2, before touching any device."""

import os
import subprocess
import sys

import pytest


def test_composer_jam_without_weights_says_so_in_one_line(tmp_path):
    missing = tmp_path / "none.safetensors"
    run = subprocess.run(
        [sys.executable, "-m", "tui.cli", "jam", "--model", str(missing), "--record", str(tmp_path / "x.mid")],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
    )
    assert run.returncode == 2
    assert run.stderr.strip().splitlines() == [
        f"composer: {missing}: transformer weights not found; train with `composer train transformer --export`"
    ]
    assert not (tmp_path / "x.mid").exists()


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--gap-ms", "5"], "--gap-ms"),
        (["--answer-program", "200"], "--answer-program"),
        (["--key", "H:major"], "--key"),
        (["--temperature", "0"], "--temperature"),
    ],
)
def test_composer_jam_bad_options(args, flag):
    run = subprocess.run([sys.executable, "-m", "tui.cli", "jam", *args], capture_output=True, text=True)
    assert run.returncode == 2
    (line,) = run.stderr.strip().splitlines()
    assert line.startswith(f"composer: {flag}:")

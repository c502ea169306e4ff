"""The Python the project declares is one it runs on, and a missing tomllib is one line, never silent help."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_requires_python_covers_tomllib():
    spec = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert spec.startswith(">=")
    assert tuple(int(x) for x in spec[2:].split(".")[:2]) >= (3, 11)  # tui/keymap.py imports tomllib (3.11)


def _run(prelude: str) -> subprocess.CompletedProcess:
    code = textwrap.dedent(prelude) + textwrap.dedent(
        f"""
        sys.path.insert(0, {str(ROOT)!r})
        from tui.cli import main
        sys.exit(main([]))
        """
    )
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL
    )


def test_without_tomllib_or_tomli_the_app_says_so_in_one_line_and_exits_2():
    result = _run("import sys\nsys.modules['tomllib'] = None\nsys.modules['tomli'] = None\n")  # as on 3.10
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, (result.returncode, result.stdout[:300], result.stderr[-500:])
    assert len(lines) == 1 and "Python 3.11" in lines[0] and lines[0].startswith("composer: ")
    assert "usage:" not in result.stdout  # not the help, as if nothing were wrong


def test_tomli_stands_in_for_tomllib(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys, tomllib
        sys.modules['tomli'] = tomllib
        sys.modules['tomllib'] = None
        sys.path.insert(0, {str(ROOT)!r})
        import os
        os.environ['COMPOSER_HOME'] = {str(tmp_path)!r}
        from tui.keymap import load_keymap
        print(load_keymap())
        """
    )
    (tmp_path / "keys.toml").write_text('[keys]\nadd_note = "a"\n')
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-500:]
    assert "'add_note': 'a'" in result.stdout

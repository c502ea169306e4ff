"""`composer generate` with a tiny saved model: output files, variations, determinism, bad input."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from composer.files.midi_io import read_midi, write_midi
from composer.model.checkpoint import save_transformer
from composer.model.model import MusicTransformer, TransformerConfig
from composer.song import Note, Song, Track
from composer.tokens import VOCAB_SIZE
from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]
COMPOSER = ROOT / ".venv" / "bin" / "composer"
PRIMER_END_S = 4.0


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=64, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    path = tmp_path_factory.mktemp("model") / "tiny.safetensors"
    save_transformer(MusicTransformer(cfg), path)
    return path


@pytest.fixture(scope="module")
def primer_path(tmp_path_factory) -> Path:
    melody = [Note(60 + (i * 7) % 12, 90, i * 0.5, i * 0.5 + 0.45) for i in range(8)]
    bass = [Note(36, 70, 0.0, 2.0), Note(43, 70, 2.0, PRIMER_END_S)]
    song = Song(tracks=[Track(name="Melody", program=73, notes=melody), Track(name="Bass", program=32, notes=bass)])
    path = tmp_path_factory.mktemp("primer") / "primer.mid"
    write_midi(song, path)
    return path


def generate(model_path: Path, out: Path, *extra: str) -> int:
    return main(["generate", "--model", str(model_path), "--seconds", "3", "-o", str(out), *extra])


def test_continues_a_primer_in_a_new_track(model_path, primer_path, tmp_path, capsys):
    out = tmp_path / "out.mid"
    assert generate(model_path, out, "--primer", str(primer_path), "--seed", "3", "--style", "folk") == 0
    assert capsys.readouterr().out.startswith(f"wrote {out}: ")
    song = read_midi(out)
    primer = read_midi(primer_path)
    names = [t.name for t in song.tracks]
    assert names == ["Melody", "Bass", "Co-composer"]
    for kept, original in zip(song.tracks[:2], primer.tracks, strict=True):
        assert kept.program == original.program
        assert [(n.pitch, round(n.start_s, 3), round(n.end_s, 3)) for n in kept.notes] == [
            (n.pitch, round(n.start_s, 3), round(n.end_s, 3)) for n in original.notes
        ]
    new = song.tracks[2]
    assert new.notes and new.program == 73  # the primer's first pitched track's program
    assert min(n.start_s for n in new.notes) >= PRIMER_END_S - 1e-3
    assert max(n.end_s for n in new.notes) <= PRIMER_END_S + 3 + 1e-3
    assert list(tmp_path.iterdir()) == [out]  # no temporary file left behind


def test_from_nothing_with_a_key_and_program(model_path, tmp_path):
    out = tmp_path / "free.mid"
    assert generate(model_path, out, "--seed", "4", "--key", "D:minor", "--program", "40") == 0
    (track,) = read_midi(out).tracks
    assert track.name == "Co-composer" and track.program == 40 and track.notes
    assert {n.pitch % 12 for n in track.notes} <= {2, 4, 5, 7, 9, 10, 0}


def test_the_new_notes_stay_in_the_programs_range(model_path, primer_path, tmp_path):
    out = tmp_path / "bass.mid"
    assert generate(model_path, out, "--seed", "2", "--seconds", "6", "--program", "33") == 0  # electric bass
    (track,) = read_midi(out).tracks
    assert len(track.notes) >= 3 and all(28 <= n.pitch <= 67 for n in track.notes)  # an untrained model: few
    out = tmp_path / "piccolo.mid"
    assert generate(model_path, out, "--primer", str(primer_path), "--seed", "2", "--program", "72") == 0
    new = read_midi(out).tracks[-1]
    assert new.notes and all(74 <= n.pitch <= 108 for n in new.notes)


def test_variations_write_numbered_files_that_differ(model_path, primer_path, tmp_path):
    out = tmp_path / "take.mid"
    # a piano (the whole keyboard, no octave move): the untrained model's few notes are not masked away
    assert (
        generate(model_path, out, "--primer", str(primer_path), "--seed", "9", "--variations", "3", "--program", "0")
        == 0
    )
    paths = [tmp_path / f"take-{i}.mid" for i in (1, 2, 3)]
    assert sorted(tmp_path.iterdir()) == paths
    contents = [p.read_bytes() for p in paths]
    assert len(set(contents)) == 3


def test_the_same_seed_gives_byte_identical_files(model_path, primer_path, tmp_path):
    a, b, c = tmp_path / "a.mid", tmp_path / "b.mid", tmp_path / "c.mid"
    for out, seed in ((a, "5"), (b, "5"), (c, "6")):
        assert generate(model_path, out, "--primer", str(primer_path), "--seed", seed) == 0
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def _not_a_transformer(folder: Path) -> Path:
    path = folder / "vocoder.safetensors"
    save_file({"w": torch.zeros(3)}, str(path), metadata={"kind": "vocoder", "config": "{}"})
    return path


BAD_INPUTS = {
    "missing primer": (["--primer", "{tmp}/nope.mid"], "nope.mid"),
    "corrupt primer": (["--primer", "{tmp}/corrupt.mid"], "corrupt.mid"),
    "primer not music": (["--primer", "{tmp}/notes.txt"], "notes.txt"),
    "unknown style": (["--style", "jazz"], "--style"),
    "bad key": (["--key", "H:major"], "--key"),
    "negative seconds": (["--seconds=-1"], "--seconds"),
    "top-p zero": (["--top-p", "0"], "--top-p"),
    "nan temperature": (["--temperature", "nan"], "--temperature"),
    "no variations": (["--variations", "0"], "--variations"),
    "missing model": (["--model", "{tmp}/missing.safetensors"], "missing.safetensors"),
    "model is not safetensors": (["--model", "{tmp}/corrupt.mid"], "corrupt.mid"),
    "model of another kind": (["--model", "{tmp}/vocoder.safetensors"], "not a music-transformer"),
    "output folder missing": (["-o", "{tmp}/no/such/dir/out.mid"], "does not exist"),
    "output not midi": (["-o", "{tmp}/out.wav"], "out.wav"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_writes_nothing(model_path, tmp_path, capsys, case):
    (tmp_path / "corrupt.mid").write_bytes(b"MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\xff\xff")
    (tmp_path / "notes.txt").write_text("not music")
    _not_a_transformer(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    options, expected = BAD_INPUTS[case]
    options = [o.replace("{tmp}", str(tmp_path)) for o in options]
    argv = ["generate", "--model", str(model_path), "--seconds", "2", "--seed", "1", "-o", str(tmp_path / "out.mid")]
    assert main(argv + options) == 2  # argparse keeps the last of a repeated option
    out, err = capsys.readouterr()
    assert out == ""
    assert len(err.splitlines()) == 1 and err.startswith("composer: ") and expected in err
    assert "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before


@pytest.mark.skipif(not COMPOSER.exists(), reason="the composer script is installed by `make setup`")
def test_the_composer_command_in_a_real_process(model_path, primer_path, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = tmp_path / "proc.mid"
    cmd = [str(COMPOSER), "generate", "--model", str(model_path), "--primer", str(primer_path), "--seconds", "2"]
    result = subprocess.run([*cmd, "--seed", "3", "-o", str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    assert f"wrote {out}" in result.stdout
    assert "100%" in result.stderr  # the progress bar
    in_process = tmp_path / "inproc.mid"
    assert main(["generate", "--model", str(model_path), "--primer", str(primer_path), "--seconds", "2"]
                + ["--seed", "3", "-o", str(in_process)]) == 0  # fmt: skip
    assert out.read_bytes() == in_process.read_bytes()

    bad = subprocess.run([*cmd, "--top-p", "0", "-o", str(tmp_path / "x.mid")], capture_output=True, text=True, env=env)
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "--top-p" in bad.stderr
    assert not (tmp_path / "x.mid").exists()


def test_threads_are_given_to_torch_and_a_bad_count_is_one_line(model_path, tmp_path, capsys):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert generate(model_path, tmp_path / "one.mid", "--seed", "1", "--threads", "1") == 0
        assert torch.get_num_threads() == 1
        torch.set_num_threads(2)
        assert generate(model_path, tmp_path / "all.mid", "--seed", "1", "--threads", "0") == 0
        assert torch.get_num_threads() == 2  # 0: torch's own default, left as it is
        assert read_midi(tmp_path / "one.mid").tracks[0].notes == read_midi(tmp_path / "all.mid").tracks[0].notes
        capsys.readouterr()
        assert generate(model_path, tmp_path / "bad.mid", "--threads", "-2") == 2
        assert "--threads: expected 0" in capsys.readouterr().err and not (tmp_path / "bad.mid").exists()
    finally:
        torch.set_num_threads(before)

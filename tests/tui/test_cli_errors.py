"""Bad input to `composer info`: exit status 2, one line on stderr naming the file, no traceback."""

from __future__ import annotations

import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import mido
import pytest

from composer.files.midi_io import song_to_midi
from composer.song import Note, Song, Track
from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]
COMPOSER = ROOT / ".venv" / "bin" / "composer"


def _mid_bytes(mid: mido.MidiFile) -> bytes:
    buffer = io.BytesIO()
    mid.save(file=buffer)
    return buffer.getvalue()


def _real() -> bytes:
    notes = [Note(48 + i % 24, 90, i * 0.1, i * 0.1 + 0.3) for i in range(50)]
    return _mid_bytes(song_to_midi(Song(tracks=[Track(name="Piano", notes=notes)])))


def _one_track(events: bytes, fmt: int = 0, n_tracks: int = 1) -> bytes:
    """Raw SMF bytes, for what mido refuses to write (data bytes above 127)."""
    body = events + b"\x00\xff\x2f\x00"
    return b"MThd" + struct.pack(">IHHH", 6, fmt, n_tracks, 480) + b"MTrk" + struct.pack(">I", len(body)) + body


def _tempo_zero() -> bytes:
    return _one_track(b"\x00\xff\x51\x03\x00\x00\x00" + b"\x00\x90\x3c\x40\x83\x60\x80\x3c\x00")


def _five_thousand_tracks() -> bytes:
    mid = mido.MidiFile(type=1)
    mid.tracks.extend(mido.MidiTrack() for _ in range(5000))
    return _mid_bytes(mid)


def _huge_delta() -> bytes:
    mid = mido.MidiFile(type=0)
    mid.tracks.append(
        mido.MidiTrack([mido.Message("note_on", note=60), mido.Message("note_off", note=60, time=0x0FFFFFFF)])
    )
    return _mid_bytes(mid)


def _project(**changes) -> bytes:
    data = {"schema_version": 1, "tempo_bpm": 100, "tracks": [{"name": "P", "notes": [[60, 80, 0, 1]]}]}
    data.update(changes)
    return json.dumps(data).encode()


CASES: dict[str, tuple[str, bytes | None, str]] = {
    "missing file": ("nowhere.mid", None, "no such file"),
    "missing project": ("nowhere.json", None, "no such file"),
    "text named .mid": ("notes.mid", b"C D E F G\n", "not a MIDI file"),
    "empty file": ("empty.mid", b"", "not a MIDI file"),
    "truncated": ("cut.mid", _real()[:100], "truncated"),
    "MThd bad length": ("hdr.mid", b"MThd\x00\x00\x00\x02\x00\x01", "corrupt"),
    "tempo 0": ("tempo0.mid", _tempo_zero(), "absurd tempo"),
    "huge delta": ("long.mid", _huge_delta(), "longer than"),
    "5000 tracks": ("many.mid", _five_thousand_tracks(), "5000 tracks"),
    "pitch byte 200": ("pitch.mid", _one_track(b"\x00\x90\xc8\x40\x60\x80\xc8\x00"), "corrupt"),
    "invalid JSON": ("p.json", b"{nope", "invalid JSON"),
    "newer schema": ("p.json", _project(schema_version=99), "newer"),
    "NaN tempo": ("p.json", _project(tempo_bpm=float("nan")), "tempo"),
    "unknown type": ("song.docx", b"PK\x03\x04", "unknown file type"),
}


def _make(tmp_path: Path, case: str) -> Path:
    name, data, _ = CASES[case]
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_info_on_bad_file(tmp_path, capsys, case):
    path = _make(tmp_path, case)
    assert main(["info", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and err.endswith("\n")
    assert err.startswith(f"composer: {path}: ")
    assert CASES[case][2].lower() in err.lower()
    assert "Traceback" not in err


def test_info_on_a_directory(tmp_path, capsys):
    folder = tmp_path / "songs.mid"
    folder.mkdir()
    assert main(["info", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err == f"composer: {folder}: is a directory, expected a MIDI file\n"


@pytest.mark.skipif(not COMPOSER.exists(), reason="the composer script is installed by `make setup`")
@pytest.mark.parametrize("case", ["missing file", "truncated", "tempo 0", "NaN tempo"])
def test_composer_command_exits_2_with_one_line(tmp_path, case):
    path = _make(tmp_path, case)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run([str(COMPOSER), "info", str(path)], capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert str(path) in result.stderr and "Traceback" not in result.stderr


def test_python_dash_m_entry_point_too(tmp_path):
    path = _make(tmp_path, "empty file")
    result = subprocess.run(
        [sys.executable, "-m", "tui.cli", "info", str(path)], capture_output=True, text=True, cwd=ROOT, timeout=60
    )
    assert (result.returncode, result.stderr) == (2, f"composer: {path}: not a MIDI file (no MThd header)\n")

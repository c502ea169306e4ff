"""`composer render`: a valid WAV (16 or 24 bit), stems beside it; bad input: exit 2, one line, no file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from composer.files.midi_io import write_midi
from composer.song import Note, Song, Track
from tui.cli import main


@pytest.fixture
def song_mid(tmp_path):
    song = Song(
        tempo_bpm=100,
        tracks=[
            Track("Piano", 0, notes=[Note(60 + i % 5, 90, i * 0.2, i * 0.2 + 0.3) for i in range(6)]),
            Track("Drums", is_drum=True, channel=9, notes=[Note(36, 110, 0.0, 0.1), Note(38, 100, 0.6, 0.7)]),
        ],
    )
    path = tmp_path / "song.mid"
    write_midi(song, path)
    return path


@pytest.mark.parametrize("bit_depth,subtype", [("16", "PCM_16"), ("24", "PCM_24")])
def test_render_writes_a_wav(song_mid, tmp_path, capsys, bit_depth, subtype):
    out = tmp_path / "mix.wav"
    assert main(["render", str(song_mid), "-o", str(out), "--bit-depth", bit_depth]) == 0
    info = sf.info(str(out))
    assert (info.samplerate, info.channels, info.subtype) == (48000, 2, subtype)
    assert 1.3 < info.duration < 3.0  # 1.3 s of notes plus the release tails
    audio, _ = sf.read(str(out))
    assert np.abs(audio).max() > 0.05
    assert f"wrote {out}" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mix.wav", "song.mid"]


def test_render_a_project_at_another_sample_rate_with_stems(tmp_path):
    project = tmp_path / "song.json"
    data = {"schema_version": 1, "tempo_bpm": 120, "tracks": [
        {"name": "Lead Synth", "program": 81, "notes": [[72, 100, 0.0, 0.5]]},
        {"name": "Bass/Low", "program": 33, "notes": [[36, 100, 0.0, 0.5]]},
        {"name": "Empty", "program": 0, "notes": []},
        {"name": "Bass-Low", "program": 34, "notes": [[38, 100, 0.0, 0.5]]},
    ]}  # fmt: skip
    project.write_text(json.dumps(data))
    out = tmp_path / "mix.wav"
    assert main(["render", str(project), "-o", str(out), "--sample-rate", "44100", "--stems"]) == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["mix-Bass-Low-2.wav", "mix-Bass-Low.wav", "mix-Lead-Synth.wav", "mix.wav", "song.json"]
    lengths = {sf.info(str(tmp_path / n)).frames for n in names if n.endswith(".wav")}
    assert all(sf.info(str(tmp_path / n)).samplerate == 44100 for n in names if n.endswith(".wav"))
    assert len(lengths) <= 2  # the stems share one length


def bad(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("composer: ")
    return err


def test_bad_input_exits_2_with_one_line_and_no_file(song_mid, tmp_path, capsys):
    out = tmp_path / "out.wav"
    not_midi = tmp_path / "notes.mid"
    not_midi.write_text("these are not MIDI bytes")
    empty = tmp_path / "empty.mid"
    write_midi(Song(tracks=[Track("Nothing")]), empty)
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    cases = [
        (["render", str(tmp_path / "missing.mid"), "-o", str(out)], "no such file"),
        (["render", str(not_midi), "-o", str(out)], "not a MIDI file"),
        (["render", str(empty), "-o", str(out)], "nothing to render"),
        (["render", str(song_mid), "-o", str(tmp_path / "no" / "out.wav")], "does not exist"),
        (["render", str(song_mid), "-o", str(a_file / "out.wav")], "does not exist"),
        (["render", str(song_mid), "-o", str(tmp_path)], "expected a .wav"),
        (["render", str(song_mid), "-o", str(tmp_path / "out.mp3")], "expected a .wav"),
        (["render", str(song_mid), "-o", str(out), "--sample-rate", "5"], "--sample-rate"),
        (["render", str(song_mid), "-o", str(out), "--sample-rate", "10000000"], "--sample-rate"),
    ]
    before = sorted(tmp_path.iterdir())
    for argv, expected in cases:
        assert expected in bad(argv, capsys)
        assert sorted(tmp_path.iterdir()) == before


def test_unknown_choices_are_usage_errors(song_mid, tmp_path):
    for extra in (["--bit-depth", "8"], ["--synth", "fm"]):
        with pytest.raises(SystemExit) as exc:
            main(["render", str(song_mid), "-o", str(tmp_path / "x.wav"), *extra])
        assert exc.value.code == 2
    assert not (tmp_path / "x.wav").exists()

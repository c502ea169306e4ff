"""`composer info` on a MIDI file and on a project: tempo, meter, tracks, instruments, note counts."""

from __future__ import annotations

import numpy as np

from composer.files.midi_io import write_midi
from composer.files.project import save_project
from composer.song import AudioClip, Note, Song, Track
from tui.cli import main


def _song() -> Song:
    piano = Track(name="Right hand", program=0, notes=[Note(60 + i, 80, i * 0.5, i * 0.5 + 0.4) for i in range(12)])
    bass = Track(name="Bass line", program=33, notes=[Note(36, 90, 0.0, 2.0), Note(43, 90, 2.0, 6.0)])
    drums = Track(name="Kit", is_drum=True, channel=9, notes=[Note(42, 70, i * 0.25, i * 0.25 + 0.1) for i in range(8)])
    return Song(tempo_bpm=88.0, time_signature=(3, 4), tracks=[piano, bass, drums])


def test_info_on_a_midi_file(tmp_path, capsys):
    path = tmp_path / "tune.mid"
    write_midi(_song(), path)
    assert main(["info", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == str(path)
    assert lines[1] == "  tempo 88 BPM, 3/4, 6.00 s, 3 tracks, 22 notes"
    assert lines[2].split() == [
        "1.",
        "Right",
        "hand",
        "Acoustic",
        "Grand",
        "Piano",
        "ch",
        "1",
        "12",
        "notes",
        "pitch",
        "60-71",
    ]
    assert lines[3].split() == [
        "2.",
        "Bass",
        "line",
        "Electric",
        "Bass",
        "(finger)",
        "ch",
        "2",
        "2",
        "notes",
        "pitch",
        "36-43",
    ]
    assert lines[4].split() == ["3.", "Kit", "Drum", "kit", "ch", "10", "8", "notes", "pitch", "42-42"]
    assert len(lines) == 5


def test_info_on_a_project_with_an_audio_clip(tmp_path, capsys):
    song = _song()
    song.tracks.append(Track(name="Sketch", program=40))
    song.clips.append(AudioClip(name="rain", start_s=1.5, samples=np.zeros(48000, dtype=np.float32), sample_rate=24000))
    path = tmp_path / "tune.json"
    save_project(song, path)
    assert main(["info", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "  tempo 88 BPM, 3/4, 6.00 s, 4 tracks, 22 notes"
    assert "Violin" in lines[5] and lines[5].split()[-1] == "empty" and " 0 notes" in lines[5]
    assert lines[6] == "  audio 'rain' at 1.50 s, 2.00 s"


def test_info_keeps_each_track_on_one_line(tmp_path, capsys):
    song = Song(tracks=[Track(name="two\nlines\x1b[2J", notes=[Note(60, 80, 0.0, 1.0)])])
    write_midi(song, tmp_path / "odd.mid")
    assert main(["info", str(tmp_path / "odd.mid")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert "\x1b" not in lines[2] and "two lines" in lines[2]


def test_info_on_an_empty_song(tmp_path, capsys):
    write_midi(Song(tempo_bpm=140), tmp_path / "silence.mid")
    assert main(["info", str(tmp_path / "silence.mid")]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "  tempo 140 BPM, 4/4, 0.00 s, 0 tracks, 0 notes"

"""Bad input to the loaders: only ComposerError escapes, and it names the file."""

from __future__ import annotations

import io
import json
import struct

import mido
import pytest
from smf_bytes import header, note, set_tempo, smf, track, varlen

from composer.errors import ComposerError
from composer.files.loader import load_song
from composer.files.midi_io import midi_bytes_to_song, write_midi
from composer.files.project import SCHEMA_VERSION, load_project, save_project
from composer.song import Note, Song, Track


def _real_midi() -> bytes:
    song = Song(tracks=[Track(notes=[Note(60 + i % 7, 80, i * 0.2, i * 0.2 + 0.4) for i in range(30)])])
    from composer.files.midi_io import song_to_midi

    buffer = io.BytesIO()
    song_to_midi(song).save(file=buffer)
    return buffer.getvalue()


def _project(**changes) -> str:
    data = {"schema_version": SCHEMA_VERSION, "tempo_bpm": 120, "tracks": [{"name": "P", "notes": [[60, 80, 0, 1]]}]}
    data.update(changes)
    return json.dumps(data)


# name -> (file name, bytes, words the message must hold)
BAD_FILES: dict[str, tuple[str, bytes, str]] = {
    "text named .mid": ("song.mid", b"this is not music\n", "not a MIDI file"),
    "empty .mid": ("song.mid", b"", "not a MIDI file"),
    "truncated": ("song.mid", _real_midi()[:-37], "truncated"),
    "header only": ("song.mid", header(1, 1), "truncated"),
    "MThd length 2": ("song.mid", header(length=2) + track(note(60)), "corrupt"),
    "MThd length 0xFFFFFFFF": ("song.mid", header(length=0xFFFFFFFF) + track(note(60)), "corrupt"),
    "MTrk length huge": ("song.mid", header(0, 1) + b"MTrk\xff\xff\xff\xf0" + note(60), "corrupt"),
    "more tracks promised": ("song.mid", header(1, 40) + track(note(60)), "corrupt"),
    "tempo 0": ("song.mid", smf(set_tempo(0), note(60)), "tempo"),
    "tempo 1 us": ("song.mid", smf(set_tempo(1), note(60)), "tempo"),
    "huge delta": ("song.mid", smf(note(60, length_ticks=0x0FFFFFFF)), "longer than"),
    "huge delta before end": ("song.mid", smf(note(60), varlen(0x0FFFFFFF) + b"\xff\x01\x01x"), "longer than"),
    "5000 tracks": ("song.mid", header(1, 5000) + track(b"") * 5000, "5000 tracks"),
    "pitch byte 200": ("song.mid", smf(note(200)), "corrupt"),
    "velocity byte 255": ("song.mid", smf(note(60, velocity=255)), "corrupt"),
    "division 0": ("song.mid", smf(note(60), division=0), "division"),
    "SMPTE division": ("song.mid", smf(note(60), division=0xE728), "SMPTE"),
    "type 2": ("song.mid", header(2, 1) + track(note(60)), "type 2"),
    "type 7": ("song.mid", header(7, 1) + track(note(60)), "type 7"),
    "meter 0/256": ("song.mid", smf(b"\x00\xff\x58\x04\x00\x08\x18\x08", note(60)), "time signature"),
    "bad key signature": ("song.mid", smf(b"\x00\xff\x59\x02\x40\x05", note(60)), "corrupt"),
    "running status first": ("song.mid", smf(b"\x00\x3c\x40"), "corrupt"),
    "meta length huge": ("song.mid", smf(b"\x00\xff\x01\x8f\xff\xff\x7f"), "corrupt"),
    "invalid JSON": ("song.json", b'{"schema_version": 1, "tracks": [', "invalid JSON"),
    "binary .json": ("song.json", _real_midi(), "not a project"),
    "JSON list": ("song.json", b"[1, 2, 3]", "no schema_version"),
    "newer schema": ("song.json", _project(schema_version=SCHEMA_VERSION + 1).encode(), "newer"),
    "schema as text": ("song.json", _project(schema_version="one").encode(), "schema"),
    "NaN tempo": ("song.json", _project(tempo_bpm=float("nan")).encode(), "tempo"),
    "Infinity tempo": ("song.json", _project(tempo_bpm=float("inf")).encode(), "tempo"),
    "huge integer tempo": (
        "song.json",
        _project().replace('"tempo_bpm": 120', '"tempo_bpm": 1' + "0" * 400).encode(),
        "tempo",
    ),
    "project tempo 0": ("song.json", _project(tempo_bpm=0).encode(), "tempo"),
    "track is a number": ("song.json", _project(tracks=[7]).encode(), "not a valid project"),
    "note of 3 fields": ("song.json", _project(tracks=[{"notes": [[60, 80, 0]]}]).encode(), "not a valid project"),
    "pitch 300": ("song.json", _project(tracks=[{"notes": [[300, 80, 0, 1]]}]).encode(), "pitch"),
    "note ends first": ("song.json", _project(tracks=[{"notes": [[60, 80, 2, 1]]}]).encode(), "note end"),
    "meter 0/0": ("song.json", _project(time_signature=[0, 0]).encode(), "time signature"),
    "deep nesting": ("song.json", b"[" * 100_000 + b"]" * 100_000, "not a project"),
    "clip WAV a folder": ("song.json", _project(clips=[{"path": "."}]).encode(), "not a regular file"),
    "seed as text": ("song.json", _project(clips=[{"seed": "abc"}]).encode(), "seed"),
    "unknown suffix": ("song.txt", b"hello", "unknown file type"),
}


@pytest.mark.parametrize("case", list(BAD_FILES), ids=list(BAD_FILES))
def test_bad_file_gives_one_composer_error_naming_it(tmp_path, case):
    file_name, data, words = BAD_FILES[case]
    path = tmp_path / file_name
    path.write_bytes(data)
    with pytest.raises(ComposerError) as info:
        load_song(path)
    message = str(info.value)
    assert "\n" not in message
    assert len(message) < 300
    assert words.lower() in message.lower()
    assert str(tmp_path) in message  # the file, or the clip beside it


@pytest.mark.parametrize("suffix", [".mid", ".json", ".midi", ".wav"])
def test_missing_file(tmp_path, suffix):
    path = tmp_path / f"nowhere{suffix}"
    with pytest.raises(ComposerError, match="no such file") as info:
        load_song(path)
    assert info.value.path == str(path)


@pytest.mark.parametrize("suffix", [".mid", ".json"])
def test_directory(tmp_path, suffix):
    path = tmp_path / f"folder{suffix}"
    path.mkdir()
    with pytest.raises(ComposerError, match="directory") as info:
        load_song(path)
    assert info.value.path == str(path)


def test_corrupt_clip_wav_is_named(tmp_path):
    (tmp_path / "clip.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk")
    (tmp_path / "p.json").write_text(_project(clips=[{"name": "c", "path": "clip.wav"}]))
    with pytest.raises(ComposerError) as info:
        load_song(tmp_path / "p.json")
    assert info.value.path == str(tmp_path / "clip.wav")
    assert "audio clip cannot be read" in str(info.value) and "\n" not in str(info.value)


def test_huge_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.mid"
    with open(path, "wb") as handle:  # sparse: no disk space used
        handle.write(header(0, 1))
        handle.truncate(200 * 1024 * 1024)
    with pytest.raises(ComposerError, match="too large"):
        load_song(path)


def test_bytes_without_a_path_still_name_a_source():
    with pytest.raises(ComposerError, match="<midi>"):
        midi_bytes_to_song(b"garbage")


def test_good_files_load_by_suffix(tmp_path):
    song = Song(tempo_bpm=100, tracks=[Track(name="Solo", notes=[Note(65, 70, 0.0, 0.6)])])
    write_midi(song, tmp_path / "a.MID")
    save_project(song, tmp_path / "a.json")
    for path in (tmp_path / "a.MID", tmp_path / "a.json"):
        loaded = load_song(path)
        assert loaded.tempo_bpm == 100
        assert [(n.pitch, n.velocity) for n in loaded.tracks[0].notes] == [(65, 70)]
    assert load_project(tmp_path / "a.json").tracks[0].name == "Solo"


def test_a_mido_written_type0_file_with_odd_but_valid_content_loads():
    mid = mido.MidiFile(type=0, ticks_per_beat=1)  # one tick per beat is legal
    mid.tracks.append(mido.MidiTrack([mido.Message("note_on", note=0, velocity=1), mido.Message("note_off", time=3)]))
    buffer = io.BytesIO()
    mid.save(file=buffer)
    notes = midi_bytes_to_song(buffer.getvalue()).tracks[0].notes
    assert [(n.pitch, n.velocity, n.start_s, n.end_s) for n in notes] == [(0, 1, 0.0, 1.5)]


def test_many_tracks_within_the_limit_load_quickly():
    data = header(1, 1000) + track(note(60)) * 1000
    assert len(midi_bytes_to_song(data).tracks) == 1000


def test_header_says_more_than_six_bytes_and_holds_them():
    data = b"MThd" + struct.pack(">I", 8) + struct.pack(">HHH", 0, 1, 480) + b"\x00\x00" + track(note(64))
    assert [n.pitch for n in midi_bytes_to_song(data).tracks[0].notes] == [64]

"""Project files: JSON with a schema version, clips as WAV beside it, written atomically."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from composer.errors import ComposerError
from composer.files.atomic import atomic_write, atomic_write_text
from composer.files.midi_io import read_midi, write_midi
from composer.files.project import SCHEMA_VERSION, load_project, save_project
from composer.song import AudioClip, Note, Song, Track


def _song() -> Song:
    rng = np.random.default_rng(3)
    lead = Track(name="Lead", program=73, channel=2, volume=1.25, pan=-0.3, mute=True, synth="neural")
    lead.notes = [
        Note(int(p), int(v), float(s), float(s) + 0.25)
        for p, v, s in zip(
            rng.integers(48, 84, 50), rng.integers(1, 128, 50), np.sort(rng.uniform(0, 20, 50)), strict=True
        )
    ]
    kit = Track(name="Kit", is_drum=True, channel=9, solo=True, notes=[Note(36, 100, 0.0, 0.1)])
    stereo = rng.uniform(-1, 1, (4800, 2)).astype(np.float32)
    mono = np.sin(np.linspace(0, 200, 2400)).astype(np.float32)
    clips = [
        AudioClip(name="Rain / on roof", start_s=2.5, gain=0.7, prompt="rain on a tin roof", seed=1234, samples=stereo),
        AudioClip(name="tone", start_s=0.0, mute=True, samples=mono, sample_rate=16000),
    ]
    return Song(tempo_bpm=133.5, time_signature=(6, 8), tracks=[lead, kit], clips=clips)


def test_round_trip_keeps_tracks_mixer_notes_and_clips(tmp_path):
    song = _song()
    path = tmp_path / "song.json"
    save_project(song, path)
    back = load_project(path)
    assert (back.tempo_bpm, back.time_signature) == (133.5, (6, 8))
    fields = ("name", "program", "is_drum", "channel", "volume", "pan", "mute", "solo", "synth")
    for a, b in zip(song.tracks, back.tracks, strict=True):
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
        assert [(n.pitch, n.velocity) for n in a.notes] == [(n.pitch, n.velocity) for n in b.notes]
        assert np.allclose([n.start_s for n in a.notes], [n.start_s for n in b.notes], atol=1e-6)
        assert np.allclose([n.end_s for n in a.notes], [n.end_s for n in b.notes], atol=1e-6)
    assert len(back.clips) == 2
    for a, b in zip(song.clips, back.clips, strict=True):
        assert (a.name, a.start_s, a.gain, a.mute, a.prompt, a.seed) == (
            b.name,
            b.start_s,
            b.gain,
            b.mute,
            b.prompt,
            b.seed,
        )
        assert b.sample_rate == a.sample_rate
        assert b.samples.shape == a.samples.shape
        assert np.array_equal(b.samples, a.samples)  # float WAV: exact
        assert (tmp_path / b.path).is_file() and b.path.endswith(".wav")
    assert back.clips[0].path.startswith("song.clips/")
    assert back.duration_s == pytest.approx(song.duration_s)


def test_file_holds_a_schema_version_and_plain_json(tmp_path):
    save_project(Song(tracks=[Track(notes=[Note(60, 80, 0.0, 1.0)])]), tmp_path / "p.json")
    data = json.loads((tmp_path / "p.json").read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["tracks"][0]["notes"] == [[60, 80, 0.0, 1.0]]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.json"]  # no clips folder when no clips


def test_saving_again_replaces_the_project(tmp_path):
    path = tmp_path / "p.json"
    save_project(_song(), path)
    save_project(Song(tempo_bpm=60.0), path)
    assert load_project(path).tempo_bpm == 60.0
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp") or ".tmp." in p.name]


def test_clip_without_samples_keeps_its_path(tmp_path):
    sf.write(tmp_path / "loop.wav", np.zeros(100, dtype=np.float32), 22050)
    song = Song(clips=[AudioClip(name="loop", path="loop.wav", start_s=1.0)])
    save_project(song, tmp_path / "p.json")
    clip = load_project(tmp_path / "p.json").clips[0]
    assert clip.path == "loop.wav" and clip.sample_rate == 22050 and len(clip.samples) == 100


def test_midi_tempo_extremes_can_be_saved_as_a_project(tmp_path):
    for bpm in (6.0, 1000.0):
        write_midi(Song(tempo_bpm=bpm, tracks=[Track(notes=[Note(60, 80, 0.0, 20.0)])]), tmp_path / "x.mid")
        song = read_midi(tmp_path / "x.mid")
        save_project(song, tmp_path / "x.json")
        assert load_project(tmp_path / "x.json").tempo_bpm == pytest.approx(bpm)


def test_a_writer_that_fails_midway_leaves_the_old_file(tmp_path):
    path = tmp_path / "p.json"
    atomic_write_text(path, "old contents")

    def half_then_fail(tmp):
        tmp.write_text("new con")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        atomic_write(path, half_then_fail)
    assert path.read_text() == "old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["p.json"]


def test_interrupted_project_save_keeps_the_old_project(tmp_path, monkeypatch):
    path = tmp_path / "p.json"
    save_project(_song(), path)
    before = path.read_bytes()
    import composer.files.project

    def broken_dumps(*args, **kwargs):  # fail after the clips are written, before the JSON
        raise KeyboardInterrupt

    monkeypatch.setattr(composer.files.project.json, "dumps", broken_dumps)
    with pytest.raises(KeyboardInterrupt):
        save_project(Song(tempo_bpm=90.0), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert load_project(path).tempo_bpm == 133.5
    assert not [p for p in tmp_path.rglob("*") if ".tmp" in p.name]


def test_write_onto_a_directory_is_a_composer_error(tmp_path):
    (tmp_path / "taken.mid").mkdir()
    with pytest.raises(ComposerError, match="is a directory"):
        write_midi(Song(), tmp_path / "taken.mid")
    with pytest.raises(ComposerError, match="is a directory"):
        save_project(Song(), tmp_path / "taken.mid")
    assert [p.name for p in tmp_path.iterdir()] == ["taken.mid"]


def test_os_failure_while_writing_is_a_composer_error_and_leaves_nothing(tmp_path):
    def fail(tmp):
        raise OSError(28, "No space left on device")

    with pytest.raises(ComposerError, match="No space left on device") as info:
        atomic_write(tmp_path / "out.wav", fail)
    assert info.value.path == str(tmp_path / "out.wav")
    assert list(tmp_path.iterdir()) == []


def test_write_into_a_missing_folder_is_a_composer_error(tmp_path):
    with pytest.raises(ComposerError, match="does not exist"):
        save_project(Song(), tmp_path / "nope" / "p.json")
    with pytest.raises(ComposerError, match="does not exist"):
        write_midi(Song(), tmp_path / "nope" / "p.mid")


def test_atomic_write_gives_new_files_the_usual_mode_and_keeps_existing_modes(tmp_path):
    import os

    from composer.files.atomic import atomic_write_text

    umask = os.umask(0o022)
    try:
        fresh = tmp_path / "fresh.txt"
        atomic_write_text(fresh, "a")
        assert fresh.stat().st_mode & 0o777 == 0o644
        kept = tmp_path / "kept.txt"
        kept.write_text("old")
        kept.chmod(0o640)
        atomic_write_text(kept, "new")
        assert kept.stat().st_mode & 0o777 == 0o640 and kept.read_text() == "new"
    finally:
        os.umask(umask)


def test_a_tracks_midi_out_channel_is_kept_and_older_files_send_nothing(tmp_path):
    path = tmp_path / "p.json"
    save_project(Song(tracks=[Track(name="Out", midi_out=10), Track(name="In")]), path)
    assert [t.midi_out for t in load_project(path).tracks] == [10, None]
    data = json.loads(path.read_text())
    data["schema_version"] = 4  # before tracks had a MIDI out
    del data["tracks"][0]["midi_out"]
    path.write_text(json.dumps(data))
    assert load_project(path).tracks[0].midi_out is None
    data["tracks"][0]["midi_out"] = 17
    path.write_text(json.dumps(data))
    with pytest.raises(ComposerError, match="MIDI out channel 17"):
        load_project(path)

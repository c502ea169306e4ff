import numpy as np
import pytest

from composer import edit
from composer.history import History, same, snapshot
from composer.song import AudioClip, Note, Song, Track


def make_song() -> Song:
    clip = AudioClip(samples=np.zeros(100, dtype=np.float32))
    return Song(tracks=[Track(name="a", notes=[Note(60, 80, 0.0, 0.5)])], clips=[clip])


def test_edit_is_one_step_and_undo_restores_in_place():
    song = make_song()
    history = History()
    tracks_before = snapshot(song)
    with history.edit(song, "transpose and add"):
        edit.transpose(song.tracks[0], song.tracks[0].notes, 5)
        edit.add_note(song.tracks[0], 70, 1.0, 0.5)
    assert len(history) == 1
    ref = song
    assert history.undo(song) == "transpose and add"
    assert ref is song and same(song, tracks_before)
    assert history.redo(song) == "transpose and add"
    assert [n.pitch for n in song.tracks[0].notes] == [65, 70]


def test_no_step_when_nothing_changed():
    song = make_song()
    history = History()
    with history.edit(song, "nothing"):
        edit.transpose(song.tracks[0], [], 3)
    assert not history.can_undo


def test_failed_edit_rolls_back():
    song = make_song()
    history = History()
    with pytest.raises(RuntimeError), history.edit(song, "boom"):
        song.tracks[0].notes.clear()
        raise RuntimeError("boom")
    assert len(song.tracks[0].notes) == 1
    assert not history.can_undo


def test_new_edit_clears_redo_and_limit_holds():
    song = make_song()
    history = History(limit=3)
    for i in range(5):
        with history.edit(song, f"tempo {i}"):
            song.tempo_bpm = 100 + i
    assert len(history) == 3
    history.undo(song)
    assert history.can_redo
    with history.edit(song, "other"):
        song.tempo_bpm = 90
    assert not history.can_redo


def test_snapshots_share_clip_samples_but_not_notes():
    song = make_song()
    snap = snapshot(song)
    assert snap.clips[0].samples is song.clips[0].samples
    song.tracks[0].notes[0].pitch = 10
    assert snap.tracks[0].notes[0].pitch == 60
    assert not same(snap, song)


def test_undo_nothing_returns_none():
    song = make_song()
    assert History().undo(song) is None and History().redo(song) is None


def test_replace_is_one_step_and_undo_redo_hand_over_without_copies():
    song = make_song()
    history = History()
    new = Song(tempo_bpm=90.0, tracks=[Track(name="b")])
    new_tracks = new.tracks
    history.replace(song, new, "open")
    assert song.tracks is new_tracks and song.tempo_bpm == 90.0
    history.undo(song)
    assert song.tracks[0].name == "a"
    history.redo(song)
    assert song.tracks is new_tracks  # handed back, not copied


def test_undo_then_edit_then_undo_keeps_snapshots_independent():
    song = make_song()
    history = History()
    with history.edit(song, "add"):
        edit.add_note(song.tracks[0], 70, 1.0, 0.5)
    history.undo(song)
    with history.edit(song, "transpose"):
        edit.transpose(song.tracks[0], song.tracks[0].notes, 2)
    history.undo(song)
    assert [n.pitch for n in song.tracks[0].notes] == [60]

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


def test_an_edit_copies_only_the_tracks_it_changed():
    song = Song(
        tracks=[
            Track(name=f"t{i}", notes=[Note(60 + k, 80, k * 0.1, k * 0.1 + 0.1) for k in range(50)]) for i in range(4)
        ]
    )
    history = History()
    with history.edit(song, "first"):  # the first snapshot copies every track
        edit.transpose(song.tracks[0], song.tracks[0].notes, 1)
    assert history.tracks_copied == 4
    with history.edit(song, "second"):
        edit.transpose(song.tracks[2], song.tracks[2].notes[:3], 2)
    assert history.tracks_copied == 5  # only the track the first edit changed
    first, second = (step.before for step in history._undo)
    assert second.tracks[1] is first.tracks[1] and second.tracks[3] is first.tracks[3]  # shared, unchanged
    assert second.tracks[0] is not first.tracks[0]


def test_shared_snapshots_stay_independent_through_undo_redo_and_in_place_edits():
    song = Song(
        tracks=[Track(name="a", notes=[Note(60, 80, 0.0, 0.5)]), Track(name="b", notes=[Note(40, 80, 0.0, 0.5)])]
    )
    history = History()
    states = []
    for step in range(4):
        states.append(snapshot(song))
        with history.edit(song, f"step {step}"):
            edit.transpose(song.tracks[step % 2], song.tracks[step % 2].notes, 1)
    final = snapshot(song)
    for expected in reversed(states):
        history.undo(song)
        assert same(song, expected)
        song.tracks[0].notes[0].velocity = 1  # edit the live song in place, outside history
        song.tracks[0].notes[0].velocity = 80
    for _ in states:
        history.redo(song)
    assert same(song, final)
    history.undo(song)
    song.tracks[1].notes[0].pitch = 0  # an in-place edit after an undo must not reach any snapshot
    history.undo(song)
    assert same(song, states[2])
    history.redo(song)
    assert song.tracks[1].notes[0].pitch == 0  # the redo step holds the song's own (edited) contents

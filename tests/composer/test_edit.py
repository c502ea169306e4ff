import pytest

from composer import edit
from composer.song import Note, Song, Track


def make_song() -> tuple[Song, Track]:
    track = Track(notes=[Note(60, 80, 0.0, 0.5), Note(64, 80, 0.5, 1.0), Note(67, 80, 1.0, 1.5)])
    return Song(tempo_bpm=120.0, tracks=[track]), track


def test_region_select_uses_start_and_pitch():
    _, track = make_song()
    picked = edit.select(track, edit.Region(0.25, 1.25, 60, 66))
    assert [n.pitch for n in picked] == [64]


def test_add_note_clamps_and_sorts():
    _, track = make_song()
    note = edit.add_note(track, 200, -1.0, 0.0, velocity=0)
    assert (note.pitch, note.velocity, note.start_s) == (127, 1, 0.0)
    assert note.duration_s >= edit.MIN_DURATION_S
    assert track.notes[0] is note or track.notes[0].start_s == 0.0
    assert [n.start_s for n in track.notes] == sorted(n.start_s for n in track.notes)


def test_delete_by_identity_keeps_equal_twin():
    _, track = make_song()
    twin = Note(60, 80, 0.0, 0.5)
    track.notes.append(twin)
    assert edit.delete_notes(track, [twin]) == 1
    assert any(n == twin for n in track.notes)
    assert all(n is not twin for n in track.notes)


def test_move_group_keeps_shape_at_edges():
    _, track = make_song()
    applied = edit.move_notes(track, list(track.notes), -5.0, 100)
    assert applied == (0.0, 60)
    assert [n.pitch for n in track.notes] == [120, 124, 127]
    assert track.notes[0].start_s == 0.0


@pytest.mark.parametrize("semitones", [-12, -1, 1, 7])
def test_transpose(semitones):
    _, track = make_song()
    edit.transpose(track, list(track.notes), semitones)
    assert [n.pitch for n in track.notes] == [60 + semitones, 64 + semitones, 67 + semitones]


def test_resize_never_below_minimum():
    _, track = make_song()
    edit.resize_notes(track.notes[:1], -10.0)
    assert track.notes[0].duration_s == pytest.approx(edit.MIN_DURATION_S)
    edit.resize_notes(track.notes[1:2], 0.25)
    assert track.notes[1].end_s == pytest.approx(1.25)


def test_velocity_clamped():
    _, track = make_song()
    edit.change_velocity(track.notes, 100)
    assert {n.velocity for n in track.notes} == {127}
    edit.set_velocity(track.notes, -3)
    assert {n.velocity for n in track.notes} == {1}


@pytest.mark.parametrize("strength,expected", [(1.0, 0.5), (0.5, 0.55), (0.0, 0.6)])
def test_quantize_strength(strength, expected):
    song = Song(tempo_bpm=120.0, tracks=[Track(notes=[Note(60, 80, 0.6, 0.9)])])
    track = song.tracks[0]
    edit.quantize(song, track, list(track.notes), grid_beats=1.0, strength=strength)  # grid = 0.5 s
    assert track.notes[0].start_s == pytest.approx(expected)
    assert track.notes[0].duration_s == pytest.approx(0.3)


def test_quantize_follows_tempo():
    song = Song(tempo_bpm=60.0, tracks=[Track(notes=[Note(60, 80, 0.4, 0.6)])])
    edit.quantize(song, song.tracks[0], song.tracks[0].notes, grid_beats=0.25)  # grid = 0.25 s
    assert song.tracks[0].notes[0].start_s == pytest.approx(0.5)


def test_quantize_rejects_bad_values():
    song, track = make_song()
    with pytest.raises(ValueError, match="grid_beats"):
        edit.quantize(song, track, track.notes, 0.0)
    with pytest.raises(ValueError, match="strength"):
        edit.quantize(song, track, track.notes, 1.0, strength=2.0)


def test_copy_paste_relative_to_origin():
    _, track = make_song()
    clip = edit.copy_notes(track.notes[1:], origin_s=0.5)
    assert [c.start_s for c in clip] == [0.0, 0.5]
    pasted = edit.paste_notes(track, clip, at_s=4.0)
    assert [(n.pitch, n.start_s, n.end_s) for n in pasted] == [(64, 4.0, 4.5), (67, 4.5, 5.0)]
    assert len(track.notes) == 5
    pasted[0].pitch = 10  # copies, not aliases of the clipboard
    assert clip[0].pitch == 64


def test_note_at():
    _, track = make_song()
    assert edit.note_at(track, 64, 0.7) is track.notes[1]
    assert edit.note_at(track, 64, 1.0) is None


def test_set_tempo_keeps_notes_on_their_beats():
    song, track = make_song()  # 120 BPM: note 2 starts on beat 1
    edit.set_tempo(song, 60.0)
    assert song.tempo_bpm == 60.0
    assert song.s_to_beats(track.notes[1].start_s) == pytest.approx(1.0)
    assert track.notes[1].end_s == pytest.approx(2.0)
    with pytest.raises(ValueError, match="tempo"):
        edit.set_tempo(song, 0.0)

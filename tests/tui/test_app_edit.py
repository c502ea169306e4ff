"""Drive the studio with keys and the mouse; check the song changed and that undo restores it."""

from __future__ import annotations

import pytest
from app_helpers import run_async

from composer.history import snapshot
from composer.song import Note, Song, Track
from tui.app import ComposerApp

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def composer_home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path))
    return tmp_path


def three_notes() -> Song:
    notes = [Note(60, 80, 0.0, 0.5), Note(64, 80, 0.5, 1.0), Note(67, 80, 1.0, 1.5)]
    return Song(tempo_bpm=120.0, tracks=[Track(name="Lead", notes=notes)])


def pitches(app: ComposerApp, track: int = 0) -> list[int]:
    return [n.pitch for n in app.song.tracks[track].notes]


@run_async
async def test_add_note_then_undo_and_redo():
    app = ComposerApp(sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("up", "up", "enter")
        assert [(n.pitch, n.start_s) for n in app.song.tracks[0].notes] == [(62, 0.0)]
        await pilot.press("ctrl+z")
        assert app.song.tracks[0].notes == []
        await pilot.press("ctrl+y")
        assert pitches(app) == [62]
        await pilot.press("enter")  # enter on a note's start removes it
        assert pitches(app) == []


@run_async
async def test_selection_transpose_move_resize_velocity_each_one_undo_step():
    app = ComposerApp(three_notes(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        before = snapshot(app.song)
        # select from beat 0 to the cell at beat 1 (grid 1/16: 4 steps), pitches 60..64: the first two notes
        await pilot.press(*["shift+right"] * 4, *["shift+up"] * 4)
        await pilot.press("plus")
        assert pitches(app) == [61, 65, 67]
        await pilot.press("full_stop")  # later by one sixteenth = 0.125 s at 120 BPM
        assert [n.start_s for n in app.song.tracks[0].notes[:2]] == pytest.approx([0.125, 0.625])
        await pilot.press("greater_than_sign")
        assert app.song.tracks[0].notes[0].duration_s == pytest.approx(0.625)
        await pilot.press("v")
        assert [n.velocity for n in app.song.tracks[0].notes] == [88, 88, 80]
        assert len(app.history) == 4
        for _ in range(4):
            await pilot.press("ctrl+z")
        assert app.song.tracks == before.tracks


@run_async
async def test_quantize_with_strength_and_grid():
    song = Song(tempo_bpm=120.0, tracks=[Track(notes=[Note(60, 80, 0.1, 0.4)])])
    app = ComposerApp(song, sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+a", "Q")  # strength 100% -> 75%
        await pilot.press("g")  # 1/16 -> 1/32
        assert app.screen.roll.grid_beats == pytest.approx(0.125)
        await pilot.press("q")
        # grid 1/32 at 120 BPM = 0.0625 s; nearest line 0.125; 75% of the way from 0.1
        assert app.song.tracks[0].notes[0].start_s == pytest.approx(0.11875)
        await pilot.press("ctrl+z")
        assert app.song.tracks[0].notes[0].start_s == pytest.approx(0.1)


@run_async
async def test_copy_paste_cut_delete():
    app = ComposerApp(three_notes(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+a", "ctrl+c", "escape")
        roll = app.screen.roll
        assert roll.cursor_beat == pytest.approx(3.0)  # select-all leaves the cursor at the end
        await pilot.press("right", "right", "right", "right")
        await pilot.press("ctrl+v")
        notes = app.song.tracks[0].notes
        assert [(n.pitch, n.start_s) for n in notes[3:]] == [(60, 2.0), (64, 2.5), (67, 3.0)]
        for _ in range(127 - 60):
            await pilot.press("down")
        await pilot.press("delete")  # the pasted C4 is under the cursor
        assert [(n.pitch, n.start_s) for n in app.song.tracks[0].notes[3:]] == [(64, 2.5), (67, 3.0)]
        await pilot.press("ctrl+a", "ctrl+x")
        assert app.song.tracks[0].notes == []
        await pilot.press("ctrl+z")
        assert len(app.song.tracks[0].notes) == 5


@run_async
async def test_edit_without_a_note_says_why():
    app = ComposerApp(three_notes(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("down", "plus")
        assert pitches(app) == [60, 64, 67]
        assert "No note selected" in app.screen.status.message
        assert not app.history.can_undo


@run_async
async def test_tracks_add_rename_instrument_mute_solo_mix_reorder_remove():
    app = ComposerApp(three_notes(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("N")
        assert len(app.song.tracks) == 2 and app.screen.roll.track_index == 1
        await pilot.press("R")
        await pilot.pause()
        await pilot.press(*"Bass", "enter")
        await pilot.pause()
        assert app.song.tracks[1].name == "Bass"
        await pilot.press("i")
        await pilot.pause()
        await pilot.press(*"fretless", "enter")
        await pilot.pause()
        assert app.song.tracks[1].program == 35
        await pilot.press("m", "o", "0", "8")
        track = app.song.tracks[1]
        assert (track.mute, track.solo, track.volume, track.pan) == (True, True, pytest.approx(0.85), 0.1)
        await pilot.press("K")
        assert [t.name for t in app.song.tracks] == ["Bass", "Lead"]
        await pilot.press("D")
        assert [t.name for t in app.song.tracks] == ["Lead"]
        await pilot.press("ctrl+z", "ctrl+z")
        assert [t.name for t in app.song.tracks] == ["Lead", "Bass"]


@run_async
async def test_drum_kit_from_picker():
    app = ComposerApp(three_notes(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("i")
        await pilot.pause()
        await pilot.press(*"drum", "enter")
        await pilot.pause()
        assert app.song.tracks[0].is_drum and app.song.tracks[0].channel == 9


@run_async
async def test_tempo_keeps_beats_and_bad_tempo_is_a_message():
    app = ComposerApp(three_notes(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("t")
        await pilot.pause()
        await pilot.press(*"60", "enter")
        await pilot.pause()
        assert app.song.tempo_bpm == 60.0
        assert app.song.tracks[0].notes[1].start_s == pytest.approx(1.0)
        await pilot.press("t")
        await pilot.pause()
        await pilot.press(*"fast", "enter")
        await pilot.pause()
        assert app.song.tempo_bpm == 60.0
        assert app.screen.status.is_error and "fast" in app.screen.status.message
        await pilot.press("T")
        await pilot.pause()
        await pilot.press(*"6/8", "enter")
        await pilot.pause()
        assert app.song.time_signature == (6, 8)


@run_async
async def test_transport_play_stop_metronome_loop():
    app = ComposerApp(three_notes(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space")
        assert app.playback.playing
        await pilot.pause(0.3)
        await pilot.press("space")
        assert not app.playback.playing
        assert app.playback.position_s > 0.1
        assert app.screen.roll.playhead_s > 0.05
        await pilot.press("home")
        assert app.playback.position_s == 0.0
        await pilot.press("k")
        assert app.playback.metronome
        await pilot.press("l")
        assert app.playback.loop_s == (0.0, 8.0)  # 4 bars of 4/4 at 120 BPM
        await pilot.press("l")
        assert app.playback.loop_s is None


@run_async
async def test_mouse_click_moves_cursor_and_double_click_adds():
    app = ComposerApp(three_notes(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        roll = app.screen.roll
        top = roll.top_pitch
        await pilot.click("#roll", offset=(5 + 8, 1 + 2))  # 8 columns = 2 beats, 2 rows below the top
        assert roll.cursor_beat == pytest.approx(2.0) and roll.cursor_pitch == top - 2
        await pilot.double_click("#roll", offset=(5 + 8, 1 + 2))
        assert any(n.pitch == top - 2 and n.start_s == pytest.approx(1.0) for n in app.song.tracks[0].notes)


@run_async
async def test_zoom_and_scroll_follow_cursor():
    app = ComposerApp(three_notes(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        roll = app.screen.roll
        await pilot.press("right_square_bracket")
        assert roll.cols_per_beat == 8.0
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert roll.cols_per_beat == 2.0
        await pilot.press("right_curly_bracket")
        assert roll.rows_per_pitch == 2
        for _ in range(5):
            await pilot.press("pageup")
        assert roll.cursor_pitch == 120 and roll.top_pitch >= 120
        for _ in range(200):
            await pilot.press("right")
        assert roll.left_beat > 0 and roll.left_beat <= roll.cursor_beat < roll.left_beat + roll.visible_beats

"""The QWERTY piano and recording: notes sound through the live input and land in the armed track."""

from __future__ import annotations

import threading

import mido
import pytest
from app_helpers import run_async

from composer.history import same, snapshot
from composer.song import Note, Song, Track
from synth.engine.live import LiveSession
from tui.app import ComposerApp
from tui.keymap import PIANO_KEYS
from tui.playback import CurrentPlayback, SilentClock

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))


class SpyClock(SilentClock):
    """A silent clock that remembers the live notes it was asked to play."""

    def __init__(self, song: Song) -> None:
        super().__init__(song, "test clock")
        self.live: list[tuple[str, int, int]] = []

    def live_note_on(self, track_index: int, pitch: int, velocity: int) -> None:
        self.live.append(("on", track_index, pitch))

    def live_note_off(self, track_index: int, pitch: int) -> None:
        self.live.append(("off", track_index, pitch))


def two_tracks() -> Song:
    return Song(tempo_bpm=120.0, tracks=[Track(name="Lead"), Track(name="Bass", channel=1)])


def test_piano_layout_is_two_octaves_like_a_tracker():
    assert [PIANO_KEYS[k] for k in "zsxdcvgbhnjm"] == list(range(12))
    assert [PIANO_KEYS[k] for k in "q2w3er5t6y7u"] == list(range(12, 24))
    assert PIANO_KEYS["i"] == 24 and PIANO_KEYS["p"] == 28


@run_async
async def test_piano_plays_through_the_live_input_with_a_fixed_length_and_records_nothing_when_not_recording():
    app = ComposerApp(two_tracks(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        spy = SpyClock(app.song)
        app.playback = spy
        screen = app.screen
        screen.piano_beats = 0.25  # 0.125 s at 120 BPM
        await pilot.press("ctrl+k", "z", "e", "f4", "z")
        assert [e for e in spy.live if e[0] == "on"] == [("on", 0, 60), ("on", 0, 76), ("on", 0, 72)]
        assert screen.status.message == "C5 (no sound: test clock)"
        await pilot.press("f3")
        await pilot.pause(0.3)
        assert sorted(e for e in spy.live if e[0] == "off") == [("off", 0, 60), ("off", 0, 72), ("off", 0, 76)]
        assert app.song.tracks[0].notes == []
        await pilot.press("ctrl+k", "z")  # piano off: z is no note
        assert len([e for e in spy.live if e[0] == "on"]) == 3


@run_async
async def test_recording_the_piano_into_the_armed_track_is_one_undo_step():
    app = ComposerApp(two_tracks(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        before = snapshot(app.song)
        screen = app.screen
        screen.piano_beats = 0.25
        await pilot.press("tab", "A")  # arm Bass
        assert screen.armed is app.song.tracks[1]
        await pilot.press("shift+tab", "ctrl+k", "ctrl+r")  # the roll shows Lead; recording goes to Bass
        assert screen.take is not None and app.playback.playing
        await pilot.press("z")
        await pilot.pause(0.2)
        x_at_s = app.playback.position_s
        await pilot.press("x")
        await pilot.pause(0.3)
        await pilot.press("ctrl+r")
        assert screen.take is None and not app.playback.playing
        notes = app.song.tracks[1].notes
        assert [n.pitch for n in notes] == [60, 62] and app.song.tracks[0].notes == []
        assert notes[1].start_s - notes[0].start_s >= 0.2 and notes[1].start_s == pytest.approx(x_at_s, abs=0.1)
        assert 0.125 <= notes[0].duration_s < 0.2 + 0.125, "a piano note lasts its fixed length"
        await pilot.press("ctrl+z")
        assert same(app.song, before)


@run_async
async def test_midi_keyboard_notes_land_in_the_armed_track():
    app = ComposerApp(two_tracks(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        spy = SpyClock(app.song)
        app.playback = spy
        app.live = LiveSession(CurrentPlayback(lambda: app.playback))
        before = snapshot(app.song)
        await pilot.press("tab", "A", "ctrl+r")

        def keyboard() -> None:  # the MIDI callback thread
            app.live.handle(mido.Message("note_on", note=64, velocity=70))
            app.live.handle(mido.Message("note_on", note=67, velocity=80))
            app.live.handle(mido.Message("note_off", note=64))

        thread = threading.Thread(target=keyboard)
        thread.start()
        thread.join()
        await pilot.pause(0.1)
        assert ("on", 1, 64) in spy.live, "monitoring plays the armed track's instrument"
        assert [n.pitch for n in app.screen.roll.ghost_notes] == [64], "the take shows while recording"
        await pilot.press("space")  # stopping the transport ends the take; the held G ends now
        notes = app.song.tracks[1].notes
        assert sorted((n.pitch, n.velocity) for n in notes) == [(64, 70), (67, 80)]
        assert app.live.recorder is None
        await pilot.press("ctrl+z")
        assert same(app.song, before)


@run_async
async def test_recording_with_nothing_played_changes_nothing():
    app = ComposerApp(Song(tracks=[Track(name="T", notes=[Note(60, 90, 0.0, 0.5)])]), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        history = len(app.history)
        await pilot.press("ctrl+r")
        assert app.screen.armed is app.song.tracks[0]  # recording with none armed arms the track shown
        await pilot.press("ctrl+r")
        assert len(app.history) == history and "nothing was played" in app.screen.status.message

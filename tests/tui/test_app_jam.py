"""Jam mode in the app (H) with a tiny random transformer: the QWERTY piano or a MIDI keyboard plays a phrase,
the answer comes on the Answer track, never while a key is held; stopping keeps both parts as one undo step."""

from __future__ import annotations

import asyncio
import functools
import threading
import time

import mido
import pytest
import torch

from composer.history import same, snapshot
from composer.model.candidates import AISettings
from composer.model.checkpoint import save_transformer
from composer.model.model import MusicTransformer, TransformerConfig
from composer.song import Song, Track
from composer.tokens import VOCAB_SIZE
from tui.app import ComposerApp
from tui.jam_link import FLUTE
from tui.playback import SilentClock

SIZE = (120, 40)
READY_S = 60.0  # the model loads and warms up in a worker; generous for a loaded 2-core machine
ANSWER_S = 30.0
pytestmark = pytest.mark.timeout(240)


def run_async(test):
    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COMPOSER_TRANSFORMER", raising=False)


@pytest.fixture
def tiny_model(tmp_path) -> str:
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=64, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    path = tmp_path / "tiny.safetensors"
    save_transformer(MusicTransformer(cfg).eval(), path)
    return str(path)


class SpyClock(SilentClock):
    """A silent clock that remembers the live notes it was asked to play (from any thread)."""

    def __init__(self, song: Song) -> None:
        super().__init__(song, "test clock")
        self.live: list[tuple[str, int, int]] = []
        self._lock = threading.Lock()

    def live_note_on(self, track_index: int, pitch: int, velocity: int) -> None:
        with self._lock:
            self.live.append(("on", track_index, pitch))

    def live_note_off(self, track_index: int, pitch: int) -> None:
        with self._lock:
            self.live.append(("off", track_index, pitch))

    def ons(self, track_index: int) -> list[int]:
        with self._lock:
            return [p for kind, t, p in self.live if kind == "on" and t == track_index]


async def wait_until(pilot, condition, timeout_s: float, what: str, seen: list | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if seen is not None:
            seen.append(pilot.app.screen.status.state)
        assert time.monotonic() < deadline, f"{what} not within {timeout_s:g} s: {pilot.app.screen.status.message}"
        await pilot.pause(0.05)


def keyboard(app, messages) -> None:
    """A MIDI keyboard (its own thread, as rtmidi's callback): each message through the app's MIDI routing."""
    for msg, wait_s in messages:
        app.midi_message(msg, time.perf_counter())
        time.sleep(wait_s)


async def jam_ready(app, pilot) -> None:
    await pilot.press("H")
    assert app.jam is not None and app.screen.jam is app.jam
    await wait_until(pilot, lambda: app.jam.state == "listening", READY_S, "the jam ready")


@run_async
async def test_the_piano_plays_a_phrase_the_answer_comes_on_its_track_and_one_undo_removes_the_jam(tiny_model):
    song = Song(tempo_bpm=120.0, tracks=[Track(name="Lead", program=0)])
    app = ComposerApp(song, sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        spy = SpyClock(app.song)
        app.playback = spy
        screen = app.screen
        screen.ai.settings = AISettings(seed=3)
        screen.piano_beats = 0.25  # 0.125 s at 120 BPM
        before = snapshot(app.song)
        history = len(app.history)
        await pilot.press("ctrl+k")
        await jam_ready(app, pilot)
        assert [t.name for t in app.song.tracks] == ["Lead", "Answer"] and app.song.tracks[1].program == FLUTE
        assert "♫ jam listening" in screen.status.state
        session = app.jam.session
        states: set[str] = set()
        sampling = threading.Event()

        def sample_states() -> None:  # the jam's state, as often as the status line could show it and more
            while not sampling.is_set():
                states.add(session.state)
                time.sleep(0.002)

        sampler = threading.Thread(target=sample_states, daemon=True)
        sampler.start()
        for key in "zxcvbnm":  # C D E F G A B, a note every 0.15 s (or slower, on a loaded machine)
            await pilot.press(key)
            await pilot.pause(0.15)
        assert spy.ons(0) == [60, 62, 64, 65, 67, 69, 71], "the jam plays the player's notes on the player's track"
        await wait_until(pilot, lambda: session.latencies_ms, ANSWER_S, "an answer")
        await wait_until(pilot, lambda: "last answer" in screen.status.state, 5.0, "the latency shown")
        await wait_until(pilot, lambda: {"thinking", "answering"} <= states, ANSWER_S, f"the states ({states})")
        sampling.set()
        sampler.join()
        assert spy.ons(1), "the answer sounds on the Answer track"
        await pilot.press("H")
        assert app.jam is None and screen.jam is None
        lead, answer = app.song.tracks
        assert [n.pitch for n in lead.notes] == [60, 62, 64, 65, 67, 69, 71]
        assert lead.notes[0].start_s == pytest.approx(0.0), "the jam lands at the cursor where it began"
        assert answer.name == "Answer" and len(answer.notes) >= 1
        assert min(n.start_s for n in answer.notes) > lead.notes[0].end_s, "the answer comes after the player's notes"
        assert len(app.history) == history + 1 and app.history.undo_label.startswith("jam (7 notes played")
        await pilot.press("ctrl+z")
        assert same(app.song, before), "one undo removes the jam's notes and its Answer track"


@run_async
async def test_a_midi_keyboard_jams_the_answer_waits_while_a_key_is_held_and_escape_stops(tiny_model):
    song = Song(tempo_bpm=120.0, tracks=[Track(name="Keys", program=0), Track(name="Answer", program=40, channel=1)])
    app = ComposerApp(song, sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        spy = SpyClock(app.song)
        app.playback = spy
        screen = app.screen
        screen.ai.settings = AISettings(seed=11)
        before = snapshot(app.song)
        await jam_ready(app, pilot)
        assert len(app.song.tracks) == 2, "the song's Answer track answers"
        session = app.jam.session

        phrase = [(mido.Message("note_on", note=60, velocity=90), 0.1)]  # C held under the phrase
        for pitch in (64, 67, 72, 67):
            phrase += [
                (mido.Message("note_on", note=pitch, velocity=80), 0.12),
                (mido.Message("note_off", note=pitch), 0.03),
            ]
        thread = threading.Thread(target=keyboard, args=(app, phrase))
        thread.start()
        while thread.is_alive():
            await pilot.pause(0.02)
        held_at = time.monotonic()
        while time.monotonic() - held_at < 2.0:  # well past the gap: the held key keeps the answer back
            await pilot.pause(0.05)
            assert session.answers == [] and app.jam.state == "listening"
        assert spy.ons(1) == []
        app.midi_message(mido.Message("note_off", note=60), time.perf_counter())
        await wait_until(pilot, lambda: session.latencies_ms, ANSWER_S, "an answer after the release")
        assert spy.ons(1), "the answer sounds on the Answer track"
        assert session.answers[0].gap_end_s > held_at - 0.5, "the gap counts from the release"
        await wait_until(pilot, lambda: app.jam.state == "listening", ANSWER_S, "the answer finished")
        await pilot.press("escape")
        assert app.jam is None
        keys, answer = app.song.tracks
        assert sorted(n.pitch for n in keys.notes) == [60, 64, 67, 67, 72]
        assert answer.program == 40 and answer.notes
        assert all(n.start_s >= keys.notes[0].end_s - 1e-6 for n in answer.notes), "nothing answered under the C"
        await pilot.press("ctrl+z")
        assert same(app.song, before)


@run_async
async def test_while_jamming_edits_wait_and_a_jam_with_nothing_played_changes_nothing(tiny_model):
    app = ComposerApp(Song(tracks=[Track(name="Lead")]), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        before = snapshot(app.song)
        history = len(app.history)
        await jam_ready(app, pilot)
        await pilot.press("enter", "N")  # add a note, add a track: not while jamming
        assert [t.name for t in app.song.tracks] == ["Lead", "Answer"] and app.song.tracks[0].notes == []
        await pilot.press("H")
        assert same(app.song, before) and len(app.history) == history
        assert "nothing was played" in app.screen.status.message


@pytest.mark.jack
@run_async
async def test_with_sound_the_answer_sounds_through_the_apps_engine(jack_server, tiny_model):
    """The app's own engine on the JACK dummy server (as on a sound card): a MIDI keyboard's phrase goes through
    the app's MIDI routing into the jam, and the answer sounds on the Answer track's synth."""
    from tui.playback import EnginePlayback

    app = ComposerApp(Song(tempo_bpm=120.0, tracks=[Track(name="Lead")]), sound=True, midi=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.playback, EnginePlayback), READY_S, "the engine")
        engine = app.playback.engine
        app.screen.ai.settings = AISettings(seed=3)
        await jam_ready(app, pilot)
        session = app.jam.session
        phrase = []
        for pitch in (60, 62, 64, 65, 67, 69, 71, 72):
            phrase += [
                (mido.Message("note_on", note=pitch, velocity=90), 0.12),
                (mido.Message("note_off", note=pitch), 0.03),
            ]
        thread = threading.Thread(target=keyboard, args=(app, phrase))
        thread.start()
        sounded: list[bool] = []

        def answer_sounds() -> bool:
            synths, peaks = engine.synths, list(engine.track_peaks)
            sounded.append(len(synths) > 1 and (synths[1].active_voices > 0 or (len(peaks) > 1 and peaks[1] > 1e-4)))
            return bool(session.latencies_ms) and any(sounded)

        await wait_until(pilot, answer_sounds, ANSWER_S, "the answer sounding on its track")
        thread.join()
        await pilot.press("H")
        lead, answer = app.song.tracks
        assert [n.pitch for n in lead.notes] == [60, 62, 64, 65, 67, 69, 71, 72] and answer.notes
        app.finish_session()

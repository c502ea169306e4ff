"""The AI panel with a tiny random transformer: notes stream into the roll, keep / discard / cancel."""

from __future__ import annotations

import asyncio
import time

import pytest
from app_helpers import melody, run_async, settle
from app_helpers import save_tiny_model as save_model

from composer.history import same, snapshot
from composer.model.candidates import AISettings
from composer.song import Song, Track
from tui.app import ComposerApp

SIZE = (120, 40)
MAX_LAG_S = 0.100


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COMPOSER_TRANSFORMER", raising=False)


@pytest.fixture
def tiny_model(tmp_path) -> str:
    return save_model(tmp_path / "tiny.safetensors")


@run_async
async def test_generate_streams_into_the_roll_and_keep_is_one_undo_step(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        screen, before = app.screen, snapshot(app.song)
        ai = screen.ai
        ai.settings = AISettings(bars=16, seed=3)
        seen: list[tuple[int, int, bool]] = []  # (candidate notes, notes in the roll, still generating)
        arrived = ai._arrived

        def spy(cancel, index, notes, progress):
            arrived(cancel, index, notes, progress)
            seen.append((len(ai.candidates[index]), len(screen.roll.ghost_notes), ai.generating))

        ai._arrived = spy
        await pilot.press("right", "right", "G")
        await settle(app, pilot)
        assert len(seen) >= 3, "notes must arrive in several batches"
        assert any(roll > 0 and busy for _, roll, busy in seen), "notes must reach the roll while sampling"
        counts = [n for n, _, _ in seen]
        assert counts == sorted(counts) and counts[-1] > counts[0]
        candidate = list(ai.shown)
        assert candidate and screen.roll.ghost_notes == candidate
        assert min(n.start_s for n in candidate) >= app.song.beats_to_s(0.5) - 1e-9  # placed at the cursor
        assert same(app.song, before), "a candidate is not in the song until kept"

        await pilot.press("enter")
        assert len(app.song.tracks[0].notes) == len(before.tracks[0].notes) + len(candidate)
        assert screen.roll.ghost_notes == [] and not ai.candidates
        await pilot.press("ctrl+z")
        assert same(app.song, before), "one undo step removes the whole candidate"


@run_async
async def test_continue_then_discard_leaves_the_song_unchanged(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        before = snapshot(app.song)
        ai = app.screen.ai
        ai.settings = AISettings(bars=4, seed=5)
        for _ in range(32):  # the cursor to beat 8 (4 s), after the melody
            await pilot.press("right")
        await pilot.press("C")
        await settle(app, pilot)
        assert ai.request is not None and len(ai.request.primer) == 8
        assert ai.shown and min(n.start_s for n in ai.shown) >= 4.0 - 1e-9
        await pilot.press("escape")
        assert same(app.song, before) and not ai.candidates and app.screen.roll.ghost_notes == []
        assert "Discarded 1 candidate" in app.screen.status.message


@run_async
async def test_variations_are_browsed_and_the_shown_one_is_kept(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        ai = app.screen.ai
        ai.settings = AISettings(bars=4, seed=11, variations=3)
        await pilot.press("W")
        await settle(app, pilot)
        assert len(ai.candidates) == 3 and ai.request.seeds == [11, 12, 13]
        await pilot.press("n")
        assert ai.current == 1 and app.screen.roll.ghost_notes == ai.candidates[1]
        kept = list(ai.candidates[1])
        await pilot.press("enter")
        track = app.song.tracks[0]
        assert all(any(n == m for m in track.notes) for n in kept)
        await pilot.press("r")  # no candidate any more: 'r' does nothing to the song
        assert not ai.generating


@run_async
async def test_regenerate_samples_new_seeds(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        ai = app.screen.ai
        ai.settings = AISettings(bars=4, seed=20, variations=2)
        await pilot.press("W")
        await settle(app, pilot)
        await pilot.press("r")
        await settle(app, pilot)
        assert ai.request.seeds == [22, 23]


@run_async
async def test_escape_stops_sampling(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        ai = app.screen.ai
        ai.settings = AISettings(bars=64, seed=1, variations=8)  # far more than a moment's work
        await pilot.press("W")
        deadline = time.monotonic() + 30
        while not (ai.candidates and ai.candidates[0]) and time.monotonic() < deadline:
            await pilot.pause(0.01)
        await pilot.press("escape")
        stopped_at = time.monotonic()
        await settle(app, pilot)
        assert time.monotonic() - stopped_at < 2.0
        assert not ai.generating
        assert len(ai.candidates) < 8, "stopped before sampling every candidate"
        assert "Stopped early" in app.screen.status.message


@run_async
async def test_without_weights_the_panel_says_why(tmp_path):
    app = ComposerApp(melody(), sound=False, model_path=tmp_path / "none.safetensors")
    async with app.run_test(size=SIZE) as pilot:
        before = snapshot(app.song)
        await pilot.press("C")
        await pilot.pause()
        assert app.screen.status.message.startswith("AI unavailable: no weights")
        assert not app.screen.ai.generating and same(app.song, before)


@run_async
async def test_model_path_from_the_environment(tiny_model, monkeypatch):
    monkeypatch.setenv("COMPOSER_TRANSFORMER", tiny_model)
    app = ComposerApp(melody(), sound=False)
    async with app.run_test(size=SIZE):
        assert app.screen.ai.ready and str(app.screen.ai.weights) == tiny_model


def test_generation_never_blocks_the_event_loop(tmp_path):
    """A model big enough to take seconds samples in the worker; a 10 ms UI timer keeps ticking."""
    path = save_model(tmp_path / "small.safetensors", max_len=256, n_layer=2, n_head=4, d_model=64, d_ff=128)

    async def run() -> tuple[float, float, int]:
        app = ComposerApp(melody(), sound=False, model_path=path)
        async with app.run_test(size=SIZE) as pilot:
            ai = app.screen.ai
            ai.settings = AISettings(bars=48, seed=7)  # 96 s at 120 BPM
            ticks: list[float] = []
            timer = app.set_interval(0.01, lambda: ticks.append(time.perf_counter()))
            await pilot.pause(0.1)
            started = time.perf_counter()
            await pilot.press("G")
            await app.workers.wait_for_complete()
            busy_s = time.perf_counter() - started
            await pilot.pause(0.05)
            timer.stop()
            during = [t for t in ticks if t >= started - 0.05]
            gaps = [b - a for a, b in zip(during, during[1:], strict=False)]
            return max(gaps), busy_s, len(ai.shown)

    worst_gap_s, busy_s, n_notes = asyncio.run(run())
    assert n_notes > 0
    assert busy_s > 0.3, "the work must be long enough to matter"
    assert worst_gap_s < MAX_LAG_S, f"event loop blocked {worst_gap_s * 1000:.0f} ms"


@run_async
async def test_listening_hands_the_candidate_to_the_engine_as_a_preview(tiny_model):
    from tui.playback import SilentClock

    class Spy(SilentClock):
        def __init__(self, song) -> None:
            super().__init__(song, "test clock")
            self.previews: list = []
            self.started = 0

        def play(self, count_in_bars: int = 0) -> None:
            self.started += 1
            super().play(count_in_bars)

        def set_preview(self, track_index, notes=()) -> None:
            self.previews.append(None if track_index is None else (track_index, list(notes)))

    app = ComposerApp(Song(tempo_bpm=240.0, tracks=[Track(name="T")]), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        spy = Spy(app.song)
        app.playback = spy
        ai = app.screen.ai
        ai.settings = AISettings(bars=1, seed=2)  # 1 s at 240 BPM
        await pilot.press("G")
        await settle(app, pilot)
        candidate = list(ai.shown)
        await pilot.press("a")
        assert spy.started == 1, app.screen.status.message
        # previews[0], not [-1]: on a loaded machine the 1-s audition may already have ended by now
        assert spy.previews[0] == (0, candidate), "the engine schedules the candidate, not the UI timer"
        deadline = time.monotonic() + 5
        while spy.playing and time.monotonic() < deadline:
            await pilot.pause(0.05)
        assert not spy.playing, "the audition stops after the candidate"
        assert spy.previews[-1] is None, "and the preview ends with it"
        assert ai.shown == candidate and app.song.tracks[0].notes == [], "listening keeps nothing"


@run_async
async def test_listening_through_the_engine_sounds_the_candidate_on_its_track(tiny_model):
    """The real engine (rendered here block by block, as the render thread would): the candidate's track
    sounds while the song itself holds no notes, and after the audition the preview is gone."""
    import numpy as np

    from synth.engine.engine import Engine
    from tui.playback import EnginePlayback

    class StubOutput:
        device_name, ahead_latency_s, output_latency_s, underflows, underruns = "Test", 0.0, 0.0, 0, 0
        render_error, failed = None, False

        def close(self) -> None:
            pass

    song = Song(tempo_bpm=240.0, tracks=[Track(name="T")])
    app = ComposerApp(song, sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        engine = Engine(app.song, 48000, 512)
        app.playback = EnginePlayback(engine, StubOutput())
        ai = app.screen.ai
        ai.settings = AISettings(bars=1, seed=2)
        await pilot.press("G")
        await settle(app, pilot)
        candidate = list(ai.shown)
        await pilot.press("a")
        assert engine.preview is not None and list(engine.preview[1]) == candidate
        peaks = []
        deadline = time.monotonic() + 20
        while engine.playing and time.monotonic() < deadline:
            block = engine.render_block(512)
            peaks.append(float(np.abs(block).max()))
            await pilot.pause(0)
        assert not engine.playing and engine.preview is None, app.screen.status.message
        assert max(peaks) > 0.01, "the candidate was heard"
        assert app.song.tracks[0].notes == [], "listening keeps nothing"

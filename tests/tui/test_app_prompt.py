"""Prompted audio tracks in the app: the dialog, the worker, the track list, undo, regeneration, errors.

Tiny random diffusion and vocoder models under $COMPOSER_MODELS; the real text encoder.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest
from app_helpers import run_async
from prompt_fixtures import save_tiny_prompt_models
from textual.widgets import Checkbox, Input, Label

from composer.song import Note, Song, Track
from tui.app import ComposerApp
from tui.screens.prompt_dialog import PromptDialog
from tui.widgets.status_bar import StatusBar
from tui.widgets.tracks_panel import TracksPanel

SIZE = (120, 40)
MAX_LAG_S = 0.250  # the generation takes seconds: a loop it blocked would lag that long, not a few frames

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    save_tiny_prompt_models(folder)
    return folder


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch, models):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COMPOSER_MODELS", str(models))


def song() -> Song:
    return Song(tracks=[Track(name="Piano", notes=[Note(60, 80, 0.0, 1.0)])])


async def open_dialog(pilot, **fields) -> PromptDialog:
    await pilot.press("ctrl+t")
    await pilot.pause()
    dialog = pilot.app.screen
    assert isinstance(dialog, PromptDialog)
    for name, value in fields.items():
        if name == "loop":
            dialog.query_one("#pd-loop", Checkbox).value = value
        else:
            dialog.query_one(f"#pd-{name}", Input).value = str(value)
    return dialog


async def submit(pilot, accepted: bool = True) -> None:
    """Enter in the dialog; when it is `accepted`, wait for the generation (the dialog's worker ends with it)."""
    pilot.app.screen.query_one("#pd-prompt", Input).focus()
    await pilot.press("enter")
    await pilot.pause()
    if accepted:
        await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def status(app) -> StatusBar:
    return app.screen.query_one(StatusBar)


def track_list(app) -> str:
    return app.screen.query_one(TracksPanel).render().plain


@run_async
async def test_a_prompted_track_is_added_shown_undone_and_made_again():
    app = ComposerApp(song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_dialog(pilot, prompt="slow cello melody", seconds=1.0, seed=5, guidance=2.5, steps=2, loop=True)
        await pilot.press("escape", "escape")  # the dialog took the first one; nothing happened
        assert app.song.clips == []
        await open_dialog(pilot, prompt="slow cello melody", seconds=1.0, seed=5, guidance=2.5, steps=2, loop=True)
        await submit(pilot)
        assert len(app.song.clips) == 1
        clip = app.song.clips[0]
        assert (clip.prompt, clip.seed, clip.steps, clip.guidance, clip.loop) == ("slow cello melody", 5, 2, 2.5, True)
        assert clip.samples.shape == (24000,) and clip.sample_rate == 24000 and clip.start_s == 0.0
        assert "“slow cello melody”" in track_list(app) and "seed 5 loop" in track_list(app)
        assert "Audio track A1" in status(app).message and not status(app).is_error
        assert app.song.duration_s == pytest.approx(1.0)
        assert app.screen._prompt_last.bpm == app.song.tempo_bpm, "made at the song's tempo"
        first = clip.samples

        await pilot.press("E")  # again, with the next seed
        await app.workers.wait_for_complete()
        await pilot.pause()
        again = app.song.clips[0]
        assert again.seed == 6 and again.samples.shape == first.shape and not np.allclose(again.samples, first)
        assert (again.prompt, again.steps, again.guidance, again.loop) == ("slow cello melody", 2, 2.5, True)
        assert "seed 6" in track_list(app)

        await pilot.press("ctrl+z")
        assert app.song.clips[0].seed == 5 and app.song.clips[0].samples is first
        await pilot.press("ctrl+z")
        assert app.song.clips == [] and "“slow cello" not in track_list(app)


@run_async
async def test_a_bad_request_is_named_in_the_dialog_which_stays():
    app = ComposerApp(song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        for fields, message in (
            ({"prompt": "  "}, "prompt: is empty"),
            ({"prompt": "cello", "seconds": 0}, "seconds: expected 0.1 to 30 seconds, got 0"),
            ({"prompt": "cello", "seconds": "long"}, "seconds: expected a number, got 'long'"),
            ({"prompt": "cello", "guidance": "nan"}, "guidance: expected a finite number"),
            ({"prompt": "cello", "steps": 500}, "steps: expected a whole number from 1 to 100"),
        ):
            dialog = await open_dialog(pilot, **fields)
            await submit(pilot, accepted=False)
            assert app.screen is dialog
            assert message in str(dialog.query_one("#pd-hint", Label).render())
            await pilot.press("escape")
            await pilot.pause()
        assert app.song.clips == []


@run_async
async def test_missing_weights_are_named_in_the_dialog(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_MODELS", str(tmp_path / "none"))
    app = ComposerApp(song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        dialog = await open_dialog(pilot, prompt="fast drum groove", seconds=1)
        await submit(pilot, accepted=False)
        hint = str(dialog.query_one("#pd-hint", Label).render())
        assert str(tmp_path / "none" / "diffusion" / "model.safetensors") in hint and "no diffusion weights" in hint
        assert app.song.clips == []


@run_async
async def test_a_failed_generation_is_one_line_and_the_song_stays(tmp_path, monkeypatch, models):
    """Weights that exist but do not fit together fail in the worker: one status line, nothing added."""
    import shutil

    from prompt_fixtures import tiny_vocoder

    from synth.instruments.neural.neural_checkpoint import save_neural

    folder = tmp_path / "odd"
    shutil.copytree(models / "diffusion", folder / "diffusion")
    save_neural(tiny_vocoder(sample_rate=16000), folder / "vocoder" / "model.safetensors")
    monkeypatch.setenv("COMPOSER_MODELS", str(folder))
    app = ComposerApp(song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_dialog(pilot, prompt="soft organ chords", seconds=1, steps=1)
        await submit(pilot)
        bar = status(app)
        assert bar.is_error and bar.message.startswith("No audio track: ") and "16000 Hz" in bar.message
        assert "\n" not in bar.message
        assert app.song.clips == []
        assert app.screen.prompt_busy is False
        await pilot.press("E")
        assert "No audio track made from a prompt yet" in status(app).message


@run_async
async def test_generation_runs_in_a_thread_and_the_ui_keeps_ticking():
    app = ComposerApp(song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        ticks: list[float] = []
        timer = app.set_interval(0.01, lambda: ticks.append(time.perf_counter()))
        await open_dialog(pilot, prompt="fast drum groove", seconds=30, steps=100)
        app.screen.query_one("#pd-prompt", Input).focus()
        started = time.perf_counter()
        await pilot.press("enter")
        for _ in range(200):  # the worker starts within a few frames (later on a loaded machine)
            if app.screen.prompt_busy:
                break
            await asyncio.sleep(0.01)
        assert app.screen.prompt_busy, (status(app).message, [n.message for n in app._notifications])
        assert "Generating “fast drum groove”" in status(app).message
        # One at a time: neither the dialog nor a regeneration starts. (The actions are called, not keyed:
        # the pilot's key presses wait for the app to be idle, which it is not until the clip is made.)
        app.screen.action_prompt_track()
        app.screen.action_regenerate_clip()
        await asyncio.sleep(0.05)
        assert app.screen.prompt_busy and not isinstance(app.screen, PromptDialog)
        assert sum("one audio track at a time" in n.message for n in app._notifications) == 2
        await app.workers.wait_for_complete()
        busy_s = time.perf_counter() - started
        await pilot.pause(0.05)
        timer.stop()
        assert len(app.song.clips) == 1 and app.song.clips[0].samples.shape == (720000,)
        during = [t for t in ticks if t >= started - 0.05]
        worst_gap_s = max(b - a for a, b in zip(during, during[1:], strict=False))
    assert busy_s > 0.2, "the work must be long enough to matter"
    assert worst_gap_s < MAX_LAG_S, f"event loop blocked {worst_gap_s * 1000:.0f} ms"

"""The engine's one-line notices (neural synth unavailable, overload) reach the app's notifications."""

from __future__ import annotations

import asyncio
import threading

from composer.song import Note, Song, Track
from synth.engine.engine import Engine
from tui.app import ComposerApp, EngineNotice

SIZE = (120, 40)


def test_engine_notices_from_another_thread_show_in_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COMPOSER_MODELS", str(tmp_path / "no-models"))
    song = Song(tracks=[Track("Lead", 0, synth="neural", notes=[Note(60, 100, 0.0, 0.5)])])

    async def scenario() -> list[str]:
        app = ComposerApp(song=song, sound=False)
        async with app.run_test(size=SIZE) as pilot:
            # The audio thread builds the engine; its fallback notice is posted, never awaited.
            worker = threading.Thread(
                target=lambda: Engine(song, on_notice=lambda line: app.post_message(EngineNotice(line)))
            )
            worker.start()
            worker.join()
            await pilot.pause()
            await pilot.pause()
            return [n.message for n in app._notifications]

    messages = asyncio.run(scenario())
    assert any("neural synth unavailable, playing with the DSP synth" in m and "no renderer weights" in m
               for m in messages)  # fmt: skip


def test_y_switches_the_track_to_the_neural_synth_and_back_with_undo(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))
    song = Song(tracks=[Track("Lead", 0, notes=[Note(60, 100, 0.0, 0.5)]), Track("Kit", 0, is_drum=True, channel=9)])

    async def scenario() -> list[str]:
        app = ComposerApp(song=song, sound=False)
        seen = []
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("Y")
            await app.workers.wait_for_complete()
            await pilot.pause()
            seen.append(song.tracks[0].synth)
            await pilot.press("u")  # undo
            await pilot.pause()
            seen.append(song.tracks[0].synth)
            await pilot.press("ctrl+y")  # redo
            await pilot.pause()
            seen.append(song.tracks[0].synth)
            await pilot.press("Y")
            await pilot.pause()
            seen.append(song.tracks[0].synth)
            await pilot.press("tab", "Y")  # the drum track stays with the DSP kit
            await app.workers.wait_for_complete()
            await pilot.pause()
            seen.append(song.tracks[1].synth)
        return seen

    assert asyncio.run(scenario()) == ["neural", "dsp", "neural", "dsp", "dsp"]


def test_engine_prepares_the_neural_models_off_the_audio_thread(tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "synth"))
    from neural_fixtures import save_tiny_models

    monkeypatch.setenv("COMPOSER_MODELS", str(save_tiny_models(tmp_path / "models")))
    track = Track("Lead", 0, notes=[Note(60, 100, 0.0, 0.5)])
    engine = Engine(Song(tracks=[track]), sample_rate=48000)
    engine.prepare_synth(track, "neural")
    assert track.synth == "dsp"  # nothing switched yet
    assert engine._neural_factory is not None and engine._neural_factory._models is not None  # loaded
    track.synth = "neural"
    engine.render_block(256)  # the render thread makes the synth from the loaded models
    assert type(engine.synths[0]).__name__ == "NeuralSynth"

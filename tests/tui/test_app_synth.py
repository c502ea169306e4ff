"""The engine's one-line notices (neural synth unavailable, overload) reach the app's notifications."""

from __future__ import annotations

import asyncio
import threading

from composer.song import Note, Song, Track
from synth.engine import Engine
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

"""What the app's pilot tests share: an async test body run on its own event loop, a one-track song, and
typing an answer into a prompt screen."""

from __future__ import annotations

import asyncio
import functools

from composer.song import Note, Song, Track


def run_async(test):
    """Run an async test body on a fresh event loop (no asyncio plugin needed)."""

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        return asyncio.run(test(*args, **kwargs))

    return wrapper


def song_of(*pitches: int) -> Song:
    """One track "T" playing `pitches` in turn, half a second apart."""
    return Song(tracks=[Track(name="T", notes=[Note(p, 90, i * 0.5, i * 0.5 + 0.4) for i, p in enumerate(pitches)])])


async def answer(pilot, text: str) -> None:
    """Type `text` into the prompt screen on show, press Enter, and wait for what it started."""
    await pilot.pause()
    await pilot.press(*text, "enter")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()

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


def melody() -> Song:
    """One track "Lead" at 120 BPM: eight notes a fourth apart, half a second each."""
    notes = [Note(60 + (i * 5) % 12, 90, i * 0.5, i * 0.5 + 0.4) for i in range(8)]
    return Song(tempo_bpm=120.0, tracks=[Track(name="Lead", notes=notes)])


async def settle(app, pilot) -> None:
    """Wait for the app's workers (the AI's sampling), then two pauses for what they posted."""
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


def save_tiny_model(path, **config) -> str:
    """A tiny untrained transformer saved at `path`, the same every run (seeded): what it samples for a seed is
    fixed too. `config` overrides its TransformerConfig."""
    import torch

    from composer.model.checkpoint import save_transformer
    from composer.model.model import MusicTransformer, TransformerConfig
    from composer.tokens import VOCAB_SIZE

    cfg = dict(vocab_size=VOCAB_SIZE, max_len=64, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0) | config
    torch.manual_seed(0)
    save_transformer(MusicTransformer(TransformerConfig(**cfg)), path)
    return str(path)

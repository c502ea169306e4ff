"""SVG snapshots of the studio at 120x40 (no clock-dependent text: sound is off, the song is fixed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from composer.song import Note, Song, Track
from tui.app import ComposerApp

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path))
    monkeypatch.delenv("COMPOSER_THEME", raising=False)
    # the AI line must not depend on whether this machine has trained weights
    monkeypatch.setattr("tui.widgets.ai_panel.WEIGHTS", tmp_path / "models" / "transformer" / "model.safetensors")
    # nor the help's last line on the length of pytest's temporary folder (pytest-99 to pytest-100 wrapped it)
    monkeypatch.setattr("tui.screens.help.config_path", lambda: Path("/home/you/.config/composer/keys.toml"))


def demo_song() -> Song:
    melody = [60, 62, 64, 65, 67, 65, 64, 62, 60, 64, 67, 72]
    lead = Track(name="Lead", program=73, notes=[Note(p, 90, i * 0.25, i * 0.25 + 0.2) for i, p in enumerate(melody)])
    bass = Track(name="Bass", program=33, channel=1, notes=[Note(36, 100, i * 1.0, i * 1.0 + 0.9) for i in range(6)])
    return Song(tempo_bpm=120.0, tracks=[lead, bass])


def studio() -> ComposerApp:
    return ComposerApp(demo_song(), sound=False)


def test_main_screen(screen_matches):
    screen_matches(studio, terminal_size=SIZE)


def test_main_screen_with_selection(screen_matches):
    keys = ["shift+right"] * 7 + ["shift+up"] * 4 + ["plus"]
    screen_matches(studio, press=keys, terminal_size=SIZE)


def test_selected_audio_clip_and_its_lane(screen_matches):
    """A loop clip selected (tab past the last track) and repeated once more: its lane under the roll."""
    import numpy as np

    from composer.song import AudioClip

    def studio_with_clip() -> ComposerApp:
        t = np.arange(36000) / 24000
        swell = (0.5 * np.sin(2 * np.pi * 220 * t) * np.linspace(0, 1, t.size) ** 2).astype(np.float32)
        song = demo_song()
        song.clips.append(
            AudioClip(name="swell", samples=swell, sample_rate=24000, start_s=1.0, prompt="a swell", seed=3, loop=True)
        )
        return ComposerApp(song, sound=False)

    screen_matches(studio_with_clip, press=["tab", "tab", "plus"], terminal_size=SIZE)


def test_help_overlay(screen_matches):
    screen_matches(studio, press=["question_mark"], terminal_size=SIZE)


def test_ai_candidate_and_armed_track(screen_matches, tmp_path):
    """A candidate from a tiny seeded model drawn over the track; the Bass track armed."""
    import torch

    from composer.model.candidates import AISettings
    from composer.model.checkpoint import save_transformer
    from composer.model.model import MusicTransformer, TransformerConfig
    from composer.tokens import VOCAB_SIZE

    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=64, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    save_transformer(MusicTransformer(cfg), tmp_path / "tiny.safetensors")

    def studio_with_model() -> ComposerApp:
        return ComposerApp(demo_song(), sound=False, model_path=tmp_path / "tiny.safetensors")

    async def generate(pilot) -> None:
        pilot.app.screen.ai.settings = AISettings(bars=2, seed=1)
        await pilot.press("tab", "A", "shift+tab", "G")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.pause()

    screen_matches(studio_with_model, run_before=generate, terminal_size=SIZE)

"""A loop clip with repeats: the engine (and so the export) plays its samples back to back, sample for
sample, across block boundaries; it ends after the last repeat; the project keeps the count."""

from __future__ import annotations

import numpy as np
import pytest

from composer.files.project import load_project, save_project
from composer.song import AudioClip, Song, Track
from synth.engine.engine import Engine

SR = 24000


def loop_samples(n: int = 1000) -> np.ndarray:
    rng = np.random.default_rng(0)
    return (0.05 * rng.standard_normal(n)).astype(np.float32)  # quiet: the limiter leaves it alone


@pytest.mark.parametrize("block", [256, 333])
def test_repeats_play_back_to_back_sample_for_sample(block):
    samples = loop_samples()
    clip = AudioClip(name="loop", start_s=0.01, samples=samples, sample_rate=SR, loop=True, repeats=3)
    engine = Engine(Song(tracks=[Track("T")], clips=[clip]), SR, block)
    engine.play()
    n_blocks = (int(0.01 * SR) + 3 * len(samples)) // block + 3
    heard = np.concatenate([engine.render_block(block) for _ in range(n_blocks)])
    start = int(round(0.01 * SR))
    expected = np.tile(samples, 3)
    assert clip.duration_s == pytest.approx(3 * len(samples) / SR)
    # each channel carries the clip at the centre pan's gain: compare shapes, not the gain
    left = heard[start : start + expected.size, 0]
    gain = float(np.dot(left, expected) / np.dot(expected, expected))
    assert gain > 0.1 and np.allclose(left, gain * expected, atol=1e-5)
    assert np.abs(heard[start + expected.size :, 0]).max() < 1e-6, "it ends after the last repeat"


def test_the_project_keeps_the_repeats(tmp_path):
    clip = AudioClip(name="loop", samples=loop_samples(), sample_rate=SR, loop=True, repeats=5, prompt="groove")
    path = tmp_path / "song.json"
    save_project(Song(tracks=[Track("T")], clips=[clip]), path)
    again = load_project(path).clips[0]
    assert again.repeats == 5 and again.duration_s == pytest.approx(5 * 1000 / SR)

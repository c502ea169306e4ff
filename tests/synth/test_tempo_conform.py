"""synth.prompt.tempo_conform: the tempo a prompt names, the stretch folded by octaves, and a stretched
log-mel that really plays at the new tempo (measured by the same onset autocorrelation as the clips)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synth.prompt.music_analysis import FRAME_RATE_HZ, estimate_tempo, onset_strength
from synth.prompt.tempo_conform import frames_to_make, stretch_log_mel, stretch_ratio, tempo_in_prompt


@pytest.mark.parametrize(
    "prompt,bpm",
    [("drum groove at 128 BPM", 128.0), ("slow 72bpm pad", 72.0), ("90 beats per minute", 90.0), ("fast", None)],
)
def test_the_tempo_a_prompt_names(prompt, bpm):
    assert tempo_in_prompt(prompt) == bpm


def test_an_impossible_tempo_in_the_text_is_not_taken():
    assert tempo_in_prompt("999 bpm") is None


@pytest.mark.parametrize(
    "estimated,wanted,ratio",
    [(120, 120, 1.0), (132, 120, 1.1), (240, 120, 1.0), (60, 128, 60 / 64), (150, 80, 150 / 160), (math.nan, 90, 1.0)],
)
def test_the_stretch_is_the_gentlest_of_the_octave_equivalents(estimated, wanted, ratio):
    got = stretch_ratio(estimated, wanted)
    assert got == pytest.approx(ratio)
    assert 1 / math.sqrt(2) - 1e-9 <= got <= math.sqrt(2) + 1e-9


def clicks(bpm: float, seconds: float, n_mels: int = 80) -> np.ndarray:
    """A log-mel with a broadband click on every beat."""
    n = int(seconds * FRAME_RATE_HZ)
    log_mel = np.full((n_mels, n), -10.0, np.float32)
    period = 60.0 * FRAME_RATE_HZ / bpm
    for k in range(int(n / period) + 1):
        start = int(round(k * period))
        log_mel[:, start : start + 3] = 0.0
    return log_mel


@pytest.mark.parametrize("made,wanted", [(120.0, 100.0), (100.0, 128.0), (150.0, 80.0)])
def test_a_stretched_mel_plays_at_the_tempo_asked_for(made, wanted):
    n_out = int(8 * FRAME_RATE_HZ)
    source = clicks(made, frames_to_make(n_out) / FRAME_RATE_HZ)
    ratio = stretch_ratio(estimate_tempo(onset_strength(source)).bpm, wanted)
    out = stretch_log_mel(source, ratio, n_out)
    assert out.shape == (80, n_out) and out.dtype == np.float32
    got = estimate_tempo(onset_strength(out)).bpm
    assert any(abs(got - wanted * f) <= 0.03 * wanted * f for f in (0.5, 1.0, 2.0)), got


def test_a_ratio_of_one_keeps_the_frames():
    source = clicks(120.0, 3.0)
    assert np.allclose(stretch_log_mel(source, 1.0, source.shape[1]), source, atol=1e-5)

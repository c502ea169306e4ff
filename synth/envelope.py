"""Closed-form envelopes: a level from a voice's age, no per-sample state.

Because every envelope is a function of absolute sample times (note-on,
release), a voice sounds the same whichever way the audio is cut into
blocks, and an event at any frame offset inside a block is exact.

Decays are exponential toward the sustain level; a part that decays to
silence (sustain 0) and every release reach exactly zero at -60 dB (the
exponential is shifted down by EPSILON and clipped), so "finished" is
exact and a voice can be dropped without a click.
"""

from __future__ import annotations

import math

import numpy as np

EPSILON = 1e-3  # -60 dB: where decays and releases end
TAIL_TAUS = math.log(1.0 / EPSILON)  # time constants until a decay or release reaches zero
_SCALE = np.float32(1.0 / (1.0 - EPSILON))


def floored_exp(x: np.ndarray) -> np.ndarray:
    """exp(-x) shifted to reach exactly 0 at x = TAIL_TAUS, in place on `x` (x >= 0). float32."""
    np.negative(x, out=x)
    np.exp(x, out=x)
    x -= np.float32(EPSILON)
    x *= _SCALE
    np.maximum(x, 0.0, out=x)
    return x


def adsr(
    age: np.ndarray,
    attack: np.ndarray,
    inv_decay: np.ndarray,
    sustain: np.ndarray,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Attack-decay-sustain level for ages in samples.

    age: float32 (V, n), samples since note-on (negative before it).
    attack: (V,) samples of linear rise (>= 1). inv_decay: (V,) 1/time
    constant in samples (0: no decay). sustain: (V,) level 0..1.
    Returns float32 (V, n); zero before the note starts.
    """
    attack = attack[:, None]
    rise = np.add(age, np.float32(1.0), out=out)
    rise /= attack
    np.clip(rise, 0.0, 1.0, out=rise)
    fall = age - attack
    np.maximum(fall, 0.0, out=fall)
    fall *= inv_decay[:, None]
    floored_exp(fall)
    s = sustain[:, None]
    fall *= 1.0 - s
    fall += s
    rise *= fall
    return rise


def release_factor(since_release: np.ndarray, inv_release: np.ndarray) -> np.ndarray:
    """Multiplier after a note-off: 1 before it, then a floored exponential to 0.

    since_release: float32 (V, n), samples since the note-off (negative
    before it), overwritten; inv_release: (V,) 1/time constant in samples.
    Returns float32 (V, n).
    """
    np.maximum(since_release, 0.0, out=since_release)
    since_release *= inv_release[:, None]
    return floored_exp(since_release)


def adsr_at(age: float, attack: float, inv_decay: float, sustain: float) -> float:
    """The same level as `adsr`, for one voice at one age (used to pick a quiet voice to steal)."""
    if age < 0:
        return 0.0
    rise = min(max((age + 1.0) / attack, 0.0), 1.0)
    fall = max((math.exp(-max(age - attack, 0.0) * inv_decay) - EPSILON) / (1.0 - EPSILON), 0.0)
    return rise * (sustain + (1.0 - sustain) * fall)


def tail_samples(inv_rate: float) -> float:
    """Samples until a floored exponential with rate `inv_rate` (1/samples) reaches zero."""
    return math.inf if inv_rate <= 0 else TAIL_TAUS / inv_rate

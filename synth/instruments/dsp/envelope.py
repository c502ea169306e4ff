"""Closed-form envelopes: a level from a voice's age, no per-sample state.

Every envelope is a function of absolute sample times (note-on, note-off),
so a voice sounds the same whichever way the audio is cut into blocks, and
an event at any frame offset inside a block is exact.

A part rises linearly over `attack` samples, then decays exponentially
(time constant 1/inv_decay) toward its sustain level. A part with sustain 0,
and every release, is shifted down by EPSILON and clipped, so it reaches
exactly zero at -60 dB: "finished" is exact and a voice can be dropped
without a click. The shape is folded into two numbers per part:

    level = rise * max(a * fall + b, 0)
    sustain S > 0:  a = gain * (1 - S),        b = gain * S
    sustain 0:      a = gain / (1 - EPSILON),  b = -gain * EPSILON / (1 - EPSILON)
"""

from __future__ import annotations

import math

import numpy as np

EPSILON = 1e-3  # -60 dB: where decays and releases end
TAIL_TAUS = math.log(1.0 / EPSILON)  # time constants until a floored decay reaches zero


def shape(gain: float, sustain: float) -> tuple[float, float]:
    """(a, b) of a part with this gain and sustain level (see the module docstring)."""
    if sustain <= 0.0:
        return gain / (1.0 - EPSILON), -gain * EPSILON / (1.0 - EPSILON)
    return gain * (1.0 - sustain), gain * sustain


def levels(
    age: np.ndarray,
    attack: np.ndarray,
    inv_decay: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    out: np.ndarray | None = None,
    scratch: np.ndarray | None = None,
) -> np.ndarray:
    """Envelope levels of every part of every voice.

    age: float64 (V, T) samples since note-on (negative before it).
    attack, inv_decay, a, b: (V, K) per part. Returns float64 (V, K, T),
    zero before the note starts: in `out` if given (and `scratch`, the same shape, for the rise).
    """
    shape = (attack.shape[0], attack.shape[1], age.shape[1])
    rise = np.empty(shape) if scratch is None else scratch
    fall = np.empty(shape) if out is None else out
    age = age[:, None, :]
    inv_attack = np.reciprocal(attack)[:, :, None]  # (V, K): small
    np.multiply(age, inv_attack, out=rise)
    rise += inv_attack  # (age + 1) / attack: the first sample is already above zero
    np.clip(rise, 0.0, 1.0, out=rise)
    np.multiply(age, inv_decay[:, :, None], out=fall)
    np.negative(fall, out=fall)
    fall += (attack * inv_decay)[:, :, None]
    np.minimum(fall, 0.0, out=fall)  # held at 1 during the attack
    np.exp(fall, out=fall)
    fall *= a[:, :, None]
    fall += b[:, :, None]
    np.maximum(fall, 0.0, out=fall)
    fall *= rise
    return fall


def level_at(age: float, attack: float, inv_decay: float, a: float, b: float) -> float:
    """`levels` for one part at one age (to pick the quietest voice to steal)."""
    if age < 0:
        return 0.0
    rise = min((age + 1.0) / attack, 1.0)
    fall = math.exp(-max(age - attack, 0.0) * inv_decay)
    return rise * max(a * fall + b, 0.0)

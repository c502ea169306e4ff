"""A master peak limiter without look-ahead: instant attack, exponential release.

The gain never exceeds what keeps every sample within `ceiling`, so the
output is within +-ceiling by construction. The release recursion
d[i] = max(d_req[i], d[i-1] * r) (d = gain reduction in dB) is solved for a
whole block at once with a running maximum, so there is no per-sample
Python loop, and the result does not depend on the block size.
"""

from __future__ import annotations

import math

import numpy as np


class PeakLimiter:
    """Stereo-linked peak limiter on (n, 2) float32 blocks.

    Args:
        sample_rate: Hz.
        ceiling: the highest absolute sample value out (<= 1).
        release_s: time constant of the gain's recovery, seconds.
    """

    def __init__(self, sample_rate: int, ceiling: float = 0.98, release_s: float = 0.08) -> None:
        if not 0.0 < ceiling <= 1.0:
            raise ValueError(f"ceiling must be in (0, 1], not {ceiling}")
        self.ceiling = float(ceiling)
        self._db_per_sample = 8.685889638 / (release_s * sample_rate)  # 20*log10(e) / tau
        self._reduction_db = 0.0  # at the end of the last block
        self.gain_reduction_db = 0.0  # the deepest in the last block, for a meter

    def reset(self) -> None:
        self._reduction_db = 0.0

    def process(self, block: np.ndarray) -> np.ndarray:
        """Limit `block` (n, 2) in place and return it."""
        n = block.shape[0]
        if n == 0:
            return block
        magnitude = np.abs(block)
        loudest = float(magnitude.max())
        if not math.isfinite(loudest):  # a broken synth must not blow up the output
            np.nan_to_num(block, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
            magnitude = np.abs(block)
            loudest = float(magnitude.max())
        if loudest <= self.ceiling and self._reduction_db == 0.0:
            self.gain_reduction_db = 0.0
            return block
        peak = magnitude.max(axis=1)
        over = peak > self.ceiling
        need_db = np.zeros(n + 1, np.float64)
        need_db[0] = self._reduction_db
        need_db[1:][over] = 20.0 * np.log10(peak[over] / self.ceiling)
        # d[i] = max_j (need[j] - (i - j) * rate) = max.accumulate(need[j] + j * rate) - i * rate
        slope = np.arange(n + 1) * self._db_per_sample
        reduction = np.maximum.accumulate(need_db + slope) - slope
        np.maximum(reduction, 0.0, out=reduction)
        self._reduction_db = float(reduction[-1]) if reduction[-1] > 1e-4 else 0.0
        self.gain_reduction_db = float(reduction[1:].max())
        gain = np.power(10.0, reduction[1:] / -20.0).astype(np.float32)
        block *= gain[:, None]
        # Float rounding can leave a hair above the ceiling; the gain already did the work.
        np.clip(block, -self.ceiling, self.ceiling, out=block)
        return block

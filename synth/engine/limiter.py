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
        self._capacity = 0
        self._grow(1024)

    def _grow(self, n: int) -> None:
        """Scratch for blocks of up to n frames (made again only for a longer block)."""
        self._capacity = n
        self._magnitude = np.zeros((n, 2), np.float32)
        self._peak = np.zeros(n, np.float32)
        self._need_db = np.zeros(n + 1, np.float64)
        self._slope = np.arange(n + 1) * self._db_per_sample
        self._reduction = np.zeros(n + 1, np.float64)

    def reset(self) -> None:
        self._reduction_db = 0.0

    def process(self, block: np.ndarray) -> np.ndarray:
        """Limit `block` (n, 2) in place and return it (no new sample memory for blocks seen before)."""
        n = block.shape[0]
        if n == 0:
            return block
        loudest = max(float(block.max()), -float(block.min()))  # NaN anywhere makes this NaN
        if not math.isfinite(loudest):  # a broken synth must not blow up the output
            np.nan_to_num(block, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
            loudest = max(float(block.max()), -float(block.min()))
        if loudest <= self.ceiling and self._reduction_db == 0.0:
            self.gain_reduction_db = 0.0
            return block
        if n > self._capacity:
            self._grow(n)
        magnitude = self._magnitude[:n]
        np.abs(block, out=magnitude)
        peak = self._peak[:n]
        np.max(magnitude, axis=1, out=peak)
        need_db = self._need_db[: n + 1]
        need_db[0] = self._reduction_db
        # 20 log10(peak / ceiling) where over the ceiling, else 0: log10 of max(peak / ceiling, 1).
        over = need_db[1:]
        np.multiply(peak, 1.0 / self.ceiling, out=over)
        np.maximum(over, 1.0, out=over)
        np.log10(over, out=over)
        over *= 20.0
        # d[i] = max_j (need[j] - (i - j) * rate) = max.accumulate(need[j] + j * rate) - i * rate
        slope = self._slope[: n + 1]
        reduction = self._reduction[: n + 1]
        np.add(need_db, slope, out=reduction)
        np.maximum.accumulate(reduction, out=reduction)
        reduction -= slope
        np.maximum(reduction, 0.0, out=reduction)
        self._reduction_db = float(reduction[-1]) if reduction[-1] > 1e-4 else 0.0
        self.gain_reduction_db = float(reduction[1:].max())
        gain = reduction[1:]  # reused: the gain, 10^(-d/20)
        gain *= -math.log(10.0) / 20.0
        np.exp(gain, out=gain)
        np.copyto(peak, gain, casting="same_kind")
        block[:, 0] *= peak
        block[:, 1] *= peak
        # Float rounding can leave a hair above the ceiling; the gain already did the work.
        np.clip(block, -self.ceiling, self.ceiling, out=block)
        return block

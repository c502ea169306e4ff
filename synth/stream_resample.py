"""A streaming windowed-sinc resampler for the neural path (24 kHz model rate -> the engine's rate).

    rs = StreamResampler(24000, 48000)
    rs.push(samples_24k)                      # float32 (n,)
    out = rs.pull(256)                        # float32 (256,), needs rs.input_needed(256) samples pushed

Output sample m is the input interpolated at m * from_rate / to_rate with a
Hann-windowed sinc of `half_width` input samples each side (cut off at the
lower Nyquist), so it looks `half_width` input samples ahead: that is its
latency. Equal rates pass samples through with no latency. The rates'
ratio is rational, so the fractional positions repeat every
to_rate / gcd(from_rate, to_rate) outputs: the weights of each are computed
once (a polyphase table), not per sample.
"""

from __future__ import annotations

import math

import numpy as np

HALF_WIDTH = 16


class StreamResampler:
    def __init__(self, from_rate: int, to_rate: int, half_width: int = HALF_WIDTH) -> None:
        if from_rate < 1 or to_rate < 1:
            raise ValueError(f"rates must be positive, not {from_rate} and {to_rate}")
        self.from_rate, self.to_rate = int(from_rate), int(to_rate)
        self.half_width = 0 if self.from_rate == self.to_rate else int(half_width)
        self.cutoff = min(1.0, self.to_rate / self.from_rate)  # of the input's Nyquist
        self.taps = np.arange(-self.half_width + 1, self.half_width + 1)  # (2W,)
        self.period = self.to_rate // math.gcd(self.from_rate, self.to_rate)  # outputs per cycle of positions
        self._weights = self._phase_weights() if self.half_width else None  # (period, 2W)
        self.reset()

    def _phase_weights(self) -> np.ndarray:
        """Interpolation weights of output m at row m % period (its input position's fractional part)."""
        p = np.arange(self.period)
        d = (p * self.from_rate / self.to_rate - (p * self.from_rate) // self.to_rate)[:, None] - self.taps[None]
        weights = self.cutoff * np.sinc(self.cutoff * d) * (0.5 + 0.5 * np.cos(np.pi * d / self.half_width))
        return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)

    def reset(self) -> None:
        self._buffer = np.zeros(self.half_width, np.float32)  # silence before the start
        self._buffer_start = -self.half_width  # input index of _buffer[0]
        self._pushed = 0
        self._pulled = 0

    @property
    def pushed(self) -> int:
        """Input samples pushed so far."""
        return self._pushed

    @property
    def latency_input_samples(self) -> int:
        return self.half_width

    def input_needed(self, n_out: int) -> int:
        """Input samples that must have been pushed before pulling n_out more."""
        if n_out <= 0:
            return self._pushed
        last = (self._pulled + n_out - 1) * self.from_rate // self.to_rate
        return last + self.half_width + 1

    def push(self, samples: np.ndarray) -> None:
        self._buffer = np.concatenate([self._buffer, np.asarray(samples, np.float32)])
        self._pushed += len(samples)

    def _interpolate(self, first: int, n_out: int) -> np.ndarray:
        """Outputs first .. first + n_out - 1. Those of one phase (m % period) read windows of the input
        that step by from_rate / gcd samples: a strided view of the buffer times that phase's weights."""
        out = np.empty(n_out, np.float32)
        windows = np.lib.stride_tricks.sliding_window_view(self._buffer, len(self.taps))  # (len - 2W + 1, 2W)
        stride = self.from_rate * self.period // self.to_rate  # input samples between outputs of one phase
        for k in range(min(self.period, n_out)):
            m = first + k
            start = (m * self.from_rate) // self.to_rate + int(self.taps[0]) - self._buffer_start
            count = len(range(k, n_out, self.period))
            out[k :: self.period] = (
                windows[start : start + stride * (count - 1) + 1 : stride] @ self._weights[m % self.period]
            )
        return out

    def pull(self, n_out: int) -> np.ndarray:
        if self.input_needed(n_out) > self._pushed:
            raise ValueError(f"pull({n_out}) needs {self.input_needed(n_out)} input samples, {self._pushed} pushed")
        first = self._pulled
        self._pulled += n_out
        if self.half_width == 0:
            out = self._buffer[first - self._buffer_start : first - self._buffer_start + n_out].copy()
        else:
            out = self._interpolate(first, n_out)
        # Keep only what later outputs can still read.
        keep_from = self._pulled * self.from_rate // self.to_rate - self.half_width
        drop = max(keep_from - self._buffer_start, 0)
        self._buffer = self._buffer[drop:]
        self._buffer_start += drop
        return out

"""A streaming windowed-sinc resampler for the neural path (24 kHz model rate -> the engine's rate).

    rs = StreamResampler(24000, 48000)
    rs.push(samples_24k)                      # float32 (n,)
    out = rs.pull(256)                        # float32 (256,), needs rs.input_needed(256) samples pushed

Output sample m is the input interpolated at m * from_rate / to_rate with a
Hann-windowed sinc of `half_width` input samples each side (cut off at the
lower Nyquist), so it looks `half_width` input samples ahead: that is its
latency. Equal rates pass samples through with no latency.
"""

from __future__ import annotations

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
        self.reset()

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

    def pull(self, n_out: int) -> np.ndarray:
        if self.input_needed(n_out) > self._pushed:
            raise ValueError(f"pull({n_out}) needs {self.input_needed(n_out)} input samples, {self._pushed} pushed")
        m = np.arange(self._pulled, self._pulled + n_out)
        self._pulled += n_out
        if self.half_width == 0:
            out = self._buffer[m - self._buffer_start]
        else:
            t = m * (self.from_rate / self.to_rate)  # (n_out,) input positions
            index = np.floor(t).astype(np.int64)[:, None] + self.taps  # (n_out, 2W)
            d = t[:, None] - index
            weights = self.cutoff * np.sinc(self.cutoff * d) * (0.5 + 0.5 * np.cos(np.pi * d / self.half_width))
            weights /= weights.sum(axis=1, keepdims=True)
            out = (self._buffer[index - self._buffer_start] * weights).sum(axis=1).astype(np.float32)
        # Keep only what later outputs can still read.
        keep_from = self._pulled * self.from_rate // self.to_rate - self.half_width
        drop = max(keep_from - self._buffer_start, 0)
        self._buffer = self._buffer[drop:]
        self._buffer_start += drop
        return out

"""A streaming windowed-sinc resampler for the neural path (24 kHz model rate -> the engine's rate).

    rs = StreamResampler(24000, 48000)
    rs.push(samples_24k)                      # float32 (n,)
    out = rs.pull(256)                        # float32 (256,), needs rs.input_needed(256) samples pushed
    rs.pull(256, out=block)                   # the same into a caller's float32 (256,)

Output sample m is the input interpolated at m * from_rate / to_rate with a
Hann-windowed sinc of `half_width` input samples each side (cut off at the
lower Nyquist), so it looks `half_width` input samples ahead: that is its
latency. Equal rates pass samples through with no latency. The rates'
ratio is rational, so the fractional positions repeat every
to_rate / gcd(from_rate, to_rate) outputs: the weights of each are computed
once (a polyphase table), not per sample.

The input waits in an array made once (it grows only when a push holds more
than it has room for, as an offline render's whole piece does): pushes copy
into it and the samples no output can read any more are let go by moving a
start index, so streaming in blocks makes no new sample memory.
"""

from __future__ import annotations

import math

import numpy as np

HALF_WIDTH = 16
START_CAPACITY = 4096  # input samples the buffer holds before it first grows


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
        if getattr(self, "_store", None) is None:
            self._store = np.zeros(max(START_CAPACITY, 2 * self.half_width), np.float32)
            self._spare = np.zeros_like(self._store)  # compaction copies into it, then the two swap
        self._store[: self.half_width] = 0.0  # silence before the start
        self._lo, self._hi = 0, self.half_width  # the live input is _store[_lo:_hi]
        self._buffer_start = -self.half_width  # input index of _store[_lo]
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
        n = len(samples)
        if self._hi + n > len(self._store):
            live = self._hi - self._lo
            if live + n > len(self._store):  # more than it has room for: grow (the steady state never does)
                size = max(2 * len(self._store), live + n)
                self._spare = np.zeros(size, np.float32)
            spare = self._spare
            spare[:live] = self._store[self._lo : self._hi]
            self._store, self._spare = spare, (self._store if len(self._store) == len(spare) else np.zeros_like(spare))
            self._lo, self._hi = 0, live
        self._store[self._hi : self._hi + n] = samples
        self._hi += n
        self._pushed += n

    def _interpolate(self, first: int, out: np.ndarray) -> None:
        """Outputs first .. first + len(out) - 1 into `out`. Those of one phase (m % period) read windows of
        the input that step by from_rate / gcd samples: a strided view of the buffer times that phase's weights."""
        n_out = len(out)
        buffer = self._store[self._lo : self._hi]
        windows = np.lib.stride_tricks.sliding_window_view(buffer, len(self.taps))  # (len - 2W + 1, 2W)
        stride = self.from_rate * self.period // self.to_rate  # input samples between outputs of one phase
        for k in range(min(self.period, n_out)):
            m = first + k
            start = (m * self.from_rate) // self.to_rate + int(self.taps[0]) - self._buffer_start
            count = len(range(k, n_out, self.period))
            np.matmul(
                windows[start : start + stride * (count - 1) + 1 : stride],
                self._weights[m % self.period],
                out=out[k :: self.period],
            )

    def pull(self, n_out: int, out: np.ndarray | None = None) -> np.ndarray:
        """The next n_out output samples: float32 (n_out,), into `out` when given (float32 (n_out,))."""
        if self.input_needed(n_out) > self._pushed:
            raise ValueError(f"pull({n_out}) needs {self.input_needed(n_out)} input samples, {self._pushed} pushed")
        if out is None:
            out = np.empty(n_out, np.float32)
        first = self._pulled
        self._pulled += n_out
        if self.half_width == 0:
            at = self._lo + first - self._buffer_start
            out[:] = self._store[at : at + n_out]
        else:
            self._interpolate(first, out)
        # Keep only what later outputs can still read.
        keep_from = self._pulled * self.from_rate // self.to_rate - self.half_width
        drop = max(keep_from - self._buffer_start, 0)
        self._lo += drop
        self._buffer_start += drop
        return out

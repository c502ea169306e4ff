"""The metronome: a click on every beat of the meter, a higher, louder one on each downbeat.

The beat is the time signature's denominator (a quarter in 4/4, an eighth in
6/8) at the song's tempo; the grid starts at song time 0. Clicks that run
past the end of a block carry over into the next one.
"""

from __future__ import annotations

import math

import numpy as np

CLICK_S = 0.035


def _click(sample_rate: int, freq_hz: float, level: float) -> np.ndarray:
    t = np.arange(int(CLICK_S * sample_rate)) / sample_rate
    shape = np.exp(-t / 0.008) * np.minimum(t * sample_rate / 16.0, 1.0)
    return (level * shape * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def beat_grid(seconds_per_beat: float, time_signature: tuple[int, int]) -> tuple[float, int]:
    """(seconds per metronome beat, beats per bar) for a tempo and meter."""
    num, den = time_signature
    return seconds_per_beat * 4.0 / den, max(int(num), 1)


class Metronome:
    """Clicks mixed into blocks, sample-accurately, from a buffer kept between blocks."""

    def __init__(self, sample_rate: int, gain: float = 0.5) -> None:
        self.sample_rate = sample_rate
        self.accent = _click(sample_rate, 1760.0, gain)
        self.normal = _click(sample_rate, 1175.0, gain * 0.6)
        self._buf = np.zeros(0, np.float32)  # the clicks from this block's start on; zero past _tail
        self._spare = np.zeros(0, np.float32)
        self._tail = 0  # samples of click still to play from _buf[0]

    def reset(self) -> None:
        self._buf[: self._tail] = 0.0
        self._tail = 0

    def hits(self, start: int, length: int, beat_samples: float, beats_per_bar: int) -> list[tuple[int, bool]]:
        """Beats with start <= round(k * beat_samples) < start + length: (offset from start, is downbeat)."""
        out = []
        k = max(math.ceil(start / beat_samples) - 1, 0)
        while True:
            at = round(k * beat_samples)
            if at >= start + length:
                return out
            if at >= start:
                out.append((at - start, k % beats_per_bar == 0))
            k += 1

    def _room(self, length: int) -> None:
        if self._buf.size < length:
            buf = np.zeros(2 * length, np.float32)
            buf[: self._tail] = self._buf[: self._tail]
            self._buf, self._spare = buf, np.zeros(2 * length, np.float32)

    def add_into(self, out: np.ndarray, hits: list[tuple[int, bool]]) -> bool:
        """Add len(out) samples of clicks (with last block's tails) into `out` (n, channels). False: silent."""
        n = out.shape[0]
        if not hits and self._tail == 0:
            return False
        length = max(n, self._tail)
        for offset, _ in hits:
            length = max(length, offset + self.accent.size)
        self._room(length)
        buf = self._buf
        for offset, accent in hits:
            click = self.accent if accent else self.normal
            buf[offset : offset + click.size] += click
        for channel in range(out.shape[1]):
            out[:, channel] += buf[:n]
        rest = length - n
        spare = self._spare
        spare[:rest] = buf[n:length]  # two buffers: an overlapping shift would copy through a temporary
        buf[:length] = 0.0
        self._buf, self._spare, self._tail = spare, buf, rest
        return True

    def render(self, n: int, hits: list[tuple[int, bool]]) -> np.ndarray | None:
        """n samples of clicks at the given (offset, is downbeat), with last block's tails; None if silent."""
        out = np.zeros((n, 1), np.float32)
        return out[:, 0] if self.add_into(out, hits) else None

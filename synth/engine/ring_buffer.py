"""A single-producer, single-consumer ring of stereo frames for the audio callback.

The render thread writes whole blocks; the audio callback reads what it needs.
No lock: each side only moves its own counter, and the counters are plain
Python ints that only ever grow (a reader sees either the old or the new
value, both safe). The frames themselves are written before the write counter
moves, so the reader never sees a frame that is not there yet.

The read side copies with at most two slice assignments (wrap-around) into
the caller's buffer: no allocation of sample memory, no per-sample loop.
"""

from __future__ import annotations

import numpy as np


class FrameRing:
    """`capacity_frames` stereo frames, float32, shape (capacity_frames, channels)."""

    def __init__(self, capacity_frames: int, channels: int = 2) -> None:
        if capacity_frames <= 0:
            raise ValueError(f"capacity_frames must be positive, got {capacity_frames}")
        self.capacity_frames = capacity_frames
        self.channels = channels
        self._frames = np.zeros((capacity_frames, channels), dtype=np.float32)  # (capacity, channels)
        self.written_frames = 0  # total frames ever written (moved only by the writer)
        self.read_frames = 0  # total frames ever read (moved only by the reader)

    @property
    def available_frames(self) -> int:
        """Frames written and not yet read."""
        return self.written_frames - self.read_frames

    @property
    def free_frames(self) -> int:
        return self.capacity_frames - self.available_frames

    def write(self, block: np.ndarray) -> bool:
        """Append `block` of shape (n, channels); False (and nothing written) if it does not fit."""
        n = block.shape[0]
        if n > self.free_frames:
            return False
        start = self.written_frames % self.capacity_frames
        first = min(n, self.capacity_frames - start)
        self._frames[start : start + first] = block[:first]
        if first < n:
            self._frames[: n - first] = block[first:]
        self.written_frames += n  # publish after the copy
        return True

    def read_into(self, out: np.ndarray) -> int:
        """Fill `out` (n, channels) from the ring; frames not available become silence.

        Returns the number of frames that came from the ring (n on success,
        fewer on an underrun).
        """
        n = out.shape[0]
        got = min(n, self.available_frames)
        start = self.read_frames % self.capacity_frames
        first = min(got, self.capacity_frames - start)
        out[:first] = self._frames[start : start + first]
        if first < got:
            out[first:got] = self._frames[: got - first]
        if got < n:
            out[got:] = 0.0
        self.read_frames += got
        return got

    def clear(self) -> None:
        """Drop everything not yet read (call only while neither side runs)."""
        self.read_frames = self.written_frames

"""The one interface every instrument implements, DSP or neural.

An instrument is driven by timestamped control calls and asked for blocks of
audio. Event times are given as a frame offset inside the next block, so the
engine's scheduler is sample-accurate:

    synth.note_on(pitch, velocity, frame_offset)
    synth.note_off(pitch, frame_offset)
    synth.control_change(controller, value, frame_offset)   # CC64 = sustain
    synth.pitch_bend(semitones, frame_offset)
    block = synth.render(n_frames)   # float32, shape (n_frames,), mono, pre-pan
    synth.render_into(out)           # the same into a caller's float32 (n_frames,): the engine's path

`latency_samples` is the instrument's own algorithmic delay (0 for DSP).
`reset()` silences everything at once (stop, seek).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class Synth(ABC):
    """A mono instrument at a fixed `sample_rate`; the mixer pans it."""

    sample_rate: int
    latency_samples: int = 0

    @abstractmethod
    def note_on(self, pitch: int, velocity: int, frame_offset: int = 0) -> None: ...

    @abstractmethod
    def note_off(self, pitch: int, frame_offset: int = 0) -> None: ...

    @abstractmethod
    def control_change(self, controller: int, value: int, frame_offset: int = 0) -> None: ...

    @abstractmethod
    def pitch_bend(self, semitones: float, frame_offset: int = 0) -> None: ...

    @abstractmethod
    def render(self, n_frames: int) -> np.ndarray:
        """The next `n_frames` samples, float32 of shape (n_frames,)."""

    def render_into(self, out: np.ndarray) -> None:
        """The next len(out) samples into float32 `out` (n,). Instruments that can, override it to make
        no new sample memory per block (the DSP synth does); this default copies `render`'s block."""
        out[:] = self.render(out.shape[0])

    @abstractmethod
    def reset(self) -> None: ...

    @property
    @abstractmethod
    def active_voices(self) -> int:
        """Voices still sounding (release tails included); 0 means silent."""

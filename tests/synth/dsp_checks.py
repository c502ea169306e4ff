"""Helpers for the synth and engine tests: play events through a synth, measure what came out."""

from __future__ import annotations

import numpy as np

SR = 48000


def play(synth, events, total_frames: int, block_frames: int = 1024) -> np.ndarray:
    """Render `total_frames` from `synth`, sending each (frame, method, *args) at its exact frame."""
    events = sorted(events, key=lambda e: e[0])
    out, t = [], 0
    while t < total_frames:
        n = min(block_frames, total_frames - t)
        for frame, method, *args in events:
            if t <= frame < t + n:
                getattr(synth, method)(*args, frame_offset=frame - t)
        block = synth.render(n)
        assert block.dtype == np.float32 and block.shape == (n,)
        out.append(block)
        t += n
    return np.concatenate(out)


def spectrum(x: np.ndarray, sample_rate: int = SR) -> tuple[np.ndarray, np.ndarray]:
    window = np.hanning(len(x))
    mag = np.abs(np.fft.rfft(x * window))
    return np.fft.rfftfreq(len(x), 1.0 / sample_rate), mag


def fundamental_hz(x: np.ndarray, sample_rate: int = SR, strong: float = 0.25) -> float:
    """The lowest spectral peak at least `strong` times the highest one (above 30 Hz)."""
    freqs, mag = spectrum(x, sample_rate)
    mag[freqs < 30] = 0
    threshold = strong * mag.max()
    for i in range(1, len(mag) - 1):
        if mag[i] >= threshold and mag[i] >= mag[i - 1] and mag[i] >= mag[i + 1]:
            return float(freqs[i])
    return float(freqs[int(np.argmax(mag))])


def peak_hz(x: np.ndarray, sample_rate: int = SR) -> float:
    freqs, mag = spectrum(x, sample_rate)
    mag[freqs < 20] = 0
    return float(freqs[int(np.argmax(mag))])


def centroid_hz(x: np.ndarray, sample_rate: int = SR) -> float:
    freqs, mag = spectrum(x, sample_rate)
    return float((freqs * mag).sum() / max(mag.sum(), 1e-12))


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def first_sound(x: np.ndarray, threshold: float = 1e-6) -> int:
    """Index of the first sample whose magnitude exceeds `threshold` (any channel)."""
    loud = np.abs(x) > threshold
    if loud.ndim == 2:
        loud = loud.any(axis=1)
    hits = np.flatnonzero(loud)
    return int(hits[0]) if hits.size else -1

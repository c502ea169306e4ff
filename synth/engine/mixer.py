"""Mixing: constant-power pan, per-track gain without zipper noise, audio clips.

Pure functions plus the little state a mixer needs between blocks: each
track's last gains (a change ramps over one block instead of clicking) and
clips resampled once to the engine's rate.
"""

from __future__ import annotations

import math

import numpy as np

from composer.song import AudioClip


def pan_gains(pan: float) -> tuple[float, float]:
    """Constant-power (sin/cos) pan law: -1 is left, 0 is -3 dB each side, +1 is right."""
    angle = (min(max(pan, -1.0), 1.0) + 1.0) * math.pi / 4.0
    return math.cos(angle), math.sin(angle)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling of (n,) or (n, channels) audio through the FFT. float32."""
    samples = np.asarray(samples, dtype=np.float32)
    if from_rate == to_rate or samples.shape[0] == 0:
        return samples
    n_in = samples.shape[0]
    n_out = max(int(round(n_in * to_rate / from_rate)), 1)
    spectrum = np.fft.rfft(samples, axis=0)
    keep = min(spectrum.shape[0], n_out // 2 + 1)
    out_spectrum = np.zeros((n_out // 2 + 1,) + spectrum.shape[1:], np.complex128)
    out_spectrum[:keep] = spectrum[:keep]
    return (np.fft.irfft(out_spectrum, n=n_out, axis=0) * (n_out / n_in)).astype(np.float32)


def as_stereo(samples: np.ndarray) -> np.ndarray:
    """(n,) or (n, channels) to (n, 2): mono sits in the middle at -3 dB, like a centred track."""
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.shape[1] == 1:
        return np.repeat(samples * np.float32(math.sqrt(0.5)), 2, axis=1)
    return samples[:, :2]


class Mixer:
    """Sums mono track blocks into stereo with volume and pan, and plays clips."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._last_gains: dict[int, tuple[float, float]] = {}
        self._clip_cache: dict[int, tuple[np.ndarray, int, np.ndarray]] = {}

    def reset(self) -> None:
        self._last_gains.clear()

    def mix_tracks(self, out: np.ndarray, tracks: list[tuple[int, np.ndarray | None, float, float]]) -> list[float]:
        """Add tracks into `out` (n, 2): each (key, mono (n,) or None, volume, pan). Returns post-fader peaks.

        Tracks whose gains did not change are mixed by one matrix product; a
        change of volume or pan ramps over the block instead of clicking.
        """
        peaks = [0.0] * len(tracks)
        steady, gains, rows = [], [], []
        for i, (key, mono, volume, pan) in enumerate(tracks):
            left, right = pan_gains(pan)
            target = (volume * left, volume * right)
            start = self._last_gains.get(key, target)
            self._last_gains[key] = target
            if mono is None or start == target == (0.0, 0.0):
                continue
            if start == target:
                steady.append(mono)
                gains.append(target)
                rows.append(i)
            else:
                ramp = np.linspace(start, target, out.shape[0], endpoint=False, dtype=np.float32)  # (n, 2)
                ramp *= mono[:, None]
                out += ramp
                peaks[i] = float(np.abs(mono).max()) * volume
        if steady:
            stack = np.stack(steady)  # (tracks, n)
            out += stack.T @ np.asarray(gains, np.float32)
            for i, peak in zip(rows, np.abs(stack).max(axis=1).tolist(), strict=True):
                peaks[i] = peak * tracks[i][2]
        return peaks

    def forget(self, keys: set[int]) -> None:
        """Drop the gain memory of tracks not in `keys` (removed tracks)."""
        for key in list(self._last_gains):
            if key not in keys:
                del self._last_gains[key]

    def clip_audio(self, clip: AudioClip) -> np.ndarray | None:
        """The clip as (n, 2) float32 at the engine's rate, resampled once and cached."""
        if clip.samples is None:
            return None
        cached = self._clip_cache.get(id(clip))
        if cached is not None and cached[0] is clip.samples and cached[1] == clip.sample_rate:
            return cached[2]
        audio = as_stereo(resample(clip.samples, int(clip.sample_rate), self.sample_rate))
        self._clip_cache[id(clip)] = (clip.samples, clip.sample_rate, audio)
        return audio

    def add_clips(
        self, out: np.ndarray, clips: list[AudioClip], song_start: int, block_offset: int, length: int
    ) -> None:
        """Add the clips' samples for song samples [song_start, song_start + length) at `block_offset` in `out`."""
        for clip in clips:
            audio = self.clip_audio(clip)
            if audio is None:
                continue
            first = song_start - int(round(clip.start_s * self.sample_rate))  # index into the clip
            lo, hi = max(first, 0), min(first + length, audio.shape[0])
            if lo < hi:
                at = block_offset + lo - first
                out[at : at + hi - lo] += audio[lo:hi] * np.float32(clip.gain)

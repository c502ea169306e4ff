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
    """Sums mono track blocks into stereo with volume and pan, and plays clips.

    Per block, mixing makes no new sample memory: each track is scaled into a preallocated
    scratch row and added into `out`. Gain memory and the clip cache are keyed by what the caller
    gives (the engine gives its voice objects' keys, so an undo that replaces equal track objects
    keeps the ramps); the clip cache is keyed by the sample array itself (treated as immutable),
    so an undo's copy of a clip still finds its resampled audio.
    """

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self._last_gains: dict[int, tuple[float, float]] = {}
        self._clip_cache: dict[int, tuple[np.ndarray, int, np.ndarray]] = {}  # id(samples) -> (samples, rate, audio)
        self._scratch = np.zeros(0, np.float32)
        self._count = np.zeros(0, np.float32)  # 0, 1, 2, ...
        self._ramp = np.zeros(0, np.float32)  # k / n for k < n: the fraction of a ramp done at each frame
        self._ramp_n = 0

    def reset(self) -> None:
        self._last_gains.clear()

    def _buffers(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(scratch, ramp) of n frames: memory made only when a block is longer than any before."""
        if self._scratch.shape[0] < n:
            self._scratch = np.zeros(n, np.float32)
            self._count = np.arange(n, dtype=np.float32)
            self._ramp = np.zeros(n, np.float32)
            self._ramp_n = 0
        if self._ramp_n != n:
            np.multiply(self._count[:n], np.float32(1.0 / n), out=self._ramp[:n])
            self._ramp_n = n
        return self._scratch[:n], self._ramp[:n]

    def mix_track(self, out: np.ndarray, key: int, mono: np.ndarray | None, volume: float, pan: float) -> float:
        """Add one track into `out` (n, 2); returns its post-fader peak. No new sample memory.

        A change of volume or pan ramps over the block instead of clicking.
        """
        left, right = pan_gains(pan)
        target = (volume * left, volume * right)
        start = self._last_gains.get(key, target)
        self._last_gains[key] = target
        if mono is None or start == target == (0.0, 0.0):
            return 0.0
        scratch, ramp = self._buffers(out.shape[0])
        for channel in (0, 1):
            a, b = start[channel], target[channel]
            if a == b:
                np.multiply(mono, np.float32(b), out=scratch)
            else:  # mono * (a + (b - a) * k / n)
                np.multiply(ramp, np.float32(b - a), out=scratch)
                scratch += np.float32(a)
                scratch *= mono
            out[:, channel] += scratch
        return max(float(mono.max()), -float(mono.min())) * volume

    def mix_tracks(self, out: np.ndarray, tracks: list[tuple[int, np.ndarray | None, float, float]]) -> list[float]:
        """Add tracks into `out` (n, 2): each (key, mono (n,) or None, volume, pan). Returns post-fader peaks."""
        return [self.mix_track(out, key, mono, volume, pan) for key, mono, volume, pan in tracks]

    def forget(self, keys: set[int]) -> None:
        """Drop the gain memory of tracks not in `keys` (removed tracks)."""
        for key in list(self._last_gains):
            if key not in keys:
                del self._last_gains[key]

    def clip_audio(self, clip: AudioClip) -> np.ndarray | None:
        """The clip as (n, 2) float32 at the engine's rate, resampled once and cached by its samples."""
        samples = clip.samples
        if samples is None:
            return None
        cached = self._clip_cache.get(id(samples))
        if cached is not None and cached[0] is samples and cached[1] == clip.sample_rate:
            return cached[2]
        audio = as_stereo(resample(samples, int(clip.sample_rate), self.sample_rate))
        self._clip_cache[id(samples)] = (samples, clip.sample_rate, audio)
        return audio

    def retain_clips(self, clips: list[AudioClip]) -> None:
        """Resample these clips now (the caller's thread) and drop the cached audio of every other one."""
        for clip in clips:
            self.clip_audio(clip)
        keep = {id(c.samples) for c in clips if c.samples is not None}
        cache = self._clip_cache
        if any(k not in keep for k in cache):
            self._clip_cache = {k: v for k, v in cache.items() if k in keep}  # one reference swap

    def add_clips(
        self, out: np.ndarray, clips: list[AudioClip], song_start: int, block_offset: int, length: int
    ) -> None:
        """Add the clips' samples for song samples [song_start, song_start + length) at `block_offset` in `out`.

        One pass plays the clip's trimmed part: `offset_s` into its audio, `pass_s` long."""
        rate = self.sample_rate
        for clip in clips:
            audio = self.clip_audio(clip)
            if audio is None:
                continue
            total = audio.shape[0]
            skip, n = 0, total
            if clip.offset_s > 0 or clip.length_s is not None:  # trimmed (untrimmed: all of the resampled audio)
                skip = min(int(round(max(0.0, clip.offset_s) * rate)), total)
                n = min(int(round(clip.pass_s * rate)), total - skip)
            if n <= 0:
                continue
            first = song_start - int(round(clip.start_s * rate))  # index into the clip's repeats
            lo, hi = max(first, 0), min(first + length, n * max(1, int(clip.repeats)))
            while lo < hi:  # a repeat's end runs into the next one's start
                index = lo % n
                take = min(hi - lo, n - index)
                at = block_offset + lo - first
                part = audio[skip + index : skip + index + take]
                self._add_scaled(out[at : at + take], part, float(clip.gain), out.shape[0])
                lo += take

    def _add_scaled(self, target: np.ndarray, part_in: np.ndarray, gain: float, block_frames: int) -> None:
        """target += gain * part_in, through the block's scratch (no temporary)."""
        if gain == 1.0:
            target += part_in
            return
        scratch, _ = self._buffers(block_frames)
        part = scratch[: target.shape[0]]
        for channel in (0, 1):  # no temporary the size of the span
            np.multiply(part_in[:, channel], np.float32(gain), out=part)
            target[:, channel] += part

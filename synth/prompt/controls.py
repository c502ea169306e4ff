"""Tempo, key and meter as the prompt model's explicit inputs, beside the text (issue 17).

    labels = ControlLabels.of(bpm=[120.0], key_pc=[2], minor=[1], beats_per_bar=[4], first_beat_s=[0.0])
    g = global_features(labels)                          # (B, GLOBAL_DIM) float32: tempo, key, meter
    grid = grid_features(labels, n_frames=512, frame0=0)  # (B, 512, GRID_DIM) float32: the beat grid

What is known is built in, so the network only has to learn to follow it:
- tempo: log2(BPM) and a few of its sinusoids;
- key: the tonic, the mode, the scale's pitch classes, and the scale as it shows on the mel bands (each
  scale pitch's first harmonics through the filterbank, less the same for all twelve pitch classes);
- meter: beats in a bar;
- the beat grid, per mel frame: the phase within the beat and within the bar (cos, sin) and a pulse that
  peaks on each beat, counted from `frame0` so a window that continues another keeps the grid.
Every group has a "known" flag and is all zero when not known (a drum clip has no key, a corpus excerpt no
bar line), which is also what a dropped control looks like in training and in classifier-free guidance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from synth.instruments.neural.mel import MelConfig, mel_filterbank

FRAMES_PER_S = MelConfig().sample_rate / MelConfig().hop_samples  # 93.75
TEMPO_DIM = 10  # known, log2(bpm / 60), cos/sin at 4 rates
KEY_DIM = 1 + 12 + 2 + 12 + MelConfig().n_mels  # known, tonic, mode, scale chroma, scale on the mel bands
METERS = (2, 3, 4, 5, 6, 7)
METER_DIM = 1 + len(METERS)
GLOBAL_DIM = TEMPO_DIM + KEY_DIM + METER_DIM
GRID_DIM = 6  # known, beat phase cos/sin, bar phase cos/sin, beat pulse
PULSE_WIDTH_FRAMES = 1.5
MAJOR_STEPS = (0, 2, 4, 5, 7, 9, 11)
MINOR_STEPS = (0, 2, 3, 5, 7, 8, 10)  # natural minor; the harmonic minor's raised 7th shows in the music
SCALE_LOW_PITCH, SCALE_HIGH_PITCH, SCALE_HARMONICS = 28, 100, 6


@dataclass(frozen=True)
class ControlLabels:
    """A batch of controls; unknown is nan (bpm, first_beat_s), -1 (key_pc, minor) or 0 (beats_per_bar)."""

    bpm: np.ndarray  # (B,) float
    key_pc: np.ndarray  # (B,) int, 0 = C
    minor: np.ndarray  # (B,) int, 1 minor, 0 major
    beats_per_bar: np.ndarray  # (B,) int
    first_beat_s: np.ndarray  # (B,) float: seconds from the clip's start to its first beat

    @classmethod
    def of(cls, bpm: Sequence, key_pc: Sequence, minor: Sequence, beats_per_bar: Sequence, first_beat_s: Sequence):
        def floats(values: Sequence) -> np.ndarray:
            return np.array([math.nan if v is None else float(v) for v in values], np.float64)

        def ints(values: Sequence, unknown: int) -> np.ndarray:
            return np.array([unknown if v is None else int(v) for v in values], np.int64)

        return cls(floats(bpm), ints(key_pc, -1), ints(minor, -1), ints(beats_per_bar, 0), floats(first_beat_s))

    @classmethod
    def unknown(cls, n: int) -> ControlLabels:
        return cls.of([None] * n, [None] * n, [None] * n, [None] * n, [None] * n)

    def __len__(self) -> int:
        return len(self.bpm)

    def take(self, index: np.ndarray) -> ControlLabels:
        return ControlLabels(*(getattr(self, f)[index] for f in self.__dataclass_fields__))

    def dropped(self, tempo: np.ndarray, key: np.ndarray, grid: np.ndarray) -> ControlLabels:
        """These labels with the tempo (and so the grid), the key or the grid alone made unknown where True."""
        return ControlLabels(
            np.where(tempo, math.nan, self.bpm),
            np.where(key, -1, self.key_pc),
            np.where(key, -1, self.minor),
            np.where(tempo | grid, 0, self.beats_per_bar),
            np.where(tempo | grid, math.nan, self.first_beat_s),
        )


def scale_pitch_classes(key_pc: int, minor: bool) -> np.ndarray:
    """(12,) 1 on the scale's pitch classes."""
    chroma = np.zeros(12)
    chroma[[(key_pc + s) % 12 for s in (MINOR_STEPS if minor else MAJOR_STEPS)]] = 1.0
    return chroma


@lru_cache(maxsize=1)
def pitch_class_mel_images() -> np.ndarray:
    """(12, n_mels): where each pitch class's notes (their first harmonics, 1/k) fall on the mel bands."""
    cfg = MelConfig()
    fb = mel_filterbank(cfg)  # (n_mels, bins)
    fb = fb / np.maximum(fb.max(axis=1, keepdims=True), 1e-12)
    bin_hz = cfg.sample_rate / cfg.n_fft
    images = np.zeros((12, cfg.n_mels))
    for pitch in range(SCALE_LOW_PITCH, SCALE_HIGH_PITCH + 1):
        f0 = 440.0 * 2 ** ((pitch - 69) / 12)
        for k in range(1, SCALE_HARMONICS + 1):
            position = f0 * k / bin_hz
            low = int(position)
            if low + 1 >= fb.shape[1]:
                break
            frac = position - low
            images[pitch % 12] += ((1 - frac) * fb[:, low] + frac * fb[:, low + 1]) / k
    return images / images.sum(axis=0, keepdims=True).clip(min=1e-9)  # a band's share per pitch class


def global_features(labels: ControlLabels) -> np.ndarray:
    """(B, GLOBAL_DIM) float32: [tempo | key | meter], each group zero where it is not known."""
    B = len(labels)
    out = np.zeros((B, GLOBAL_DIM), np.float32)
    tempo_known = np.isfinite(labels.bpm)
    x = np.log2(np.where(tempo_known, labels.bpm, 60.0) / 60.0)  # 0 at 60 BPM, 1.42 at 160
    rates = np.array([0.5, 1.0, 2.0, 4.0])
    angles = 2 * math.pi * x[:, None] * rates[None]
    tempo = np.concatenate([np.ones((B, 1)), x[:, None], np.cos(angles), np.sin(angles)], axis=1)
    out[:, :TEMPO_DIM] = tempo * tempo_known[:, None]
    images = pitch_class_mel_images()
    for b in range(B):
        if labels.key_pc[b] >= 0 and labels.minor[b] >= 0:
            tonic, minor = int(labels.key_pc[b]) % 12, int(labels.minor[b]) == 1
            chroma = scale_pitch_classes(tonic, minor)
            on_mel = chroma @ images - chroma.sum() / 12  # (n_mels,): the scale's bands above the chromatic mean
            key = np.concatenate([[1.0], np.eye(12)[tonic], np.eye(2)[int(minor)], chroma, on_mel * 4.0])
            out[b, TEMPO_DIM : TEMPO_DIM + KEY_DIM] = key
        if labels.beats_per_bar[b] in METERS:
            meter = np.zeros(METER_DIM)
            meter[0], meter[1 + METERS.index(int(labels.beats_per_bar[b]))] = 1.0, 1.0
            out[b, TEMPO_DIM + KEY_DIM :] = meter
    return out


def grid_features(labels: ControlLabels, n_frames: int, frame0: int | np.ndarray = 0) -> np.ndarray:
    """(B, n_frames, GRID_DIM) float32: the beat grid of frames frame0 .. frame0 + n_frames - 1 of each clip."""
    B = len(labels)
    out = np.zeros((B, n_frames, GRID_DIM), np.float32)
    known = np.isfinite(labels.bpm) & np.isfinite(labels.first_beat_s)
    if not known.any():
        return out
    frames = np.asarray(frame0).reshape(-1, 1) + np.arange(n_frames)[None]  # (1 or B, F)
    beat_frames = FRAMES_PER_S * 60.0 / np.where(known, labels.bpm, 120.0)  # (B,)
    first = np.where(known, labels.first_beat_s, 0.0) * FRAMES_PER_S
    beats = (frames - first[:, None]) / beat_frames[:, None]  # (B, F): beats since the first beat
    beat_phase = 2 * math.pi * beats
    bar_known = known & (labels.beats_per_bar > 0)
    bar_phase = beat_phase / np.where(bar_known, labels.beats_per_bar, 1)[:, None]
    distance = np.abs(beats - np.round(beats)) * beat_frames[:, None]  # frames to the nearest beat
    out[..., 0] = 1.0
    out[..., 1], out[..., 2] = np.cos(beat_phase), np.sin(beat_phase)
    out[..., 3] = np.cos(bar_phase) * bar_known[:, None]
    out[..., 4] = np.sin(bar_phase) * bar_known[:, None]
    out[..., 5] = np.exp(-0.5 * (distance / PULSE_WIDTH_FRAMES) ** 2)
    return out * known[:, None, None]


def labels_of_clips(lines: Sequence[dict]) -> ControlLabels:
    """The controls of prompt-data clips (their clips.jsonl records); builds without a beat grid: generated
    parts start on a 4-beat bar line, corpus excerpts' grids unknown."""
    from synth.data.captions import KEY_NAMES

    def grid_of(line: dict) -> tuple[float | None, int | None]:
        if "first_beat_s" in line:
            return line["first_beat_s"], line.get("beats_per_bar")
        return (0.0, 4) if line.get("source") == "pattern" else (None, None)

    grids = [grid_of(line) for line in lines]
    return ControlLabels.of(
        [line.get("bpm") for line in lines],
        [KEY_NAMES.index(line["key"]) if line.get("key") in KEY_NAMES else None for line in lines],
        [None if line.get("mode") not in ("major", "minor") else int(line["mode"] == "minor") for line in lines],
        [g[1] for g in grids],
        [g[0] for g in grids],
    )

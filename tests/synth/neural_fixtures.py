"""Tiny neural configs and seconds of synthetic audio for the neural instrument tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from synth.instruments.neural.neural_checkpoint import save_neural
from synth.instruments.neural.renderer import Renderer, RendererConfig
from synth.instruments.neural.vocoder import Vocoder, VocoderConfig

SAMPLE_RATE = 24000


def tiny_vocoder(seed: int = 0) -> Vocoder:
    import torch

    torch.manual_seed(seed)
    return Vocoder(VocoderConfig(channels=32, hidden=64, n_blocks=2)).eval()


def tiny_renderer(seed: int = 0) -> Renderer:
    import torch

    torch.manual_seed(seed)
    return Renderer(
        RendererConfig(pitch_dim=8, program_dim=4, note_hidden=16, channels=32, hidden=48, n_blocks=2)
    ).eval()


def save_tiny_models(folder: Path) -> Path:
    """models/renderer and models/vocoder with tiny random weights under `folder`."""
    save_neural(tiny_renderer(), folder / "renderer" / "model.safetensors")
    save_neural(tiny_vocoder(), folder / "vocoder" / "model.safetensors")
    return folder


def harmonic_notes(notes: list[tuple[int, int, float, float]], seconds: float) -> np.ndarray:
    """Sums of decaying harmonic partials for (pitch, velocity, start_s, end_s): float32 (n_samples,)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    out = np.zeros_like(t)
    for pitch, velocity, start_s, end_s in notes:
        f0_hz = 440.0 * 2 ** ((pitch - 69) / 12)
        age = t - start_s
        envelope = np.where(age >= 0, np.exp(-age / 0.8), 0.0) * np.where(t > end_s, np.exp(-(t - end_s) / 0.05), 1.0)
        for k in range(1, 6):
            if k * f0_hz < SAMPLE_RATE / 2:
                out += velocity / 127 * 0.1 / k * envelope * np.sin(2 * np.pi * k * f0_hz * age)
    return out.astype(np.float32)


def write_dataset(
    folder: Path, pieces_per_split: int = 2, seconds: float = 1.5, splits: tuple[str, ...] = ("train", "valid")
) -> Path:
    """An audio-data build (synth/data/audio_data.py's format): manifest.json, float16 shards, notes .npz."""
    rng = np.random.default_rng(0)
    shards = []
    for split in splits:
        (folder / split).mkdir(parents=True)
        audio, columns, starts = [], {k: [] for k in ("pitch", "velocity", "start_s", "end_s", "piece")}, []
        for index in range(pieces_per_split):
            notes = [
                (int(rng.integers(48, 72)), int(rng.integers(60, 120)), float(s), float(s + rng.uniform(0.1, 0.5)))
                for s in np.arange(0.0, seconds - 0.3, 0.25)
            ]
            start = sum(len(a) for a in audio)
            starts.append(start)
            audio.append(harmonic_notes(notes, seconds))
            for pitch, velocity, start_s, end_s in notes:
                for key, value in zip(columns, (pitch, velocity, start / SAMPLE_RATE + start_s,
                                                start / SAMPLE_RATE + end_s, index), strict=True):  # fmt: skip
                    columns[key].append(value)
        name = f"{split}/000-000"
        np.save(folder / f"{name}.npy", np.concatenate(audio).astype(np.float16))
        np.savez(
            folder / f"{name}.notes.npz",
            pitch=np.array(columns["pitch"], np.uint8),
            velocity=np.array(columns["velocity"], np.uint8),
            program=np.zeros(len(columns["pitch"]), np.uint8),
            start_s=np.array(columns["start_s"]),
            end_s=np.array(columns["end_s"]),
            piece=np.array(columns["piece"], np.int32),
            piece_start_sample=np.array(starts, np.int64),
            piece_n_samples=np.array([len(a) for a in audio], np.int64),
            sample_rate=np.array(SAMPLE_RATE, np.int32),
        )
        shards.append({"split": split, "program": 0, "audio": f"{name}.npy", "notes": f"{name}.notes.npz"})
    manifest = {"format": "composer-audio-data/1", "sample_rate": SAMPLE_RATE, "shards": shards}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder

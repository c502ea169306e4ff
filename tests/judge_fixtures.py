"""A tiny prompt-data build (the format of synth/data/prompt_data.py) whose families a judge can tell apart.

Three families, each a distinct sound: "bass" low harmonic tones, "pipe" high
sines, "drums" noise bursts. Clips are `clip_frames` log-mel frames long; the
heldout split also carries int16 audio, as the real builder's does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from synth.instruments.neural.mel import LogMel

SAMPLE_RATE = 24000
HOP = 256
FAMILIES = ("bass", "pipe", "drums")
TEXT_DIM = 384
CAPTIONS = 2


def clip_audio(family: str, rng: np.random.Generator, n_samples: int, bpm: float) -> np.ndarray:
    """One clip of `family` at `bpm` (a note or hit on every beat): float32 (n_samples,)."""
    t = np.arange(n_samples) / SAMPLE_RATE
    out = np.zeros(n_samples)
    beat_s = 60.0 / bpm
    for start_s in np.arange(0.02, n_samples / SAMPLE_RATE, beat_s):
        age = t - start_s
        on = age >= 0
        if family == "drums":
            out += on * rng.standard_normal(n_samples) * np.exp(-np.where(on, age, 0) / 0.05) * 0.3
            continue
        f0_hz = rng.uniform(50, 110) if family == "bass" else rng.uniform(1000, 2000)
        partials = 6 if family == "bass" else 1
        for k in range(1, partials + 1):
            out += on * np.sin(2 * np.pi * k * f0_hz * age) * np.exp(-np.where(on, age, 0) / 0.3) * 0.2 / k
    gain = 10 ** (rng.uniform(-6, 0) / 20)
    return (out * gain).astype(np.float32)


def write_prompt_data(
    folder: Path,
    clips_per_split: dict[str, int] | None = None,
    clip_frames: int = 160,
    seed: int = 0,
    poison_train: bool = True,
) -> Path:
    """manifest.json and train / judge_train / heldout shards + clips.jsonl under `folder`.

    With `poison_train` the train split (the diffusion model's) has NaN mels and out-of-range labels, so a
    judge trainer that read it would fail."""
    clips_per_split = clips_per_split or {"train": 4, "judge_train": 30, "heldout": 9}
    rng = np.random.default_rng(seed)
    n_samples = clip_frames * HOP
    frontend = LogMel()
    for split, n in clips_per_split.items():
        (folder / split).mkdir(parents=True, exist_ok=True)
        families = [i % len(FAMILIES) for i in range(n)]
        bpms = [float(rng.choice([60.0, 90.0, 120.0])) for _ in range(n)]
        audio = np.stack([clip_audio(FAMILIES[f], rng, n_samples, b) for f, b in zip(families, bpms, strict=True)])
        with torch.no_grad():
            mel = frontend(torch.from_numpy(audio)).numpy()  # (n, 80, clip_frames)
        label = np.array(families, dtype=np.int16)
        if split == "train" and poison_train:
            mel[:] = np.nan
            label[:] = 99
        text_emb = rng.standard_normal((n, CAPTIONS, TEXT_DIM)).astype(np.float32)
        text_emb /= np.linalg.norm(text_emb, axis=-1, keepdims=True)
        arrays = {"mel": mel.astype(np.float16), "text_emb": text_emb.astype(np.float16), "family": label}
        if split == "heldout":
            arrays["audio"] = np.round(np.clip(audio, -1, 1) * 32767).astype(np.int16)
        np.savez(folder / split / "shard-000.npz", **arrays)
        rows = []
        for i, (f, bpm) in enumerate(zip(families, bpms, strict=True)):
            drums = FAMILIES[f] == "drums"
            key, mode = (None, None) if drums else ("D", "minor")
            rows.append(
                {
                    "shard": "shard-000.npz",
                    "index": i,
                    "captions": [f"{FAMILIES[f]} at {int(bpm)} BPM", f"{FAMILIES[f]} in D minor" if key else "drums"],
                    "program": None if drums else 32,
                    "drums": drums,
                    "instrument": FAMILIES[f],
                    "family": FAMILIES[f],
                    "bpm": bpm,
                    "key": key,
                    "mode": mode,
                    "register": None if drums else "low",
                    "loudness": "medium",
                    "texture": "groove" if drums else "melody",
                }
            )
        (folder / split / "clips.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    manifest = {
        "format": "composer-prompt-data/1",
        "sample_rate": SAMPLE_RATE,
        "mel": LogMel().cfg.to_dict(),
        "clip_frames": clip_frames,
        "families": list(FAMILIES),
        "captions_per_clip": CAPTIONS,
        "splits": dict(clips_per_split),
    }
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def save_tiny_benchmark_models(folder: Path, clip_frames: int, texture: bool = False) -> dict[str, Path]:
    """Tiny diffusion model, vocoder and family judge (and texture judge) files for the prompt benchmarks."""
    from prompt_fixtures import save_tiny_prompt_models

    from synth.prompt.judge import Judge, JudgeConfig, save_judge
    from synth.train.judge_eval import TEXTURES

    diffusion, vocoder = save_tiny_prompt_models(folder, clip_frames=clip_frames)
    torch.manual_seed(0)
    tiny = {"channels": (4, 8, 8, 8), "feature_dim": 8}
    paths = {"diffusion": diffusion, "vocoder": vocoder, "judge": folder / "judge" / "model.safetensors"}
    save_judge(Judge(JudgeConfig(families=FAMILIES, **tiny)), paths["judge"], {"step": 1})
    if texture:
        paths["texture"] = folder / "texture_judge" / "model.safetensors"
        save_judge(Judge(JudgeConfig(families=TEXTURES, target="texture", **tiny)), paths["texture"], {"step": 2})
    return paths

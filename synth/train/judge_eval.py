"""Reading a prompt-data split and scoring clips with the judge: accuracies and the Frechet distance.

    split = read_split("data/prompt", "heldout", ("mel", "family"))   # arrays in shard order + clips.jsonl rows
    logits, features = judge_outputs(judge, split.arrays["mel"])         # batched, no grad
    accuracy_report(logits.argmax(1), split.arrays["family"], judge.cfg.families)
    labels = class_labels(split, "texture", TEXTURES)                      # (N,) indices of each clip's texture
    accuracy_report(logits.argmax(1), labels, TEXTURES, target="texture", confusion=True)
    frechet_distance(features_a, features_b)                              # (N, D), (M, D) -> float

The prompt-data format (manifest.json, <split>/shard-*.npz, <split>/clips.jsonl)
is described in synth/data/prompt_data.py.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from composer.errors import ComposerError
from synth.data import prompt_data

TEXTURES = ("melody", "arpeggio", "chords", "groove")  # ClipMeta.texture's values (synth.data.captions)


@dataclass
class Split:
    manifest: dict
    arrays: dict[str, np.ndarray]  # name -> (N, ...) in clips.jsonl order
    clips: list[dict]  # clips.jsonl rows


def read_manifest(data_dir: str | Path) -> dict:
    """The prompt-data manifest (synth.data.prompt_data's reader), which must list at least two families."""
    manifest = prompt_data.read_manifest(Path(data_dir))
    if not isinstance(manifest.get("families"), list) or len(manifest["families"]) < 2:
        raise ComposerError(Path(data_dir) / "manifest.json", "no list of families")
    return manifest


def read_split(data_dir: str | Path, split: str, keys: tuple[str, ...] = ("mel", "family")) -> Split:
    """The arrays `keys` of every shard of `split`, concatenated in clips.jsonl order, and the clips' rows."""
    data_dir = Path(data_dir)
    manifest = read_manifest(data_dir)
    folder = data_dir / split
    clips_path = folder / "clips.jsonl"
    if not clips_path.is_file():
        raise ComposerError(folder, f"no {split} split (clips.jsonl) here")
    clips = [json.loads(line) for line in clips_path.read_text().splitlines() if line.strip()]
    shards: dict[str, dict[str, np.ndarray]] = {}
    for name in dict.fromkeys(c["shard"] for c in clips):
        try:
            with np.load(folder / name) as npz:
                shards[name] = {k: npz[k] for k in keys}
        except (OSError, KeyError, ValueError) as exc:
            raise ComposerError(folder / name, f"unreadable shard ({exc})") from None
    arrays = {}
    for k in keys:
        parts, ordered = [], True
        for name in shards:  # fast path: clips.jsonl lists each shard's clips in order
            rows = [c["index"] for c in clips if c["shard"] == name]
            ordered &= rows == list(range(len(shards[name][k])))
            parts.append(shards[name][k])
        if ordered:
            arrays[k] = np.concatenate(parts) if parts else np.zeros(0)
        else:
            arrays[k] = np.stack([shards[c["shard"]][k][c["index"]] for c in clips])
    return Split(manifest, arrays, clips)


def class_labels(split: Split, target: str, classes: tuple[str, ...]) -> np.ndarray:
    """(N,) int64 index into `classes` of each clip's family (the shards' array) or texture (clips.jsonl's field)."""
    if target == "family":
        return split.arrays["family"].astype(np.int64)
    if target != "texture":
        raise ValueError(f"target must be 'family' or 'texture', not {target!r}")
    return texture_labels(split.clips, classes)


def texture_labels(clips: list[dict], classes: tuple[str, ...] = TEXTURES) -> np.ndarray:
    """(N,) int64 index into `classes` of each clips.jsonl row's texture; ComposerError for another texture."""
    textures = [clip.get("texture") for clip in clips]
    unknown = sorted({str(t) for t in textures if t not in classes})
    if unknown:
        raise ComposerError(None, f"clips of texture {unknown[:4]}, expected one of {list(classes)}")
    return np.array([classes.index(t) for t in textures], dtype=np.int64)


@torch.no_grad()
def judge_outputs(judge: torch.nn.Module, log_mel: np.ndarray | torch.Tensor, batch_size: int = 32):
    """(N, n_mels, T) log-mel (any float dtype) -> (logits (N, n_families), features (N, feature_dim)) as float32.

    The clips go to the judge's device in batches; the outputs come back on the CPU."""
    judge.eval()
    device = next(judge.parameters()).device
    logits, features = [], []
    for start in range(0, len(log_mel), batch_size):
        x = torch.as_tensor(np.asarray(log_mel[start : start + batch_size], dtype=np.float32), device=device)
        out, feat = judge(x)
        logits.append(out.float().cpu())
        features.append(feat.float().cpu())
    if not logits:
        return torch.zeros(0, judge.cfg.n_families), torch.zeros(0, judge.cfg.feature_dim)
    return torch.cat(logits), torch.cat(features)


def accuracy_report(
    predicted: np.ndarray,
    labels: np.ndarray,
    families: tuple[str, ...] | list[str],
    target: str = "family",
    confusion: bool = False,
) -> dict:
    """{target}_accuracy, balanced (mean per-class) accuracy, per-class accuracy, drums-vs-pitched accuracy where
    "drums" is a class; with `confusion`, {true class: {predicted class: count}} over the classes present."""
    predicted, labels = np.asarray(predicted).astype(int), np.asarray(labels).astype(int)
    if predicted.shape != labels.shape:
        raise ValueError(f"predicted {predicted.shape} and labels {labels.shape} differ in shape")
    if not len(labels):
        return {"n": 0}
    present = sorted(set(labels.tolist()))
    per_class = {families[f]: round(float((predicted[labels == f] == f).mean()), 4) for f in present}
    report = {
        "n": int(len(labels)),
        f"{target}_accuracy": round(float((predicted == labels).mean()), 4),
        f"balanced_{target}_accuracy": round(float(np.mean(list(per_class.values()))), 4),
        f"per_{target}": per_class,
    }
    if confusion:
        report["confusion"] = {
            families[f]: {name: int(np.sum(predicted[labels == f] == g)) for g, name in enumerate(families)}
            for f in present
        }
    if "drums" in families:
        drums = list(families).index("drums")
        report["drums_vs_pitched_accuracy"] = round(float(((predicted == drums) == (labels == drums)).mean()), 4)
    return report


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) -> (mean (D,), covariance (D, D)), float64."""
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise ValueError(f"expected (N >= 2, D) features, got shape {x.shape}")
    return x.mean(axis=0), np.cov(x, rowvar=False)


def frechet_from_stats(mu_a: np.ndarray, cov_a: np.ndarray, mu_b: np.ndarray, cov_b: np.ndarray) -> float:
    """|mu_a - mu_b|^2 + tr(A + B - 2 (A^1/2 B A^1/2)^1/2): the Frechet distance of two Gaussians.

    The matrix square roots go through symmetric eigendecompositions, so the result is real and stable
    for the rank-deficient covariances that a few hundred samples in many dimensions give."""
    w, v = np.linalg.eigh(cov_a)
    root_a = (v * np.sqrt(w.clip(min=0.0))) @ v.T
    middle = root_a @ cov_b @ root_a
    cross = np.sqrt(np.linalg.eigvalsh((middle + middle.T) / 2).clip(min=0.0)).sum()
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a) + np.trace(cov_b) - 2.0 * cross)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two sets of feature vectors (N, D) and (M, D)."""
    return frechet_from_stats(*feature_stats(features_a), *feature_stats(features_b))

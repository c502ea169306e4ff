"""The judge: a small CNN that tells a clip's instrument family (or its texture) from its log-mel, for evaluating
generated audio.

    judge = Judge(JudgeConfig(families=("piano", ..., "drums")))
    logits, features = judge(log_mel)    # (B, 80, T), T >= 128 -> (B, n_families), (B, feature_dim)
    judge, extra = load_judge("models/judge/model.safetensors")
    texture_judge, _ = load_judge(DEFAULT_TEXTURE_JUDGE_PATH, target="texture")   # classes: cfg.families

`target` says what the classes are: "family" (the instrument families, the
default, and what a file without the field holds) or "texture" (melody,
arpeggio, chords, groove). The class names stay in the `families` field for
either target, so the shipped family judge's file loads unchanged.

The log-mel is synth.instruments.neural.mel's (natural log, floored at log 1e-5); it is shifted
and scaled by fixed constants (no statistics to carry), then four conv blocks
(3x3 conv, batch norm, ReLU, 2x2 max-pool) take it to (C, n_mels / 16, T / 16).
The frequency axis is kept (flattened into the channels: where in the spectrum
the energy sits is much of what tells a bass from a flute) and the time axis is
averaged, so any length of at least `min_frames` works. A linear layer makes
the feature vector (the Frechet-distance embedding) and another the family
logits. Drums vs pitched is read off the family: "drums" is one of them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from composer.errors import ComposerError
from composer.model.checkpoint import load_model, save_model

KIND = "audio-judge"
DEFAULT_JUDGE_PATH = Path(__file__).resolve().parents[2] / "models" / "judge" / "model.safetensors"
DEFAULT_TEXTURE_JUDGE_PATH = DEFAULT_JUDGE_PATH.parents[1] / "texture_judge" / "model.safetensors"
TARGETS = ("family", "texture")  # what a judge's classes are
LOG_MEL_CENTER = -5.0  # log-mel values run from -11.5 (silence) to about +2
LOG_MEL_SCALE = 3.0


@dataclass
class JudgeConfig:
    families: tuple[str, ...] = ("drums",)  # the class names: instrument families, or textures (see target)
    n_mels: int = 80
    channels: tuple[int, ...] = (24, 48, 64, 96)
    feature_dim: int = 128
    min_frames: int = 128
    dropout: float = 0.2
    target: str = "family"  # one of TARGETS

    def __post_init__(self) -> None:
        self.families = tuple(self.families)
        if self.target not in TARGETS:
            raise ValueError(f"target must be one of {list(TARGETS)}, not {self.target!r}")
        self.channels = tuple(int(c) for c in self.channels)
        if len(self.families) < 2 or len(set(self.families)) != len(self.families):
            raise ValueError(f"families must be at least two distinct names, not {list(self.families)}")
        if not self.channels or min(self.channels) < 1:
            raise ValueError(f"channels must be positive, not {list(self.channels)}")
        pooled = 2 ** len(self.channels)
        if self.n_mels % pooled or self.min_frames < pooled:
            raise ValueError(f"n_mels ({self.n_mels}) and min_frames ({self.min_frames}) must allow {pooled}x pooling")
        if self.feature_dim < 1 or not 0 <= self.dropout < 1:
            raise ValueError(f"feature_dim must be positive and dropout in [0, 1): {self.feature_dim}, {self.dropout}")

    @property
    def n_families(self) -> int:
        return len(self.families)

    @property
    def classes(self) -> tuple[str, ...]:
        """What the logits' columns are: families for a family judge, textures for a texture judge."""
        return self.families

    def to_dict(self) -> dict:
        return {**asdict(self), "families": list(self.families), "channels": list(self.channels)}


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(), nn.MaxPool2d(2)
    )


class Judge(nn.Module):
    """Log-mel (B, n_mels, T >= min_frames) -> (class logits (B, n_families), features (B, feature_dim))."""

    def __init__(self, cfg: JudgeConfig) -> None:
        super().__init__()
        self.cfg = cfg
        widths = (1, *cfg.channels)
        self.blocks = nn.Sequential(*(conv_block(a, b) for a, b in zip(widths[:-1], widths[1:], strict=True)))
        bands = cfg.n_mels // 2 ** len(cfg.channels)
        self.embed = nn.Linear(cfg.channels[-1] * bands, cfg.feature_dim)
        self.dropout = nn.Dropout(cfg.dropout)
        self.head = nn.Linear(cfg.feature_dim, cfg.n_families)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def features(self, log_mel: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, T) -> (B, feature_dim), after the ReLU: the embedding the Frechet distance is taken on."""
        B, n_mels, n_frames = log_mel.shape
        cfg = self.cfg
        if n_mels != cfg.n_mels or n_frames < cfg.min_frames:
            raise ValueError(f"expected (B, {cfg.n_mels}, T >= {cfg.min_frames}) log-mel, got {tuple(log_mel.shape)}")
        x = (log_mel[:, None] - LOG_MEL_CENTER) / LOG_MEL_SCALE  # (B, 1, M, T)
        x = self.blocks(x)  # (B, C, M / 16, T / 16)
        x = x.mean(dim=3).flatten(1)  # (B, C * M / 16)
        return torch.relu(self.embed(x))

    def forward(self, log_mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.features(log_mel)
        return self.head(self.dropout(features)), features


def family_index(cfg: JudgeConfig, name: str) -> int:
    if name not in cfg.families:
        raise ValueError(f"{name!r} is not one of the judge's families {list(cfg.families)}")
    return cfg.families.index(name)


def save_judge(model: Judge, path: str | Path, extra: dict | None = None, dtype: torch.dtype = torch.float16) -> None:
    """Write the judge (fp16 by default) with its config, families included, in the safetensors metadata."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_model(model, path, KIND, extra, dtype)


def load_judge(
    path: str | Path = DEFAULT_JUDGE_PATH, device: str | torch.device = "cpu", target: str | None = None
) -> tuple[Judge, dict]:
    """Rebuild the judge from the file's config; (model in eval mode, extra). ComposerError for a bad file, and for
    a judge of another target than `target` (None: either)."""
    judge, extra = load_model(path, KIND, Judge, JudgeConfig, device)
    if target is not None and judge.cfg.target != target:
        raise ComposerError(path, f"a {judge.cfg.target} judge, expected a {target} judge")
    return judge, extra

"""Tiny, randomly initialised diffusion model and vocoder files for the prompted-audio tests."""

from __future__ import annotations

from pathlib import Path

import torch

from composer.model.checkpoint import save_model
from synth.instruments.neural.neural_checkpoint import save_neural
from synth.instruments.neural.vocoder import Vocoder, VocoderConfig
from synth.prompt.diffusion import DiffusionConfig, MelDiT
from synth.prompt.flow_sampler import KIND

CLIP_FRAMES = 64  # 0.68 s windows, so a couple of seconds already needs several


def tiny_diffusion(seed: int = 0, **config) -> MelDiT:
    """A 2-layer, 32-wide MelDiT whose zero-initialised layers (adaLN-Zero, output) are given random
    weights too, so its velocity depends on the noise, the time and the text."""
    torch.manual_seed(seed)
    cfg = dict(clip_frames=CLIP_FRAMES, patch_frames=8, d_model=32, n_layers=2, n_heads=2)
    cfg.update(config)
    n_mels = cfg.get("n_mels", 80)
    cfg.setdefault("mel_mean", [-4.0] * n_mels)
    cfg.setdefault("mel_std", [2.0] * n_mels)
    model = MelDiT(DiffusionConfig(**cfg))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    return model.eval()


def tiny_vocoder(seed: int = 0, **config) -> Vocoder:
    torch.manual_seed(seed)
    return Vocoder(VocoderConfig(**{"channels": 32, "hidden": 64, "n_blocks": 2, **config})).eval()


def save_tiny_prompt_models(folder: Path, **diffusion_config) -> tuple[Path, Path]:
    """folder/diffusion/model.safetensors and folder/vocoder/model.safetensors (COMPOSER_MODELS layout)."""
    diffusion = folder / "diffusion" / "model.safetensors"
    vocoder = folder / "vocoder" / "model.safetensors"
    diffusion.parent.mkdir(parents=True, exist_ok=True)
    save_model(tiny_diffusion(**diffusion_config), diffusion, KIND)
    save_neural(tiny_vocoder(), vocoder)
    return diffusion, vocoder

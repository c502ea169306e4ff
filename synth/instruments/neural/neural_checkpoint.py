"""Safetensors files for the vocoder and the renderer, config in the metadata.

    save_neural(model, "models/vocoder/model.safetensors", extra={"step": 1000})
    model, extra = load_neural("models/vocoder/model.safetensors", "vocoder")

Nothing is unpickled: the loader reads the JSON config, rebuilds the model
from it alone and refuses (ComposerError, naming the file) a file of another
kind, a bad config, or tensors missing or of the wrong shape.
"""

from __future__ import annotations

from pathlib import Path

import torch

from composer.model.checkpoint import load_model, save_model
from synth.instruments.neural.renderer import Renderer, RendererConfig
from synth.instruments.neural.vocoder import Vocoder, VocoderConfig

KINDS = {"vocoder": (Vocoder, VocoderConfig), "renderer": (Renderer, RendererConfig)}
NeuralModel = Vocoder | Renderer


def kind_of(model: NeuralModel) -> str:
    return "vocoder" if isinstance(model, Vocoder) else "renderer"


def save_neural(
    model: NeuralModel,
    path: str | Path,
    extra: dict | None = None,
    dtype: torch.dtype = torch.float32,
    tensors: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write weights (+ optional extra tensors such as optimizer state) atomically."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    save_model(model, path, kind_of(model), extra, dtype, tensors)


def load_neural(path: str | Path, kind: str, device: str | torch.device = "cpu") -> tuple[NeuralModel, dict]:
    """Rebuild a `kind` ("vocoder" or "renderer") model from the file's config; (model in eval mode, extra)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
    model_cls, config_cls = KINDS[kind]
    return load_model(path, kind, model_cls, config_cls, device)

"""Safetensors files for the vocoder and the renderer, config in the metadata.

    save_neural(model, "models/vocoder/model.safetensors", extra={"step": 1000})
    model, extra = load_neural("models/vocoder/model.safetensors", "vocoder")

Nothing is unpickled: the loader reads the JSON config, rebuilds the model
from it alone and refuses (ComposerError, naming the file) a file of another
kind, a bad config, or tensors missing or of the wrong shape.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from composer.atomic import atomic_write
from composer.checkpoint import read_metadata
from composer.errors import ComposerError
from synth.renderer import Renderer, RendererConfig
from synth.vocoder import Vocoder, VocoderConfig

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
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items()}
    if tensors:
        state.update({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    metadata = {"kind": kind_of(model), "config": json.dumps(model.cfg.to_dict()), "extra": json.dumps(extra or {})}
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(Path(path), lambda tmp: save_file(state, str(tmp), metadata=metadata))


def load_neural(path: str | Path, kind: str, device: str | torch.device = "cpu") -> tuple[NeuralModel, dict]:
    """Rebuild a `kind` ("vocoder" or "renderer") model from the file's config; (model in eval mode, extra)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, not {kind!r}")
    model_cls, config_cls = KINDS[kind]
    path = Path(path)
    meta = read_metadata(path)
    if meta.get("kind") != kind or "config" not in meta:
        raise ComposerError(path, f"not a {kind} file (kind {meta.get('kind')!r})")
    try:
        stored = json.loads(meta["config"])
        unknown = set(stored) - {f.name for f in fields(config_cls)}
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}")
        cfg = config_cls(**stored)
        extra = json.loads(meta.get("extra", "{}"))
    except (ValueError, TypeError) as exc:
        raise ComposerError(path, f"bad {kind} config ({exc})") from None
    model = model_cls(cfg)
    state = {}
    with safe_open(str(path), framework="pt") as f:
        stored_names = set(f.keys())  # noqa: SIM118 (safe_open is not iterable)
        for name, ref in model.state_dict().items():
            if name not in stored_names:
                raise ComposerError(path, f"tensor {name} missing for this config")
            tensor = f.get_tensor(name)
            if tuple(tensor.shape) != tuple(ref.shape):
                raise ComposerError(
                    path, f"tensor {name} has shape {tuple(tensor.shape)}, config needs {tuple(ref.shape)}"
                )
            state[name] = tensor.to(ref.dtype)
    model.load_state_dict(state)
    model.to(device).eval()
    return model, extra


def load_tensors(path: str | Path, prefix: str) -> dict[str, torch.Tensor]:
    """Extra tensors stored under `prefix` (e.g. optimizer state for resume)."""
    with safe_open(str(path), framework="pt") as f:
        return {k[len(prefix) :]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}  # noqa: SIM118

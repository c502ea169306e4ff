"""Safetensors checkpoints with the model config in the metadata.

Nothing is unpickled: `load_transformer` reads tensors and a JSON config,
rebuilds the model from the config alone, and refuses (ComposerError) a file
whose kind, config or tensor shapes do not match.
"""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from composer.errors import ComposerError
from composer.files.atomic import atomic_write
from composer.model.model import MusicTransformer, TransformerConfig

KIND = "music-transformer"
TIED = ("head.weight",)  # shares storage with tok_emb.weight


def save_model(
    model: torch.nn.Module,
    path: str | Path,
    kind: str,
    extra: dict | None = None,
    dtype: torch.dtype = torch.float32,
    tensors: dict[str, torch.Tensor] | None = None,
    skip: tuple[str, ...] = (),
) -> None:
    """Write a model with `model.cfg` (a dataclass with to_dict()) in the metadata, atomically.

    `tensors` adds named extras (optimizer state for resume); `skip` leaves out tied weights."""
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items() if k not in skip}
    if tensors:
        state.update({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    metadata = {"kind": kind, "config": json.dumps(model.cfg.to_dict()), "extra": json.dumps(extra or {})}
    atomic_write(Path(path), lambda tmp: save_file(state, str(tmp), metadata=metadata))


def read_metadata(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise ComposerError(path, "no such model file")
    try:
        with safe_open(str(path), framework="pt") as f:
            return f.metadata() or {}
    except Exception as exc:
        raise ComposerError(path, f"not a safetensors model file ({exc})") from None


def load_model(
    path: str | Path,
    kind: str,
    model_cls: type[torch.nn.Module],
    config_cls: type,
    device: str | torch.device = "cpu",
    skip: tuple[str, ...] = (),
) -> tuple[torch.nn.Module, dict]:
    """Rebuild `model_cls(config_cls(**stored config))` and load its tensors; (model in eval mode, extra).

    Refuses (ComposerError naming the file) another kind, a bad config, and tensors missing or of the
    wrong shape. `skip` names tied weights that are not stored."""
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
            if name in skip:
                continue
            if name not in stored_names:
                raise ComposerError(path, f"tensor {name} missing for this config")
            tensor = f.get_tensor(name)
            if tuple(tensor.shape) != tuple(ref.shape):
                shapes = f"{tuple(tensor.shape)}, config needs {tuple(ref.shape)}"
                raise ComposerError(path, f"tensor {name} has shape {shapes}")
            state[name] = tensor.to(ref.dtype)
    model.load_state_dict(state, strict=not skip)
    model.to(device).eval()
    return model, extra


def save_transformer(
    model: MusicTransformer,
    path: str | Path,
    extra: dict | None = None,
    dtype: torch.dtype = torch.float32,
    tensors: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write weights (+ optional extra tensors such as optimizer state) atomically."""
    save_model(model, path, KIND, extra, dtype, tensors, skip=TIED)


def load_transformer(path: str | Path, device: str | torch.device = "cpu") -> tuple[MusicTransformer, dict]:
    """Rebuild the model from the file's config; returns (model in eval mode, extra)."""
    return load_model(path, KIND, MusicTransformer, TransformerConfig, device, skip=TIED)


def load_tensors(path: str | Path, prefix: str) -> dict[str, torch.Tensor]:
    """Extra tensors stored under `prefix` (e.g. optimizer state for resume)."""
    with safe_open(str(path), framework="pt") as f:
        return {k[len(prefix) :]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}  # noqa: SIM118

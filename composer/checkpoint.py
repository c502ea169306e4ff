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

from composer.atomic import atomic_write
from composer.errors import ComposerError
from composer.model import MusicTransformer, TransformerConfig

KIND = "music-transformer"
TIED = ("head.weight",)  # shares storage with tok_emb.weight


def save_transformer(
    model: MusicTransformer,
    path: str | Path,
    extra: dict | None = None,
    dtype: torch.dtype = torch.float32,
    tensors: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write weights (+ optional extra tensors such as optimizer state) atomically."""
    state = {k: v.detach().to("cpu", dtype).contiguous() for k, v in model.state_dict().items() if k not in TIED}
    if tensors:
        state.update({k: v.detach().cpu().contiguous() for k, v in tensors.items()})
    metadata = {"kind": KIND, "config": json.dumps(model.cfg.to_dict()), "extra": json.dumps(extra or {})}
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


def load_transformer(path: str | Path, device: str | torch.device = "cpu") -> tuple[MusicTransformer, dict]:
    """Rebuild the model from the file's config; returns (model in eval mode, extra)."""
    path = Path(path)
    meta = read_metadata(path)
    if meta.get("kind") != KIND or "config" not in meta:
        raise ComposerError(path, f"not a {KIND} file (kind {meta.get('kind')!r})")
    try:
        stored = json.loads(meta["config"])
        known = {f.name for f in fields(TransformerConfig)}
        unknown = set(stored) - known
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)}")
        cfg = TransformerConfig(**stored)
    except (ValueError, TypeError) as exc:
        raise ComposerError(path, f"bad model config ({exc})") from None
    model = MusicTransformer(cfg)
    expected = {k: v for k, v in model.state_dict().items() if k not in TIED}
    state = {}
    with safe_open(str(path), framework="pt") as f:
        stored_names = set(f.keys())  # noqa: SIM118 (safe_open is not iterable)
        for name, ref in expected.items():
            if name not in stored_names:
                raise ComposerError(path, f"tensor {name} missing for this config")
            tensor = f.get_tensor(name)
            if tuple(tensor.shape) != tuple(ref.shape):
                raise ComposerError(
                    path, f"tensor {name} has shape {tuple(tensor.shape)}, config needs {tuple(ref.shape)}"
                )
            state[name] = tensor.to(ref.dtype)
    model.load_state_dict(state, strict=False)
    model.to(device).eval()
    return model, json.loads(meta.get("extra", "{}"))


def load_tensors(path: str | Path, prefix: str) -> dict[str, torch.Tensor]:
    """Extra tensors stored under `prefix` (e.g. optimizer state for resume)."""
    with safe_open(str(path), framework="pt") as f:
        return {k[len(prefix) :]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}  # noqa: SIM118

"""Safetensors checkpoints with the model config in the metadata.

Nothing is unpickled: `load_transformer` reads tensors and a JSON config,
rebuilds the model from the config alone, and refuses (ComposerError, one line
naming the file) a file whose kind, config, tensor names, shapes or dtypes do
not match, whose weights are not finite, or that is truncated or not safetensors.
While the model is built from the config, the bytes of its tensors are counted
and a tensor that would take them past a few times the file's size is refused
before it is allocated, so a hostile config cannot exhaust the memory.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import fields, replace
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch.overrides import TorchFunctionMode

from composer.errors import ComposerError
from composer.files.atomic import atomic_write
from composer.model.model import MusicTransformer, TransformerConfig
from composer.tokens import VOCAB_SIZE

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
    if path.is_dir():
        raise ComposerError(path, "is a directory, expected a safetensors model file")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as exc:  # SafetensorError, OSError, ...: truncated, not safetensors, a header that lies
        raise ComposerError(path, f"not a safetensors model file ({_first_line(exc)})") from None
    return meta


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


FLOAT_DTYPES = {"F16", "BF16", "F32", "F64"}
MEMORY_SLACK = 4  # a model may hold buffers the file does not store, but not 4 times what the file holds
MEMORY_BASE = 256 * 1024 * 1024
MAX_CONFIG_INT = 2**20  # sizes, counts and rates in a config: a 192 kHz sample rate fits, ten million notes do not
MAX_WEIGHT = 1e6  # trained weights are small; a flipped exponent bit makes them 1e38


class _TooLarge(Exception):
    pass


class _MemoryBudget(TorchFunctionMode):
    """While a model is built from a config read from a file: counts the bytes of the tensors made, and refuses a
    tensor factory call (before it allocates) that would pass `budget`, so a config with absurd sizes is a clear
    error, not minutes of swapping or the out-of-memory killer. Torch functions pass through unchanged."""

    SIZED = {torch.empty, torch.zeros, torch.ones, torch.rand, torch.randn, torch.full, torch.randint}

    def __init__(self, budget: int) -> None:
        super().__init__()
        self.budget, self.used, self.seen = budget, 0, set()

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in self.SIZED:
            size = _factory_size(func, args, kwargs)
            if size is not None:
                dtype = kwargs.get("dtype") or (torch.int64 if func is torch.randint else torch.get_default_dtype())
                self._charge(math.prod(size) * torch.empty((), dtype=dtype).element_size())
                result = func(*args, **kwargs)
                self.seen.add(result.untyped_storage().data_ptr())
                return result
        result = func(*args, **kwargs)
        if isinstance(result, torch.Tensor) and result.device.type != "meta":
            storage = result.untyped_storage()
            if storage.data_ptr() not in self.seen:
                self.seen.add(storage.data_ptr())
                self._charge(storage.nbytes())
        return result

    def _charge(self, nbytes: int) -> None:
        self.used += nbytes
        if self.used > self.budget:
            raise _TooLarge(self.used)


def _factory_size(func, args: tuple, kwargs: dict) -> tuple[int, ...] | None:
    """The size a tensor factory was asked for (None when it cannot be told: the call then checks it)."""
    if "size" in kwargs:
        size = kwargs["size"]
    elif func is torch.full:
        size = args[0] if args else None
    elif func is torch.randint:
        size = args[-1] if args else None
    elif len(args) == 1 and isinstance(args[0], tuple | list | torch.Size):
        size = args[0]
    else:
        size = args
    if isinstance(size, int):
        size = (size,)
    if not isinstance(size, tuple | list | torch.Size):
        return None
    if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in size):
        return None
    return tuple(size)


def _check_types(config_cls: type, stored: dict) -> None:
    """A stored config's plain fields have their declared types (int, float, bool, str; an int within
    0..MAX_CONFIG_INT), before the model's own checks see them: a 2.5 or a true where a size goes, or a size
    in the millions that the weights do not show (a note count, a sample rate), only fails later, deep inside."""
    for f in fields(config_cls):
        if f.name not in stored:
            continue
        value, kind = stored[f.name], f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
        if kind == "int" and (
            not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_CONFIG_INT
        ):
            raise ValueError(f"{f.name} {str(value)[:30]!r} is not a whole number from 0 to {MAX_CONFIG_INT}")
        if kind == "float" and (
            not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value)
        ):
            raise ValueError(f"{f.name} {str(value)[:30]!r} is not a number")
        if kind == "bool" and not isinstance(value, bool):
            raise ValueError(f"{f.name} {str(value)[:30]!r} is not true or false")
        if kind == "str" and not isinstance(value, str):
            raise ValueError(f"{f.name} {str(value)[:30]!r} is not text")


def _build(model_cls: type[torch.nn.Module], cfg, path: Path, kind: str) -> torch.nn.Module:
    budget = MEMORY_SLACK * path.stat().st_size + MEMORY_BASE
    try:
        with _MemoryBudget(budget), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # e.g. "Initializing zero-element tensors": the line below says enough
            return model_cls(cfg)
    except _TooLarge as exc:
        size = f"{exc.args[0] / 1e9:.1f} GB" if exc.args[0] >= 1e9 else f"{exc.args[0] / 1e6:.0f} MB"
        held = f"{path.stat().st_size / 1e6:.1f} MB"
        raise ComposerError(
            path, f"its {kind} config makes a model of more than {size}; the file holds {held}"
        ) from None
    except Exception as exc:  # a config of the wrong types or values: torch and the model raise many kinds
        raise ComposerError(path, f"bad {kind} config ({type(exc).__name__}: {_first_line(exc)})") from None


def load_model(
    path: str | Path,
    kind: str,
    model_cls: type[torch.nn.Module],
    config_cls: type,
    device: str | torch.device = "cpu",
    skip: tuple[str, ...] = (),
) -> tuple[torch.nn.Module, dict]:
    """Rebuild `model_cls(config_cls(**stored config))` and load its tensors; (model in eval mode, extra).

    Refuses (ComposerError naming the file) another kind, a bad config or extra, a config that makes a model
    far larger than the file, and tensors missing, of the wrong shape or dtype, or not finite. `skip` names
    tied weights that are not stored."""
    path = Path(path)
    meta = read_metadata(path)
    if meta.get("kind") != kind or "config" not in meta:
        raise ComposerError(path, f"not a {kind} file (kind {str(meta.get('kind'))[:40]!r})")
    try:
        stored = json.loads(meta["config"])
        if not isinstance(stored, dict):
            raise TypeError(f"the config is {type(stored).__name__}, expected an object")
        unknown = set(stored) - {f.name for f in fields(config_cls)}
        if unknown:
            raise ValueError(f"unknown config keys {sorted(unknown)[:8]}")
        _check_types(config_cls, stored)
        cfg = config_cls(**stored)
        extra = json.loads(meta.get("extra", "{}"))
        if not isinstance(extra, dict):
            raise TypeError(f"extra is {type(extra).__name__}, expected an object")
    except ComposerError:
        raise
    except Exception as exc:  # ValueError, TypeError, RecursionError; a config's own checks may raise others
        raise ComposerError(path, f"bad {kind} config ({_first_line(exc)})") from None
    model = _build(model_cls, cfg, path, kind)
    try:
        with safe_open(str(path), framework="pt") as f:
            stored_names = set(f.keys())  # noqa: SIM118 (safe_open is not iterable)
            expected = {name: ref for name, ref in model.state_dict().items() if name not in skip}
            for name, ref in expected.items():
                if name not in stored_names:
                    raise ComposerError(path, f"tensor {name} missing for this config")
                piece = f.get_slice(name)
                shape, dtype = tuple(piece.get_shape()), piece.get_dtype()
                if shape != tuple(ref.shape):
                    raise ComposerError(path, f"tensor {name} has shape {shape}, config needs {tuple(ref.shape)}")
                if ref.dtype.is_floating_point and dtype not in FLOAT_DTYPES:  # (counters may be saved as floats)
                    raise ComposerError(path, f"tensor {name} is stored as {dtype}, expected {ref.dtype}")
            state = {}
            for name, ref in expected.items():
                tensor = f.get_tensor(name)
                if tensor.is_floating_point() and tensor.numel():
                    if not bool(torch.isfinite(tensor).all()):
                        raise ComposerError(path, f"tensor {name} holds values that are not numbers (NaN or infinity)")
                    peak = float(tensor.abs().max())
                    if peak > MAX_WEIGHT:
                        raise ComposerError(path, f"tensor {name} holds a value of {peak:.3g}: corrupt weights?")
                state[name] = tensor.to(ref.dtype)
    except ComposerError:
        raise
    except Exception as exc:  # SafetensorError on data the header does not match, MemoryError, ...
        reason = f"{type(exc).__name__}: {_first_line(exc)}"
        raise ComposerError(path, f"cannot load the {kind} weights ({reason})") from None
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
    """Rebuild the model from the file's config; returns (model in eval mode, extra). A file from before the
    FUTURE token (one id fewer) gets a zero row for it: it never saw one, and is never given one (cfg.fim)."""
    model, extra = load_model(path, KIND, MusicTransformer, TransformerConfig, device, skip=TIED)
    if model.cfg.vocab_size == VOCAB_SIZE - 1:
        model = _grown(model)
    return model, extra


@torch.no_grad()
def _grown(model: MusicTransformer) -> MusicTransformer:
    grown = MusicTransformer(replace(model.cfg, vocab_size=VOCAB_SIZE)).to(model.tok_emb.weight.device)
    state = model.state_dict()
    weight = state.pop("tok_emb.weight")
    state.pop("head.weight", None)
    grown.load_state_dict(state, strict=False)
    grown.tok_emb.weight.zero_()
    grown.tok_emb.weight[: weight.shape[0]] = weight
    return grown.eval()


def load_tensors(path: str | Path, prefix: str) -> dict[str, torch.Tensor]:
    """Extra tensors stored under `prefix` (e.g. optimizer state for resume)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return {k[len(prefix) :]: f.get_tensor(k) for k in f.keys() if k.startswith(prefix)}  # noqa: SIM118
    except Exception as exc:
        raise ComposerError(path, f"not a safetensors model file ({_first_line(exc)})") from None

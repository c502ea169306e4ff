"""Pieces every training loop of the project shares (composer.train.loop runs them).

The LR schedule, the device choice and torchrun/DDP set-up, and AdamW moments kept in safetensors
for resume (keys `opt.{i}.exp_avg`, `opt.{i}.exp_avg_sq`, in the optimizer's
own parameter order).
"""

from __future__ import annotations

import math
import os
from typing import Protocol

import torch
import torch.distributed as dist

from composer.errors import ComposerError

DEVICES = ("auto", "cpu", "cuda")


class Schedule(Protocol):
    lr: float
    min_lr_ratio: float
    warmup_steps: int
    steps: int
    max_minutes: float


def lr_at(tc: Schedule, step: int, elapsed_s: float) -> float:
    """Linear warm-up, then cosine decay to `min_lr_ratio` by steps or by the wall-time budget, whichever is further."""
    if step < tc.warmup_steps:
        return tc.lr * (step + 1) / tc.warmup_steps
    done = (step - tc.warmup_steps) / max(1, tc.steps - tc.warmup_steps)
    if tc.max_minutes > 0:
        done = max(done, elapsed_s / (tc.max_minutes * 60))
    cosine = 0.5 * (1 + math.cos(math.pi * min(done, 1.0)))
    return tc.lr * (tc.min_lr_ratio + (1 - tc.min_lr_ratio) * cosine)


def resolve_device(choice: str = "auto") -> str:
    """The device of `--device`: "auto" is "cuda" where torch sees a GPU, else "cpu".

    "cuda" where there is none is a ComposerError."""
    if choice not in DEVICES:
        raise ComposerError("--device", f"{choice!r}: expected one of {', '.join(DEVICES)}")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if choice == "cuda" and not torch.cuda.is_available():
        raise ComposerError("--device", "cuda: torch sees no CUDA device here")
    return choice


def setup_distributed(device: str = "auto") -> tuple[int, int, torch.device]:
    """(rank, world size, device): a process group under torchrun (NCCL on GPU, gloo on CPU)."""
    kind = resolve_device(device)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if kind == "cuda" else "gloo")
    rank = dist.get_rank() if world > 1 else 0
    if kind == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        return rank, world, torch.device("cuda", local)
    return rank, world, torch.device("cpu")


def optimizer_params(opt: torch.optim.Optimizer) -> list[torch.nn.Parameter]:
    """Parameters in the optimizer's own index order (its state_dict keys)."""
    return [p for group in opt.param_groups for p in group["params"]]


def adam_moments(opt: torch.optim.Optimizer) -> dict[str, torch.Tensor]:
    """The Adam(W) moments as named tensors, for a safetensors checkpoint."""
    moments = {}
    for i, p in enumerate(optimizer_params(opt)):
        state = opt.state.get(p, {})
        if "exp_avg" in state:
            moments[f"opt.{i}.exp_avg"] = state["exp_avg"]
            moments[f"opt.{i}.exp_avg_sq"] = state["exp_avg_sq"]
    return moments


def restore_adam_moments(opt: torch.optim.Optimizer, moments: dict[str, torch.Tensor], step: int, device) -> None:
    """Load moments saved by `adam_moments` (keys without the `opt.` prefix) back into `opt`."""
    state = opt.state_dict()
    for i, _ in enumerate(optimizer_params(opt)):
        if f"{i}.exp_avg" in moments:
            state["state"][i] = {
                "step": torch.tensor(float(step)),
                "exp_avg": moments[f"{i}.exp_avg"].to(device),
                "exp_avg_sq": moments[f"{i}.exp_avg_sq"].to(device),
            }
    opt.load_state_dict(state)


def adamw(
    model: torch.nn.Module, lr: float, weight_decay: float, betas: tuple[float, float], no_decay: tuple[str, ...] = ()
) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases, norms, nor parameters named in `no_decay`)."""
    decayed, plain = [], []
    for name, p in model.named_parameters():
        (plain if p.dim() < 2 or any(key in name for key in no_decay) else decayed).append(p)
    groups = [{"params": decayed, "weight_decay": weight_decay}, {"params": plain, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=lr, betas=betas)

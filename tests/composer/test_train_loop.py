"""composer.train.loop: resume carries on exactly, the best checkpoint is kept, copies are atomic, one process
needs no communication."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

from composer.errors import ComposerError
from composer.model.checkpoint import load_model, save_model
from composer.train.loop import Run, Validation, copy_atomic, rank0_value
from composer.train.train import TrainConfig
from composer.train.train_kit import adamw, lr_at, resolve_device


@dataclass
class ToyConfig:
    width: int = 4

    def to_dict(self) -> dict:
        return asdict(self)


class Toy(torch.nn.Module):
    def __init__(self, cfg: ToyConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.lin = torch.nn.Linear(cfg.width, 1)


def loop_config(out: Path, **changes) -> TrainConfig:
    """The transformer's config serves the toy: the loop reads only its own fields."""
    fields = {"steps": 30, "lr": 1e-2, "warmup_steps": 5, "eval_every": 10, "progress": False, "device": "cpu"}
    return TrainConfig(**{**fields, "out_dir": str(out), **changes})


def read_log(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def train_toy(tc: TrainConfig, scores=None, stop_at: int | None = None):
    """Regress a fixed linear map; each step's batch depends only on the step. `scores`: validation scores
    by step (else the validation loss); `stop_at`: raise KeyboardInterrupt as that step begins."""
    run = Run(tc)
    model = Toy(ToyConfig())
    opt = adamw(model, tc.lr, 0.01, betas=(0.9, 0.99))
    if run.resuming:
        loaded, extra = load_model(run.last_path, "toy", Toy, ToyConfig)
        model.load_state_dict(loaded.state_dict())
        run.restore(opt, extra)
    target = torch.arange(1.0, 5.0)

    def batch(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = torch.randn(8, 4, generator=torch.Generator().manual_seed(step))
        return x, x @ target

    def step_loss(module: torch.nn.Module) -> torch.Tensor:
        if stop_at is not None and run.step == stop_at:
            raise KeyboardInterrupt
        x, y = batch(run.step)
        return torch.nn.functional.mse_loss(module.lin(x)[:, 0], y)

    @torch.no_grad()
    def validate() -> Validation:
        x, y = batch(10_000)
        loss = float(torch.nn.functional.mse_loss(model.lin(x)[:, 0], y))
        score = scores[run.step] if scores is not None else loss
        return Validation(score, {"valid_loss": round(loss, 4)})

    result = run.train(
        model,
        opt,
        step_loss,
        validate,
        lambda path, extra, tensors: save_model(model, path, "toy", extra=extra, tensors=tensors),
        start=lambda: {"params": 5},
    )
    return run.finish({"event": "end", "step": result.step, **result.ranks()}), model


def test_resume_continues_the_step_count_the_lr_and_the_weights(tmp_path):
    straight = loop_config(tmp_path / "straight")
    _, model_a = train_toy(straight)
    broken = loop_config(tmp_path / "broken")
    with pytest.raises(KeyboardInterrupt):
        train_toy(broken, stop_at=20)  # the last checkpoint is step 20's (eval_every 10)
    summary, model_b = train_toy(TrainConfig(**{**asdict(broken), "resume": True}))
    assert summary["step"] == 30
    torch.testing.assert_close(model_b.state_dict(), model_a.state_dict(), rtol=0, atol=0)  # Adam moments too
    lrs_a = {e["step"]: e["lr"] for e in read_log(tmp_path / "straight") if "lr" in e}
    lrs_b = {e["step"]: e["lr"] for e in read_log(tmp_path / "broken") if "lr" in e}
    assert lrs_b == lrs_a and lrs_b[30] == lr_at(straight, 29, 0.0)
    log_b = read_log(tmp_path / "broken")
    assert sum(e.get("event") == "start" for e in log_b) == 1  # a resumed run does not start the log again
    assert [e["step"] for e in log_b if "valid_loss" in e] == [10, 20, 30]
    _, extra = load_model(tmp_path / "broken" / "last.safetensors", "toy", Toy, ToyConfig)
    assert extra["step"] == 30 and extra["train_config"]["resume"] is True


def test_best_is_kept_and_copied_atomically(tmp_path):
    out = tmp_path / "run"
    scores = {10: 3.0, 20: 1.0, 30: 2.0, 40: float("nan"), 50: 1.5}
    train_toy(loop_config(out, steps=50), scores=scores)
    best = [e["best"] for e in read_log(out) if "valid_loss" in e]
    assert best == [True, True, False, False, False]
    _, extra = load_model(out / "best.safetensors", "toy", Toy, ToyConfig)
    assert extra["step"] == 20 and extra["best_valid_loss"] == 1.0
    _, last = load_model(out / "last.safetensors", "toy", Toy, ToyConfig)
    assert last["step"] == 50 and last["best_valid_loss"] == 1.0
    assert sorted(p.name for p in out.iterdir()) == ["best.safetensors", "last.safetensors", "log.jsonl"]


def test_a_budget_stop_validates_the_last_step(tmp_path):
    out = tmp_path / "run"
    summary, _ = train_toy(loop_config(out, steps=10**9, max_minutes=0.002, eval_every=10**6))
    log = read_log(out)
    assert 0 < summary["step"] < 10**9 and summary["rank_steps"] == [summary["step"]]
    assert [e["step"] for e in log if "valid_loss" in e] == [summary["step"]]
    assert (out / "best.safetensors").exists()


def test_no_clipping_no_grad_norm(tmp_path):
    train_toy(loop_config(tmp_path / "run", steps=10, grad_clip=0.0))
    lines = [e for e in read_log(tmp_path / "run") if "loss" in e]
    assert [e["step"] for e in lines] == [1, 10] and all("grad_norm" not in e for e in lines)


def test_rank0_value_with_one_process_is_a_no_op():
    assert not dist.is_initialized()
    assert rank0_value(12.5, world=1) == 12.5
    assert rank0_value(math.inf, world=1, device="cpu") == math.inf
    assert not dist.is_initialized()


def test_copy_atomic_replaces_or_leaves_the_target(tmp_path):
    source, target = tmp_path / "last.bin", tmp_path / "best.bin"
    source.write_bytes(b"new")
    target.write_bytes(b"old")
    copy_atomic(source, target)
    assert target.read_bytes() == b"new"
    with pytest.raises(ComposerError, match="best.bin"):
        copy_atomic(tmp_path / "missing.bin", target)
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.bin", "last.bin"]


def test_device_choice():
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ComposerError, match="--device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ComposerError, match="cuda"):
            resolve_device("cuda")

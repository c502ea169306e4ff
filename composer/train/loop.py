"""The training loop the project's trainers share: each brings its model, its batches and its loss.

    run = Run(tc, best_key="best_valid_loss")      # threads, torchrun ranks, device, OUT, torch seed
    model = Model(cfg).to(run.device)
    opt = adamw(model, tc.lr, tc.weight_decay, betas=(0.9, 0.99))
    if run.resuming:                                # --resume and OUT/last.safetensors exists
        loaded, extra = load(run.last_path)
        model.load_state_dict(loaded.state_dict())
        run.restore(opt, extra)                     # Adam moments, step, best score, elapsed time
    result = run.train(model, opt, step_loss, validate, save, start=start_fields)
    return run.finish({"event": "end", "step": result.step, "elapsed_s": result.elapsed_s, ...})

What `Run.train` does for every trainer: the learning rate of each step
(train_kit.lr_at: warm-up, then cosine by step or by the wall-time budget,
whichever is further along), bf16 autocast on CUDA (unless the trainer says
`amp=False`), gradient clipping (`grad_clip` > 0), the optimizer step, a
progress bar (loss, lr, ETA), a JSONL log line at step 1 and every 10 steps,
validation every `eval_every` steps and at the end, the last checkpoint
written after each validation (OUT/last.safetensors, with the Adam moments,
the step, the best score and the elapsed time in its metadata, so `--resume`
carries on), and OUT/best.safetensors an atomic copy of it whenever the score
improves. Under torchrun (one process per rank) the model is wrapped in
DistributedDataParallel, only rank 0 validates, writes and logs, and with a
wall-time budget every rank takes rank 0's clock each step (`rank0_value`),
so all stop at the same step with the same learning rate. The end summary
lists each rank's last step, learning rate and weight checksum.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
import torch.distributed as dist

from composer.files.atomic import atomic_write
from composer.model.checkpoint import load_tensors
from composer.train.train_kit import adam_moments, lr_at, restore_adam_moments, setup_distributed

LOG_EVERY = 10  # steps between log lines (and step 1)


class LoopConfig(Protocol):
    out_dir: str
    steps: int
    max_minutes: float  # 0: no wall-time budget
    lr: float
    min_lr_ratio: float
    warmup_steps: int
    grad_clip: float  # 0: no clipping
    eval_every: int
    seed: int
    threads: int  # torch CPU threads; 0: torch's default
    resume: bool
    progress: bool
    device: str  # "auto", "cpu" or "cuda"


@dataclass
class Validation:
    """What a trainer's `validate()` returns."""

    score: Any  # lower is better (a float, or a tuple compared in order); the best checkpoint has the lowest
    log: dict  # the fields of the log line, e.g. {"valid_loss": 0.31}
    extra: dict = field(default_factory=dict)  # added to the metadata of the checkpoint written after it
    message: str = ""  # a line above the progress bar


@dataclass
class Result:
    step: int
    elapsed_s: float  # this run and those it resumed, rounded to 0.1 s
    best: Any  # the best validation score (rank 0's)
    rank_steps: list[int]
    rank_lrs: list[float]
    rank_checksums: list[float]

    def ranks(self) -> dict:
        return {"rank_steps": self.rank_steps, "rank_lrs": self.rank_lrs, "rank_checksums": self.rank_checksums}


def rank0_value(value: float, world: int, device: torch.device | str = "cpu") -> float:
    """Rank 0's `value` on every rank (a broadcast); with one process, `value` itself and no communication."""
    if world <= 1:
        return value
    shared = torch.tensor([value], dtype=torch.float64, device=device)
    dist.broadcast(shared, src=0)
    return float(shared.item())


def param_checksum(model: torch.nn.Module) -> float:
    return float(sum(p.detach().double().sum().item() * (i + 1) for i, p in enumerate(model.parameters())))


def copy_atomic(source: Path, target: Path) -> None:
    """`target` becomes a copy of `source` at once: copied to a temporary name beside it, then renamed."""
    atomic_write(Path(target), lambda tmp: shutil.copyfile(source, tmp))


def broadcast_module(module: torch.nn.Module, world: int) -> None:
    """Rank 0's parameters and buffers in `module` on every rank (for a copy DDP does not hold, e.g. an EMA)."""
    if world > 1:
        for tensor in [*module.parameters(), *module.buffers()]:
            dist.broadcast(tensor.data, src=0)


def eta_s(tc: LoopConfig, step: int, elapsed_s: float, run_s: float, run_steps: int) -> float:
    """Seconds left: by steps at this run's pace, or by the wall-time budget if sooner."""
    by_steps = (tc.steps - step) * run_s / max(run_steps, 1)
    if tc.max_minutes > 0:
        return max(0.0, min(by_steps, tc.max_minutes * 60 - elapsed_s))
    return by_steps


def clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


class Run:
    """One training run: its process (threads, rank, device), its folder, its log, and where it stands.

    `best_key` names the best score in the checkpoint metadata; `worst` is the score before any."""

    def __init__(self, tc: LoopConfig, best_key: str = "best_valid_loss", worst: Any = math.inf) -> None:
        self.tc = tc
        if tc.threads > 0:
            torch.set_num_threads(tc.threads)
        self.rank, self.world, self.device = setup_distributed(tc.device)
        self.is_main = self.rank == 0
        self.out = Path(tc.out_dir)
        if self.is_main:
            self.out.mkdir(parents=True, exist_ok=True)
        self.last_path, self.best_path = self.out / "last.safetensors", self.out / "best.safetensors"
        self.log_path = self.out / "log.jsonl"
        self.best_key = best_key
        self.step, self.best, self.elapsed_before = 0, worst, 0.0
        self.resuming = bool(tc.resume) and self.last_path.exists()
        self._t0 = time.monotonic()
        torch.manual_seed(tc.seed)

    def log(self, entry: dict) -> None:
        """One JSON line in OUT/log.jsonl (rank 0 only)."""
        if self.is_main:
            with open(self.log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def elapsed(self) -> float:
        """Seconds trained: this run's so far plus those of the runs it resumed."""
        return self.elapsed_before + time.monotonic() - self._t0

    def restore(self, opt: torch.optim.Optimizer, extra: dict) -> None:
        """Resume from OUT/last.safetensors, whose metadata is `extra`: Adam moments, step, best score, time."""
        restore_adam_moments(opt, load_tensors(self.last_path, "opt."), extra["step"], self.device)
        best = extra[self.best_key]
        self.step, self.best = extra["step"], tuple(best) if isinstance(best, list) else best
        self.elapsed_before = extra.get("elapsed_s", 0.0)

    def train(
        self,
        model: torch.nn.Module,
        opt: torch.optim.Optimizer,
        step_loss: Callable[[torch.nn.Module], torch.Tensor],
        validate: Callable[[], Validation],
        save: Callable[[Path, dict, dict[str, torch.Tensor]], None],
        *,
        start: Callable[[], dict] | None = None,
        after_step: Callable[[int], None] | None = None,
        metrics: Callable[[float], dict[str, float]] | None = None,
        desc: str = "train",
        amp: bool = True,
    ) -> Result:
        """Train from `self.step` to `tc.steps` (or the wall-time budget); validate and checkpoint on the way.

        step_loss(module): one training batch's loss, forward through `module` (the DDP wrapper under torchrun).
        validate(): rank 0 only, on `model`; the loop puts `model` back in training mode after it.
        save(path, extra, tensors): write the checkpoint: the weights, `extra` in the metadata and `tensors`
            (the Adam moments, `opt.*`) beside them.
        start(): the fields of the log's first line (a fresh run's rank 0 only).
        after_step(step): after each optimizer step, with the step's 0-based index (e.g. an EMA update).
        metrics(run_s): more numbers for the bar and the log lines, given the seconds this run has taken.
        amp: bf16 autocast on CUDA around step_loss.
        """
        tc = self.tc
        ddp = torch.nn.parallel.DistributedDataParallel(model) if self.world > 1 else model
        use_amp = amp and self.device.type == "cuda"
        if self.is_main and self.step == 0 and start is not None:
            self.log({"event": "start", **start(), "world": self.world, "device": str(self.device)})
        bar = None
        if self.is_main and tc.progress:
            from tqdm import tqdm

            bar = tqdm(total=tc.steps, initial=self.step, desc=desc, unit="step")
        self._t0 = time.monotonic()
        start_step, validated_at = self.step, None
        lr = lr_at(tc, self.step, self.elapsed_before)
        model.train()
        try:
            while self.step < tc.steps:
                elapsed = self.elapsed()
                if tc.max_minutes > 0:
                    elapsed = rank0_value(elapsed, self.world, self.device)
                    if elapsed >= tc.max_minutes * 60:
                        break
                lr = lr_at(tc, self.step, elapsed)
                for group in opt.param_groups:
                    group["lr"] = lr
                with torch.autocast("cuda", dtype=torch.bfloat16) if use_amp else nullcontext():
                    loss = step_loss(ddp)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                grad_norm = None
                if tc.grad_clip > 0:
                    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
                opt.step()
                if after_step is not None:
                    after_step(self.step)
                self.step += 1
                more = metrics(time.monotonic() - self._t0) if metrics is not None else {}
                if bar is not None:
                    run_s = time.monotonic() - self._t0
                    eta = eta_s(tc, self.step, self.elapsed(), run_s, self.step - start_step)
                    shown = {k: f"{v:.0f}" for k, v in more.items()}
                    bar.set_postfix(loss=f"{loss.item():.3f}", **shown, lr=f"{lr:.2e}", eta=clock(eta))
                    bar.update(1)
                if self.step % LOG_EVERY == 0 or self.step == 1:
                    entry = {"step": self.step, "loss": round(loss.item(), 4), "lr": lr}
                    if grad_norm is not None:
                        entry["grad_norm"] = round(float(grad_norm), 3)
                    self.log({**entry, **{k: round(v, 1) for k, v in more.items()}, "elapsed_s": round(elapsed, 1)})
                if self.is_main and (self.step % tc.eval_every == 0 or self.step == tc.steps):
                    self._evaluate(model, opt, validate, save, bar)
                    validated_at = self.step
            if self.is_main and validated_at != self.step:
                self._evaluate(model, opt, validate, save, bar)
        finally:
            if bar is not None:
                bar.close()
        ranks = torch.tensor([float(self.step), lr, param_checksum(model)], dtype=torch.float64, device=self.device)
        gathered = [ranks]
        if self.world > 1:
            gathered = [torch.zeros_like(ranks) for _ in range(self.world)]
            dist.all_gather(gathered, ranks)
        rows = [g.tolist() for g in gathered]
        return Result(
            step=self.step,
            elapsed_s=round(self.elapsed(), 1),
            best=self.best,
            rank_steps=[int(r[0]) for r in rows],
            rank_lrs=[r[1] for r in rows],
            rank_checksums=[r[2] for r in rows],
        )

    def _evaluate(self, model, opt, validate, save, bar) -> None:
        """Validate, log, write the last checkpoint, and copy it to the best one if the score improved."""
        result = validate()
        model.train()
        improved = bool(result.score < self.best)
        if improved:
            self.best = result.score
        self.log({"step": self.step, **result.log, "best": improved})
        if bar is not None and result.message:
            bar.write(f"step {self.step}: {result.message}{' (best)' if improved else ''}")
        extra = {
            "step": self.step,
            self.best_key: self.best,
            "elapsed_s": self.elapsed(),
            "train_config": asdict(self.tc),
            **result.extra,
        }
        save(self.last_path, extra, adam_moments(opt))
        if improved or not self.best_path.exists():
            copy_atomic(self.last_path, self.best_path)

    def finish(self, summary: dict) -> dict:
        """Log the end summary (rank 0), leave the process group; returns the summary."""
        self.log(summary)
        if self.world > 1 and dist.is_initialized():
            dist.barrier()  # no rank tears its sockets down while another still talks (gloo aborts then)
            dist.destroy_process_group()
        return summary

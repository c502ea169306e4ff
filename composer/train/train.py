"""Train the Music Transformer: CPU, one GPU, or many under torchrun (DDP).

AdamW, linear warm-up then cosine decay (by step or by the wall-time budget,
whichever is further along), gradient clipping, dropout, bf16 autocast on
CUDA, validation NLL (nats/token) every `eval_every` steps, the best
checkpoint kept, resume from the last checkpoint, a progress bar with loss,
tokens/s and ETA, and a JSONL log. Under torchrun each rank draws its own
windows; DDP averages gradients so every rank holds the same weights (the
last log line lists a checksum per rank to show it).
"""

from __future__ import annotations

import json
import shutil
import time
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F

from composer.model.checkpoint import load_tensors, load_transformer, save_transformer
from composer.model.model import MusicTransformer, TransformerConfig
from composer.tokens import PAD, VOCAB_SIZE
from composer.train.dataset import TokenCorpus
from composer.train.train_kit import adam_moments, adamw, lr_at, restore_adam_moments, setup_distributed


@dataclass
class TrainConfig:
    data_dir: str = "data/corpus"
    out_dir: str = "runs/transformer"
    steps: int = 10_000
    max_minutes: float = 0.0  # 0 = no wall-time budget
    batch_size: int = 16
    lr: float = 1e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 200
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 200
    eval_tokens: int = 40_000
    seed: int = 0
    threads: int = 0  # torch CPU threads; 0 = leave torch's default
    resume: bool = False
    progress: bool = True


@torch.no_grad()
def evaluate_nll(
    model: MusicTransformer, windows: list[np.ndarray], device: torch.device, batch_size: int = 16
) -> float:
    """Mean NLL in nats per (non-PAD) target token over the given windows."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch_size):
        group = windows[i : i + batch_size]
        width = max(len(w) for w in group)
        batch = np.full((len(group), width), PAD, dtype=np.int64)
        for row, w in enumerate(group):
            batch[row, : len(w)] = w
        ids = torch.from_numpy(batch).to(device)
        logits, _ = model(ids[:, :-1])
        targets = ids[:, 1:]
        loss = F.cross_entropy(
            logits.float().reshape(-1, VOCAB_SIZE), targets.reshape(-1), ignore_index=PAD, reduction="sum"
        )
        total += loss.item()
        count += int((targets != PAD).sum())
    model.train(was_training)
    return total / max(count, 1)


def _eta_s(tc: TrainConfig, step: int, elapsed_s: float, run_s: float, run_steps: int) -> float:
    """Seconds left: by steps at this run's pace, or by the wall-time budget if sooner."""
    by_steps = (tc.steps - step) * run_s / max(run_steps, 1)
    if tc.max_minutes > 0:
        return max(0.0, min(by_steps, tc.max_minutes * 60 - elapsed_s))
    return by_steps


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{secs:02d}"


def param_checksum(model: torch.nn.Module) -> float:
    return float(sum(p.detach().double().sum().item() * (i + 1) for i, p in enumerate(model.parameters())))


def train(tc: TrainConfig, mc: TransformerConfig) -> dict:
    """Run training; returns the final summary (also the last JSONL line)."""
    if tc.threads > 0:
        torch.set_num_threads(tc.threads)
    rank, world, device = setup_distributed()
    is_main = rank == 0
    out = Path(tc.out_dir)
    if is_main:
        out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed + 1000 * rank)

    train_set = TokenCorpus(Path(tc.data_dir), "train")
    valid_windows = TokenCorpus(Path(tc.data_dir), "valid").eval_windows(mc.max_len, tc.eval_tokens) if is_main else []

    model = MusicTransformer(mc).to(device)
    opt = adamw(model, tc.lr, tc.weight_decay, betas=(0.9, 0.98), no_decay=("rel_emb",))
    step, best_nll, elapsed_before = 0, float("inf"), 0.0
    last_path, best_path, log_path = out / "last.safetensors", out / "best.safetensors", out / "log.jsonl"
    if tc.resume and last_path.exists():
        loaded, extra = load_transformer(last_path)
        model.load_state_dict(loaded.state_dict())
        restore_adam_moments(opt, load_tensors(last_path, "opt."), extra["step"], device)
        step, best_nll, elapsed_before = extra["step"], extra["best_valid_nll"], extra.get("elapsed_s", 0.0)
    ddp = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    autocast = torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()

    def log(entry: dict) -> None:
        if is_main:
            with open(log_path, "a") as f:
                f.write(json.dumps(entry) + "\n")

    def checkpoint(path: Path) -> None:
        moments = adam_moments(opt)
        extra = {
            "step": step,
            "best_valid_nll": best_nll,
            "elapsed_s": elapsed_before + time.monotonic() - t0,
            "train_config": asdict(tc),
        }
        save_transformer(model, path, extra=extra, tensors=moments)

    if is_main and step == 0:
        log(
            {"event": "start", "params": model.num_params(), "model": mc.to_dict(), "train": asdict(tc), "world": world}
        )
    bar = None
    if is_main and tc.progress:
        from tqdm import tqdm

        bar = tqdm(total=tc.steps, initial=step, desc="train", unit="step")
    t0 = time.monotonic()
    start_step = step
    tokens_seen = 0
    model.train()
    while step < tc.steps:
        elapsed = elapsed_before + time.monotonic() - t0
        if tc.max_minutes > 0 and elapsed >= tc.max_minutes * 60:
            break
        lr = lr_at(tc, step, elapsed)
        for group in opt.param_groups:
            group["lr"] = lr
        batch = torch.from_numpy(train_set.random_batch(rng, tc.batch_size, mc.max_len)).to(device)
        with autocast:
            logits, _ = ddp(batch[:, :-1])
            loss = F.cross_entropy(logits.float().reshape(-1, VOCAB_SIZE), batch[:, 1:].reshape(-1), ignore_index=PAD)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
        opt.step()
        step += 1
        tokens_seen += int((batch[:, 1:] != PAD).sum()) * world
        tok_per_s = tokens_seen / max(time.monotonic() - t0, 1e-6)
        if bar is not None:
            eta = _eta_s(tc, step, elapsed_before + time.monotonic() - t0, time.monotonic() - t0, step - start_step)
            bar.set_postfix(loss=f"{loss.item():.3f}", tok_s=f"{tok_per_s:.0f}", lr=f"{lr:.2e}", eta=_clock(eta))
            bar.update(1)
        if step % 10 == 0:
            log(
                {
                    "step": step,
                    "loss": round(loss.item(), 4),
                    "lr": lr,
                    "grad_norm": round(float(grad_norm), 3),
                    "tok_per_s": round(tok_per_s, 1),
                    "elapsed_s": round(elapsed, 1),
                }
            )
        if is_main and (step % tc.eval_every == 0 or step == tc.steps):
            nll = evaluate_nll(model, valid_windows, device)
            improved = nll < best_nll
            best_nll = min(best_nll, nll)
            log({"step": step, "valid_nll": round(nll, 4), "best": improved})
            if bar is not None:
                bar.write(f"step {step}: valid NLL {nll:.4f} nats/token{' (best)' if improved else ''}")
            checkpoint(last_path)
            if improved:
                shutil.copyfile(last_path, best_path)
    if bar is not None:
        bar.close()

    summary = {"event": "end", "step": step, "elapsed_s": round(elapsed_before + time.monotonic() - t0, 1)}
    if is_main:
        nll = evaluate_nll(model, valid_windows, device)
        if nll < best_nll or not best_path.exists():
            best_nll = min(best_nll, nll)
            checkpoint(last_path)
            shutil.copyfile(last_path, best_path)
        else:
            checkpoint(last_path)
        summary["best_valid_nll"] = round(best_nll, 4)
    checksum = torch.tensor([param_checksum(model)], dtype=torch.float64)
    if world > 1:
        gathered = [torch.zeros_like(checksum) for _ in range(world)]
        dist.all_gather(gathered, checksum)
        summary["rank_checksums"] = [float(g.item()) for g in gathered]
        dist.destroy_process_group()
    else:
        summary["rank_checksums"] = [float(checksum.item())]
    log(summary)
    return summary

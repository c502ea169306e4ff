"""Train the Music Transformer: CPU, one GPU, or many under torchrun (DDP).

The model, its batches and its loss; the loop is composer.train.loop's (AdamW,
linear warm-up then cosine decay by step or by the wall-time budget, gradient
clipping, bf16 autocast on CUDA, validation every `eval_every` steps, the best
checkpoint kept, resume, a progress bar and a JSONL log). Validation: NLL in
nats per token on fixed windows of the valid split; the bar shows tokens/s.
Under torchrun each rank draws its own windows; DDP averages gradients so every
rank holds the same weights (the last log line lists a checksum per rank).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from composer.model.checkpoint import load_transformer, save_transformer
from composer.model.model import MusicTransformer, TransformerConfig
from composer.tokens import PAD, VOCAB_SIZE
from composer.train.dataset import TokenCorpus
from composer.train.loop import Run, Validation
from composer.train.train_kit import adamw


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
    device: str = "auto"  # "auto" (CUDA if torch sees a GPU), "cpu" or "cuda"
    init: str = ""  # a model file to start from (fine-tuning); its model config is the run's
    style_alpha: float = 1.0  # pieces drawn with style shares of tokens**alpha (TokenCorpus.piece_weights)
    fim_rate: float = 0.0  # share of infilling examples (composer.train.fim); > 0 marks the model cfg.fim


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


def train(tc: TrainConfig, mc: TransformerConfig) -> dict:
    """Run training; returns the final summary (also the last JSONL line)."""
    if tc.fim_rate > 0:
        mc = replace(mc, fim=True)
    run = Run(tc, best_key="best_valid_nll")
    rng = np.random.default_rng(tc.seed + 1000 * run.rank)
    train_set = TokenCorpus(Path(tc.data_dir), "train")
    # a style-balanced run is judged on every style alike, not on the split's first (folk) tokens
    balanced = tc.style_alpha < 1
    valid_set = TokenCorpus(Path(tc.data_dir), "valid") if run.is_main else None
    valid = valid_set.eval_windows(mc.max_len, tc.eval_tokens, per_style=balanced) if valid_set else []
    model = MusicTransformer(mc).to(run.device)
    if tc.init and not run.resuming:
        model.load_state_dict(load_transformer(tc.init)[0].state_dict())
    weights = train_set.piece_weights(tc.style_alpha)
    opt = adamw(model, tc.lr, tc.weight_decay, betas=(0.9, 0.98), no_decay=("rel_emb",))
    if run.resuming:
        loaded, extra = load_transformer(run.last_path)
        model.load_state_dict(loaded.state_dict())
        run.restore(opt, extra)
    tokens_seen = 0

    def step_loss(module: torch.nn.Module) -> torch.Tensor:
        nonlocal tokens_seen
        rows = train_set.random_batch(rng, tc.batch_size, mc.max_len, weights=weights, fim_rate=tc.fim_rate)
        batch = torch.from_numpy(rows).to(run.device)
        logits, _ = module(batch[:, :-1])
        tokens_seen += int((batch[:, 1:] != PAD).sum()) * run.world
        return F.cross_entropy(logits.float().reshape(-1, VOCAB_SIZE), batch[:, 1:].reshape(-1), ignore_index=PAD)

    def validate() -> Validation:
        nll = evaluate_nll(model, valid, run.device)
        return Validation(nll, {"valid_nll": round(nll, 4)}, message=f"valid NLL {nll:.4f} nats/token")

    result = run.train(
        model,
        opt,
        step_loss,
        validate,
        lambda path, extra, tensors: save_transformer(model, path, extra=extra, tensors=tensors),
        start=lambda: {"params": model.num_params(), "model": mc.to_dict(), "train": asdict(tc)},
        metrics=lambda run_s: {"tok_per_s": tokens_seen / max(run_s, 1e-6)},
    )
    summary = {"event": "end", "step": result.step, "elapsed_s": result.elapsed_s}
    if run.is_main:
        summary["best_valid_nll"] = round(result.best, 4)
    return run.finish(summary | result.ranks())

"""`composer train diffusion [options]`: train the text-conditioned mel diffusion model (CPU or one GPU).

    composer train diffusion --data data/prompt --max-minutes 80 --threads 1 \
        --export models/diffusion/model.safetensors

The data folder is a prompt-data build (`composer prompt-data build`: manifest.json and
train/shard-*.npz of log-mel clips with caption embeddings). The exported file holds the
EMA weights of the best checkpoint in float16, the config (with the per-band mel statistics)
in its metadata; `synth.prompt.flow_sampler.load_diffusion` reads it. Registered by
tui/commands/train_audio.py.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from composer.errors import ComposerError

DEFAULT_EXPORT = Path("models/diffusion/model.safetensors")


def register(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser("diffusion", help="the text-prompted mel diffusion model (flow matching)")
    p.add_argument("--data", default="data/prompt", help="a prompt-data build (manifest.json and shards)")
    p.add_argument("--out", default="runs/diffusion", help="checkpoints and log.jsonl go here")
    p.add_argument("--steps", type=int, default=50_000)
    p.add_argument("--max-minutes", type=float, default=0.0, help="wall-time budget; the LR schedule follows it")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=4e-4)
    p.add_argument("--warmup-steps", type=int, default=300)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--valid-clips", type=int, default=64, help="train clips set aside for the validation loss")
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--t-sampling", choices=("logit-normal", "uniform"), default="logit-normal")
    p.add_argument("--d-model", type=int, default=192)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--patch-frames", type=int, default=8, help="mel frames per transformer token")
    p.add_argument("--cond-dropout", type=float, default=0.15, help="share of examples trained without their text")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.safetensors")
    p.add_argument(
        "--export", type=Path, default=None, help=f"write the best EMA weights as fp16 here (e.g. {DEFAULT_EXPORT})"
    )
    p.set_defaults(run=run_diffusion)


def run_diffusion(args: argparse.Namespace) -> int:
    import torch

    from composer.model.checkpoint import save_model
    from synth.prompt.diffusion import DiffusionConfig
    from synth.prompt.flow_sampler import KIND, load_diffusion
    from synth.train.train_diffusion import DiffusionTrainConfig, train_diffusion

    for name in ("steps", "batch_size", "eval_every", "valid_clips", "d_model", "layers", "heads", "patch_frames"):
        if getattr(args, name) <= 0:
            raise ComposerError(f"--{name.replace('_', '-')}", "must be positive")
    if not 0 <= args.ema_decay < 1:
        raise ComposerError("--ema-decay", "must be in [0, 1)")
    if not Path(args.data, "manifest.json").is_file():
        raise ComposerError(args.data, "no manifest.json here; build the data with `composer prompt-data build`")
    try:
        mc = DiffusionConfig(
            d_model=args.d_model,
            n_layers=args.layers,
            n_heads=args.heads,
            patch_frames=args.patch_frames,
            cond_dropout=args.cond_dropout,
        )
    except ValueError as exc:
        raise ComposerError("--d-model/--heads/--patch-frames/--cond-dropout", str(exc)) from None
    tc = DiffusionTrainConfig(
        data_dir=args.data,
        out_dir=args.out,
        steps=args.steps,
        max_minutes=args.max_minutes,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_steps=min(args.warmup_steps, args.steps),
        eval_every=args.eval_every,
        valid_clips=args.valid_clips,
        ema_decay=args.ema_decay,
        t_sampling=args.t_sampling,
        seed=args.seed,
        threads=args.threads,
        resume=args.resume,
    )
    summary = train_diffusion(tc, mc)
    print(f"done: {summary['step']} steps in {summary['elapsed_s']} s, best valid loss {summary['best_valid_loss']}")
    if args.export is not None:
        model, extra = load_diffusion(Path(args.out) / "best.safetensors")
        args.export.parent.mkdir(parents=True, exist_ok=True)
        save_model(model, args.export, KIND, extra=extra, dtype=torch.float16)
        shutil.copyfile(Path(args.out) / "log.jsonl", args.export.with_name("train_log.jsonl"))
        print(f"exported {args.export}")
    return 0

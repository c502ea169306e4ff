"""`composer train diffusion [options]`: train the text-conditioned mel diffusion model (CPU, GPU or torchrun).

    composer train diffusion --data data/prompt --max-minutes 80 --threads 1 \
        --export models/diffusion/model.safetensors

The data folder is a prompt-data build (`composer prompt-data build`: manifest.json and
train/shard-*.npz of log-mel clips with caption embeddings). The exported file holds the
EMA weights of the best checkpoint in float16, the config (with the per-band mel statistics)
in its metadata; `synth.prompt.flow_sampler.load_diffusion` reads it. Registered by
tui/commands/train.py; the shared options are tui/train_options.py's.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from composer.errors import ComposerError
from tui import train_options


def register(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser("diffusion", help="the text-prompted mel diffusion model (flow matching; torchrun too)")
    train_options.add_run_options(p, "diffusion")
    p.add_argument("--valid-clips", type=int, default=64, help="train clips set aside for the validation loss")
    p.add_argument("--ema-decay", type=float, default=0.999)
    p.add_argument("--t-sampling", choices=("logit-normal", "uniform"), default="logit-normal")
    p.add_argument("--d-model", type=int, default=192)
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--heads", type=int, default=6)
    p.add_argument("--patch-frames", type=int, default=8, help="mel frames per transformer token")
    p.add_argument("--cond-dropout", type=float, default=0.15, help="share of examples trained without their text")
    p.add_argument(
        "--controls",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="tempo, key, meter and the beat grid as inputs beside the text (default: on)",
    )
    p.add_argument("--control-dropout", type=float, default=0.15, help="share of examples trained without each control")
    p.add_argument(
        "--init", type=Path, default=None, help="start from this model file (fine-tune); its size options win"
    )
    p.add_argument(
        "--key-weight",
        type=float,
        default=0.0,
        help="weight of the key term: the velocity error's pitch-class balance (synth/train/key_loss.py); 0: off",
    )
    p.set_defaults(run=run_diffusion, kind="diffusion")


def run_diffusion(args: argparse.Namespace) -> int:
    import torch

    from composer.model.checkpoint import save_model
    from synth.prompt.diffusion import DiffusionConfig
    from synth.prompt.flow_sampler import KIND, load_diffusion
    from synth.train.train_diffusion import DiffusionTrainConfig, train_diffusion

    positive = ("valid_clips", "d_model", "layers", "heads", "patch_frames")
    fractions = ("ema_decay", "cond_dropout", "control_dropout")
    train_options.check_options(args, "manifest.json", "composer prompt-data build", positive, fractions=fractions)
    if not (math.isfinite(args.key_weight) and args.key_weight >= 0):
        raise ComposerError("--key-weight", f"must be a finite number >= 0, not {args.key_weight}")
    if args.init is not None and not args.init.is_file():
        raise ComposerError(args.init, "no model file here (--init)")
    try:
        mc = DiffusionConfig(
            d_model=args.d_model,
            n_layers=args.layers,
            n_heads=args.heads,
            patch_frames=args.patch_frames,
            cond_dropout=args.cond_dropout,
            controls=args.controls,
            control_dropout=args.control_dropout,
        )
    except ValueError as exc:
        raise ComposerError("--d-model/--heads/--patch-frames/--cond-dropout", str(exc)) from None
    tc = DiffusionTrainConfig(
        **train_options.run_config(args, "valid_clips", "ema_decay", "t_sampling"),
        init=str(args.init or ""),
        key_weight=args.key_weight,
    )
    summary = train_diffusion(tc, mc)
    if "best_valid_loss" not in summary:  # another rank than 0 under torchrun
        return 0
    print(f"done: {summary['step']} steps in {summary['elapsed_s']} s, best valid loss {summary['best_valid_loss']}")
    if args.export is not None:
        model, extra = load_diffusion(Path(args.out) / "best.safetensors")
        train_options.export_best(args, lambda path: save_model(model, path, KIND, extra=extra, dtype=torch.float16))
    return 0

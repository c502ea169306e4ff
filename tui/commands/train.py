"""`composer train transformer [options]`: train the co-composer (CPU, GPU or torchrun).

`composer train vocoder|renderer` live in tui/commands/train_audio.py, `composer train judge` in
tui/commands/train_judge.py.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from composer.errors import ComposerError
from tui.commands.train_audio import register as register_audio
from tui.commands.train_judge import register as register_judge

DEFAULT_EXPORT = Path("models/transformer/model.safetensors")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model")
    kinds = p.add_subparsers(dest="kind", metavar="MODEL", required=True)
    t = kinds.add_parser("transformer", help="the Music Transformer co-composer (works under torchrun too)")
    t.add_argument("--data", default="data/corpus", help="built corpus folder (composer corpus build)")
    t.add_argument("--out", default="runs/transformer", help="checkpoints and log.jsonl go here")
    t.add_argument("--steps", type=int, default=10_000)
    t.add_argument("--max-minutes", type=float, default=0.0, help="wall-time budget; the LR schedule follows it")
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--warmup-steps", type=int, default=200)
    t.add_argument("--eval-every", type=int, default=200)
    t.add_argument("--eval-tokens", type=int, default=40_000)
    t.add_argument("--layers", type=int, default=4)
    t.add_argument("--heads", type=int, default=4)
    t.add_argument("--d-model", type=int, default=256)
    t.add_argument("--d-ff", type=int, default=1024)
    t.add_argument("--context", type=int, default=512, help="tokens of context")
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--absolute", action="store_true", help="learned absolute positions instead of relative attention")
    t.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--resume", action="store_true", help="continue from OUT/last.safetensors")
    t.add_argument(
        "--export", type=Path, default=None, help=f"write the best weights as fp16 here (e.g. {DEFAULT_EXPORT})"
    )
    t.set_defaults(run=run_transformer)
    register_audio(kinds)
    register_judge(kinds)


def run_transformer(args: argparse.Namespace) -> int:
    import torch

    from composer.model.checkpoint import load_transformer, save_transformer
    from composer.model.model import TransformerConfig
    from composer.tokens import VOCAB_SIZE
    from composer.train.train import TrainConfig, train

    for name in ("steps", "batch_size", "layers", "heads", "d_model", "d_ff", "context"):
        if getattr(args, name) <= 0:
            raise ComposerError(f"--{name.replace('_', '-')}", "must be positive")
    if not 0 <= args.dropout < 1:
        raise ComposerError("--dropout", "must be in [0, 1)")
    if not Path(args.data, "train.npy").exists():
        raise ComposerError(args.data, "no built corpus here; run `composer corpus build` first")
    try:
        mc = TransformerConfig(
            vocab_size=VOCAB_SIZE,
            max_len=args.context,
            n_layer=args.layers,
            n_head=args.heads,
            d_model=args.d_model,
            d_ff=args.d_ff,
            dropout=args.dropout,
            relative=not args.absolute,
        )
    except ValueError as exc:
        raise ComposerError("--d-model", str(exc)) from None
    tc = TrainConfig(
        data_dir=args.data,
        out_dir=args.out,
        steps=args.steps,
        max_minutes=args.max_minutes,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup_steps=args.warmup_steps,
        eval_every=args.eval_every,
        eval_tokens=args.eval_tokens,
        seed=args.seed,
        threads=args.threads,
        resume=args.resume,
    )
    summary = train(tc, mc)
    if "best_valid_nll" in summary:
        print(
            f"done: {summary['step']} steps in {summary['elapsed_s']} s, "
            f"best valid NLL {summary['best_valid_nll']} nats/token"
        )
    if args.export is not None and "best_valid_nll" in summary:
        model, extra = load_transformer(Path(args.out) / "best.safetensors")
        extra = {k: v for k, v in extra.items() if k != "train_config"} | {"train_config": extra.get("train_config")}
        args.export.parent.mkdir(parents=True, exist_ok=True)
        save_transformer(model, args.export, extra=extra, dtype=torch.float16)
        shutil.copyfile(Path(args.out) / "log.jsonl", args.export.with_name("train_log.jsonl"))
        print(f"exported {args.export}")
    return 0

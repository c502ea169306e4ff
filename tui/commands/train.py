"""`composer train transformer|vocoder|renderer|diffusion|judge [options]`: train a model (CPU, GPU or torchrun).

The transformer lives here; `composer train vocoder|renderer` in tui/commands/train_audio.py, `diffusion`
in tui/commands/train_diffusion.py, `judge` in tui/commands/train_judge.py. The options every kind has
(--steps, --max-minutes, --batch-size, --lr, --device, --resume, --export, ...) and the export are
tui/train_options.py's.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from composer.errors import ComposerError
from tui import train_options
from tui.commands.train_audio import register as register_audio
from tui.commands.train_judge import register as register_judge


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a model")
    kinds = p.add_subparsers(dest="kind", metavar="MODEL", required=True)
    t = kinds.add_parser("transformer", help="the Music Transformer co-composer (works under torchrun too)")
    train_options.add_run_options(t, "transformer")
    t.add_argument("--eval-tokens", type=int, default=40_000)
    t.add_argument("--layers", type=int, default=4)
    t.add_argument("--heads", type=int, default=4)
    t.add_argument("--d-model", type=int, default=256)
    t.add_argument("--d-ff", type=int, default=1024)
    t.add_argument("--context", type=int, default=512, help="tokens of context")
    t.add_argument("--dropout", type=float, default=0.1)
    t.add_argument("--absolute", action="store_true", help="learned absolute positions instead of relative attention")
    t.add_argument(
        "--init", type=Path, default=None, help="start from this model file (fine-tune); its size options win"
    )
    t.add_argument(
        "--style-alpha",
        type=float,
        default=1.0,
        help="style balance: each style drawn with a share of its tokens**A (1 = by tokens, 0 = styles alike)",
    )
    t.add_argument(
        "--fim-rate",
        type=float,
        default=0.0,
        help="share of infilling examples (what follows a gap, then the gap); the model then infills with it",
    )
    t.set_defaults(run=run_transformer)
    register_audio(kinds)  # vocoder, renderer, and diffusion
    register_judge(kinds)


def run_transformer(args: argparse.Namespace) -> int:
    import torch

    from composer.model.checkpoint import load_transformer, save_transformer
    from composer.model.model import TransformerConfig
    from composer.tokens import VOCAB_SIZE
    from composer.train.train import TrainConfig, train

    positive = ("layers", "heads", "d_model", "d_ff", "context")
    train_options.check_options(args, "train.npy", "composer corpus build", positive, fractions=("dropout",))
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
    if not 0 <= args.style_alpha <= 1:
        raise ComposerError("--style-alpha", "must be in [0, 1]")
    if not 0 <= args.fim_rate <= 1:
        raise ComposerError("--fim-rate", "must be in [0, 1]")
    if args.init is not None:  # the file's own shape (and so its config) is the run's; dropout is the option's
        mc = replace(load_transformer(args.init)[0].cfg, dropout=args.dropout)
    # The transformer's warm-up is the option's, never cut to the steps (as it always was).
    tc = TrainConfig(
        **train_options.run_config(args, "eval_tokens", "warmup_steps", "style_alpha", "fim_rate"),
        init=str(args.init or ""),
    )
    summary = train(tc, mc)
    if "best_valid_nll" not in summary:  # another rank than 0 under torchrun
        return 0
    print(
        f"done: {summary['step']} steps in {summary['elapsed_s']} s, "
        f"best valid NLL {summary['best_valid_nll']} nats/token"
    )
    if args.export is not None:
        model, extra = load_transformer(Path(args.out) / "best.safetensors")
        extra = {k: v for k, v in extra.items() if k != "train_config"} | {"train_config": extra.get("train_config")}
        train_options.export_best(args, lambda path: save_transformer(model, path, extra=extra, dtype=torch.float16))
    return 0

"""`composer train judge [options]`: the family classifier that evaluates text-prompted audio.

    composer train judge --data data/prompt --max-minutes 8 --threads 1 --export models/judge/model.safetensors

Trains on the judge_train split of a prompt-data build (never on the diffusion
model's train split) and prints its held-out accuracy (synth/train/train_judge.py).
Registered by tui/commands/train.py; the shared options are tui/train_options.py's.
`--export` writes a model card beside the weights only where there is none.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from composer.errors import ComposerError
from tui import train_options


def register(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser("judge", help="the instrument-family classifier that judges prompted audio (torchrun too)")
    train_options.add_run_options(p, "judge")
    p.add_argument("--crop-frames", type=int, default=256, help="log-mel frames per training crop (>= 128)")
    p.add_argument("--gain-db", type=float, default=12.0, help="random gain of +- this many dB")
    p.add_argument("--noise-floor", type=float, default=1e-3, help="largest added noise floor (magnitude; 0: none)")
    p.add_argument("--channels", default="16,32,64,128", help="conv widths, one per 2x2-pooling block")
    p.add_argument("--feature-dim", type=int, default=128, help="size of the feature vector (Frechet distance)")
    p.set_defaults(run=run_judge, kind="judge")


def run_judge(args: argparse.Namespace) -> int:
    from synth.prompt.judge import JudgeConfig, load_judge, save_judge
    from synth.train.train_judge import JudgeTrainConfig, train_judge

    if args.crop_frames < 128:
        raise ComposerError("--crop-frames", "must be at least 128")
    if not 0 <= args.gain_db < 60:
        raise ComposerError("--gain-db", "must be in [0, 60)")
    positive, fractions = ("feature_dim",), ("noise_floor",)
    train_options.check_options(args, "manifest.json", "composer prompt-data build", positive, fractions)
    try:
        channels = tuple(int(c) for c in args.channels.split(","))
        mc = JudgeConfig(families=("a", "b"), channels=channels, feature_dim=args.feature_dim)
    except ValueError as exc:
        raise ComposerError("--channels", f"expected comma-separated positive widths ({exc})") from None
    tc = JudgeTrainConfig(**train_options.run_config(args, "crop_frames", "gain_db", noise_floor_max="noise_floor"))
    summary = train_judge(tc, mc)
    if "heldout" not in summary:  # another rank than 0 under torchrun
        return 0
    heldout = summary["heldout"]
    print(
        f"done: {summary['step']} steps in {summary['elapsed_s']} s; held-out ({heldout['n']} clips) family accuracy "
        f"{heldout['family_accuracy']}, drums vs pitched {heldout.get('drums_vs_pitched_accuracy')}"
    )
    if args.export is not None:
        model, extra = load_judge(Path(args.out) / "best.safetensors")
        train_options.export_best(
            args, lambda path: save_judge(model, path, extra=extra), card=lambda: model_card(args, model, summary)
        )
    return 0


def model_card(args: argparse.Namespace, model, summary: dict) -> str:
    """The text of models/judge/README.md for a new export: data, command, run and the held-out accuracy."""
    from synth.data.prompt_data import read_manifest

    manifest = read_manifest(Path(args.data))
    heldout = summary["heldout"]
    per_family = ", ".join(f"{name} {acc}" for name, acc in heldout.get("per_family", {}).items())
    lines = [
        "# judge",
        "",
        f"Kind `audio-judge`, {model.num_params():,} parameters, stored fp16; config (also in the safetensors "
        "metadata, families included):",
        "",
        "```json",
        json.dumps(model.cfg.to_dict()),
        "```",
        "",
        "A small CNN on synth.instruments.neural.mel log-mel (80 bands, any length >= 128 frames) -> "
        f"instrument-family logits and a {model.cfg.feature_dim}-d feature vector (the embedding of the Frechet "
        "distance in benchmarks/prompt_quality.py). It judges generated audio; it is not used to generate.",
        "",
        "## Trained on",
        "",
        f"`{args.data}` ({manifest.get('format', 'unknown format')}): the judge_train split only "
        f"({summary['train_clips']} clips trained on, a tenth of the split set aside to pick the best step), never "
        "the diffusion model's train split. Random crops, +-"
        f"{args.gain_db:g} dB gain, and for half the crops a noise floor up to {args.noise_floor:g} (magnitude).",
        "",
        *train_options.command_section(args),
        "## Held-out accuracy (heldout split, whole clips, best step)",
        "",
        f"- steps: {summary['step']} in {summary['elapsed_s']} s; best at step {summary['best_step']}",
        f"- clips: {heldout['n']}",
        f"- family accuracy: {heldout['family_accuracy']} (balanced over families: "
        f"{heldout['balanced_family_accuracy']})",
        f"- drums vs pitched accuracy: {heldout.get('drums_vs_pitched_accuracy')}",
        f"- per family: {per_family}",
        f"- the same clips from their int16 audio (another noise floor): family accuracy "
        f"{heldout['from_int16_audio']['family_accuracy']}, drums vs pitched "
        f"{heldout['from_int16_audio'].get('drums_vs_pitched_accuracy')}",
        "",
    ]
    return "\n".join(lines)

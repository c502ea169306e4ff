"""`composer train judge [options]`: the family classifier that evaluates text-prompted audio.

    composer train judge --data data/prompt --max-minutes 8 --threads 1 --export models/judge/model.safetensors

Trains on the judge_train split of a prompt-data build (never on the diffusion
model's train split) and prints its held-out accuracy (synth/train/train_judge.py).
Registered by tui/commands/train.py.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from composer.errors import ComposerError


def register(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser("judge", help="the instrument-family classifier that judges prompted audio (CPU)")
    p.add_argument("--data", default="data/prompt", help="a prompt-data build (composer prompt-data build)")
    p.add_argument("--out", default="runs/judge", help="checkpoints and log.jsonl go here")
    p.add_argument("--steps", type=int, default=20_000)
    p.add_argument("--max-minutes", type=float, default=0.0, help="wall-time budget; the LR schedule follows it")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--crop-frames", type=int, default=256, help="log-mel frames per training crop (>= 128)")
    p.add_argument("--gain-db", type=float, default=12.0, help="random gain of +- this many dB")
    p.add_argument("--noise-floor", type=float, default=1e-3, help="largest added noise floor (magnitude; 0: none)")
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--warmup-steps", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--channels", default="16,32,64,128", help="conv widths, one per 2x2-pooling block")
    p.add_argument("--feature-dim", type=int, default=128, help="size of the feature vector (Frechet distance)")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--export", type=Path, default=None, help="write the best weights as fp16 here (models/judge/...)")
    p.set_defaults(run=run_judge, kind="judge")


def run_judge(args: argparse.Namespace) -> int:
    from synth.prompt.judge import JudgeConfig, load_judge, save_judge
    from synth.train.train_judge import JudgeTrainConfig, train_judge

    for name in ("steps", "batch_size", "eval_every", "feature_dim"):
        if getattr(args, name) <= 0:
            raise ComposerError(f"--{name.replace('_', '-')}", "must be positive")
    if args.crop_frames < 128:
        raise ComposerError("--crop-frames", "must be at least 128")
    if not 0 <= args.noise_floor < 1:
        raise ComposerError("--noise-floor", "must be in [0, 1)")
    if not 0 <= args.gain_db < 60:
        raise ComposerError("--gain-db", "must be in [0, 60)")
    if not Path(args.data, "manifest.json").is_file():
        raise ComposerError(args.data, "no manifest.json here; build the data with `composer prompt-data build`")
    try:
        channels = tuple(int(c) for c in args.channels.split(","))
        mc = JudgeConfig(families=("a", "b"), channels=channels, feature_dim=args.feature_dim)
    except ValueError as exc:
        raise ComposerError("--channels", f"expected comma-separated positive widths ({exc})") from None
    tc = JudgeTrainConfig(
        data_dir=args.data,
        out_dir=args.out,
        steps=args.steps,
        max_minutes=args.max_minutes,
        batch_size=args.batch_size,
        crop_frames=args.crop_frames,
        gain_db=args.gain_db,
        noise_floor_max=args.noise_floor,
        lr=args.lr,
        warmup_steps=min(args.warmup_steps, args.steps),
        eval_every=args.eval_every,
        seed=args.seed,
        threads=args.threads,
    )
    summary = train_judge(tc, mc)
    heldout = summary["heldout"]
    print(
        f"done: {summary['step']} steps in {summary['elapsed_s']} s; held-out ({heldout['n']} clips) family accuracy "
        f"{heldout['family_accuracy']}, drums vs pitched {heldout.get('drums_vs_pitched_accuracy')}"
    )
    if args.export is not None:
        model, extra = load_judge(Path(args.out) / "best.safetensors")
        save_judge(model, args.export, extra=extra)
        shutil.copyfile(Path(args.out) / "log.jsonl", args.export.with_name("train_log.jsonl"))
        write_model_card(args, model, summary)
        print(f"exported {args.export} (model card {args.export.with_name('README.md')})")
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The `composer train judge` command that reproduces this run."""
    parts = ["composer", "train", "judge"]
    for name, value in sorted(vars(args).items()):
        if name in ("run", "kind", "command") or value is None or value is False:
            continue
        parts += ["--" + name.replace("_", "-"), str(value)]
    return " ".join(parts)


def write_model_card(args: argparse.Namespace, model, summary: dict) -> None:
    """models/judge/README.md beside the exported weights: data, command, run and the held-out accuracy."""
    from composer.files.atomic import atomic_write_text

    manifest = json.loads(Path(args.data, "manifest.json").read_text())
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
        "## Command",
        "",
        "```",
        command_line(args),
        "```",
        "",
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
    atomic_write_text(args.export.with_name("README.md"), "\n".join(lines))

"""`composer train judge [options]`: the family (or texture) classifier that evaluates text-prompted audio.

    composer train judge --data data/prompt --max-minutes 8 --threads 1 --export models/judge/model.safetensors
    composer train judge --target texture --data data/prompt-judge --heldout-data data/prompt \
        --out runs/texture_judge --export models/texture_judge/model.safetensors

Trains on the judge_train split of a prompt-data build (never on the diffusion
model's train split) and prints its held-out accuracy (synth/train/train_judge.py),
the heldout split read from --heldout-data (default: --data).
Registered by tui/commands/train.py; the shared options are tui/train_options.py's.
`--export` writes a model card beside the weights only where there is none.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from composer.errors import ComposerError
from tui import train_options

TARGETS = ("family", "texture")  # synth.prompt.judge.TARGETS, without importing torch to build the parser


def register(kinds: argparse._SubParsersAction) -> None:
    p = kinds.add_parser(
        "judge", help="the instrument-family (or texture) classifier that judges prompted audio (torchrun too)"
    )
    train_options.add_run_options(p, "judge")
    p.add_argument(
        "--target", choices=TARGETS, default="family",
        help="what to tell apart: the instrument family (default) or the texture (melody, arpeggio, chords, groove)",
    )  # fmt: skip
    p.add_argument("--heldout-data", default=None, help="the build whose heldout split is scored (default: --data)")
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
    if args.heldout_data is not None and not Path(args.heldout_data, "manifest.json").is_file():
        raise ComposerError(
            args.heldout_data, "no manifest.json here; build the data with `composer prompt-data build`"
        )
    try:
        channels = tuple(int(c) for c in args.channels.split(","))
        mc = JudgeConfig(families=("a", "b"), channels=channels, feature_dim=args.feature_dim)
    except ValueError as exc:
        raise ComposerError("--channels", f"expected comma-separated positive widths ({exc})") from None
    tc = JudgeTrainConfig(
        **train_options.run_config(args, "crop_frames", "gain_db", "target", noise_floor_max="noise_floor"),
        heldout_dir=args.heldout_data or "",
    )
    summary = train_judge(tc, mc)
    if "heldout" not in summary:  # another rank than 0 under torchrun
        return 0
    heldout, target = summary["heldout"], args.target
    also = f", drums vs pitched {heldout.get('drums_vs_pitched_accuracy')}" if target == "family" else ""
    print(
        f"done: {summary['step']} steps in {summary['elapsed_s']} s; held-out ({heldout['n']} clips) {target} accuracy "
        f"{heldout[f'{target}_accuracy']}, balanced {heldout[f'balanced_{target}_accuracy']}{also}"
    )
    if args.export is not None:
        model, extra = load_judge(Path(args.out) / "best.safetensors")
        train_options.export_best(
            args, lambda path: save_judge(model, path, extra=extra), card=lambda: model_card(args, model, summary)
        )
    return 0


def model_card(args: argparse.Namespace, model, summary: dict) -> str:
    """The text of models/judge/README.md (or models/texture_judge's) for a new export: data, command, run and the
    held-out accuracy."""
    from synth.data.prompt_data import read_manifest

    manifest = read_manifest(Path(args.data))
    heldout, target = summary["heldout"], model.cfg.target
    per_class = ", ".join(f"{name} {acc}" for name, acc in heldout.get(f"per_{target}", {}).items())
    int16 = heldout["from_int16_audio"]
    if target == "family":
        title, what = "judge", "instrument-family"
        extra_lines = [
            f"- drums vs pitched accuracy: {heldout.get('drums_vs_pitched_accuracy')}",
            f"- per family: {per_class}",
            f"- the same clips from their int16 audio (another noise floor): family accuracy "
            f"{int16['family_accuracy']}, drums vs pitched {int16.get('drums_vs_pitched_accuracy')}",
        ]
    else:
        title, what = "texture_judge", "texture (melody, arpeggio, chords, groove)"
        extra_lines = [
            f"- per texture: {per_class}",
            "- confusion (true texture: predicted counts): "
            + "; ".join(
                f"{t}: " + ", ".join(f"{p} {n}" for p, n in row.items()) for t, row in heldout["confusion"].items()
            ),
            f"- the same clips from their int16 audio (another noise floor): texture accuracy "
            f"{int16['texture_accuracy']}",
        ]
    heldout_data = args.heldout_data or args.data
    lines = [
        f"# {title}",
        "",
        f"Kind `audio-judge`, target `{target}`, {model.num_params():,} parameters, stored fp16; config (also in the "
        "safetensors metadata, classes included, in `families`):",
        "",
        "```json",
        json.dumps(model.cfg.to_dict()),
        "```",
        "",
        "A small CNN on synth.instruments.neural.mel log-mel (80 bands, any length >= 128 frames) -> "
        f"{what} logits and a {model.cfg.feature_dim}-d feature vector"
        + (" (the embedding of the Frechet distance in benchmarks/prompt_quality.py)" if target == "family" else "")
        + ". It judges generated audio; it is not used to generate.",
        "",
        "## Trained on",
        "",
        f"`{args.data}` ({manifest.get('format', 'unknown format')}): the judge_train split only "
        f"({summary['train_clips']} clips trained on, a tenth of the split set aside to pick the best step), never "
        "the diffusion model's train split. Random crops, +-"
        f"{args.gain_db:g} dB gain, and for half the crops a noise floor up to {args.noise_floor:g} (magnitude).",
        "",
        *train_options.command_section(args),
        f"## Held-out accuracy (`{heldout_data}` heldout split, whole clips, best step)",
        "",
        f"- steps: {summary['step']} in {summary['elapsed_s']} s; best at step {summary['best_step']}",
        f"- clips: {heldout['n']}",
        f"- {target} accuracy: {heldout[f'{target}_accuracy']} (balanced over {target}s: "
        f"{heldout[f'balanced_{target}_accuracy']})",
        *extra_lines,
        "",
    ]
    return "\n".join(lines)

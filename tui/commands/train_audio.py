"""`composer train vocoder|renderer [options]`: train the neural instruments (CPU, GPU or torchrun).

    composer train vocoder --data data/audio --steps 20000 --export models/vocoder/model.safetensors
    composer train renderer --data data/audio --steps 20000 --export models/renderer/model.safetensors

The data folder is an audio-data build (manifest.json + float16 shards with
their notes, synth/data/audio_data.py; read by synth/data/audio_dataset.py). Registered
by tui/commands/train.py; `composer train diffusion` (tui/commands/train_diffusion.py) is registered
from here. The shared options are tui/train_options.py's; `--export` writes a model card beside the
weights only where there is none.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from composer.errors import ComposerError
from tui import train_options
from tui.commands.train_diffusion import register as register_diffusion

SIZES = {  # the shipped sizes; tests pass smaller ones
    "vocoder": {"channels": 256, "hidden": 768, "blocks": 4},
    "renderer": {"channels": 128, "hidden": 256, "blocks": 2},
}


def register(kinds: argparse._SubParsersAction) -> None:
    for kind, about in (("vocoder", "log-mel -> waveform"), ("renderer", "sounding notes -> log-mel")):
        p = kinds.add_parser(kind, help=f"the neural {kind}, {about} (works under torchrun too)")
        train_options.add_run_options(p, kind)
        p.add_argument("--segment-frames", type=int, default=32 if kind == "vocoder" else 128, help="frames per window")
        p.add_argument(
            "--warmup-frames",
            type=int,
            default=None,
            help="frames run before each window, outside the loss (default: auto)",
        )
        p.add_argument("--channels", type=int, default=SIZES[kind]["channels"])
        p.add_argument("--hidden", type=int, default=SIZES[kind]["hidden"])
        p.add_argument("--blocks", type=int, default=SIZES[kind]["blocks"])
        p.add_argument("--workers", type=int, default=0, help="processes drawing training windows (0: none)")
        if kind == "renderer":
            p.add_argument(
                "--onset-weight",
                type=float,
                default=0.0,
                help="a note's first 0.1 s count 1 + this in the training loss (the attacks; default 0: plain L1)",
            )
        p.add_argument(
            "--init", type=Path, default=None, help="start from this model file (fine-tune); its size options win"
        )
        p.set_defaults(run=run_audio, kind=kind)
    register_diffusion(kinds)


def run_audio(args: argparse.Namespace) -> int:
    from synth.instruments.neural.neural_checkpoint import load_neural, save_neural
    from synth.instruments.neural.renderer import RendererConfig
    from synth.instruments.neural.vocoder import VocoderConfig
    from synth.train.train_audio import AudioTrainConfig, train_audio

    positive = ("segment_frames", "channels", "hidden", "blocks")
    train_options.check_options(args, "manifest.json", "composer audio-data build", positive)
    if args.workers < 0:
        raise ComposerError("--workers", "must be 0 or more")
    if args.warmup_frames is not None and args.warmup_frames < 0:
        raise ComposerError("--warmup-frames", "must be 0 or more")
    if args.init is not None and not args.init.is_file():
        raise ComposerError(args.init, "no model file here (--init)")
    onset_weight = getattr(args, "onset_weight", 0.0)
    if not (math.isfinite(onset_weight) and onset_weight >= 0):
        raise ComposerError("--onset-weight", f"must be a finite number >= 0, not {onset_weight}")
    config_cls = VocoderConfig if args.kind == "vocoder" else RendererConfig
    mc = config_cls(channels=args.channels, hidden=args.hidden, n_blocks=args.blocks)
    summary = train_audio(
        AudioTrainConfig(
            **train_options.run_config(args, "kind", "segment_frames", "warmup_frames", "workers"),
            init=str(args.init or ""),
            onset_weight=onset_weight,
        ),
        mc,
    )
    if "best_valid_loss" not in summary:  # another rank than 0 under torchrun
        return 0
    print(f"done: {summary['step']} steps in {summary['elapsed_s']} s, best valid loss {summary['best_valid_loss']}")
    if args.export is not None:
        model, extra = load_neural(Path(args.out) / "best.safetensors", args.kind)
        train_options.export_best(
            args,
            lambda path: save_neural(model, path, extra=extra),
            card=lambda: model_card(args, model, extra, summary),
        )
    return 0


def model_card(args: argparse.Namespace, model, extra: dict, summary: dict) -> str:
    """The text of models/<kind>/README.md for a new export: data, command, steps, wall time, metrics so far."""
    import json

    from synth.data.audio_data import read_manifest

    manifest = read_manifest(Path(args.data))
    programs = manifest.get("programs", {})
    seconds = manifest.get("seconds", {})
    hours = {split: round(sum(by_program.values()) / 3600, 2) for split, by_program in seconds.items()}
    params = sum(p.numel() for p in model.parameters())
    lines = [
        f"# {args.kind}",
        "",
        f"Kind `{args.kind}`, {params:,} parameters; config (also in the safetensors metadata):",
        "",
        "```json",
        json.dumps(model.cfg.to_dict(), indent=1),
        "```",
        "",
        "## Trained on",
        "",
        f"`{args.data}` ({manifest.get('format', 'unknown format')}, soundfont {manifest.get('soundfont', '?')}): "
        f"programs {', '.join(f'{k} {v}' for k, v in programs.items()) or '?'}; hours per split {hours or '?'}.",
        "",
        *train_options.command_section(args),
        "## Run",
        "",
        f"- steps: {summary.get('step')}; best checkpoint at step {extra.get('step')}",
        f"- wall time: {summary.get('elapsed_s')} s (this run's log: train_log.jsonl)",
        f"- best validation loss: {summary.get('best_valid_loss')}",
        "",
        "## Metrics",
        "",
        "Not measured by the trainer. Fidelity to the FluidSynth reference per program: "
        "`python benchmarks/neural_fidelity.py`; speed and latency: `python benchmarks/neural_speed.py`.",
        "",
    ]
    return "\n".join(lines)

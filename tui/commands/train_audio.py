"""`composer train vocoder|renderer [options]`: train the neural instruments (CPU, GPU or torchrun).

    composer train vocoder --data data/audio --steps 20000 --export models/vocoder/model.safetensors
    composer train renderer --data data/audio --steps 20000 --export models/renderer/model.safetensors

The data folder is an audio-data build (manifest.json + float16 shards with
their notes, synth/data/audio_data.py; read by synth/data/audio_dataset.py). Registered
by tui/commands/train.py; `composer train diffusion` (tui/commands/train_diffusion.py)
is registered from here.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from composer.errors import ComposerError
from tui.commands.train_diffusion import register as register_diffusion

SIZES = {  # the shipped sizes; tests pass smaller ones
    "vocoder": {"channels": 256, "hidden": 768, "blocks": 4},
    "renderer": {"channels": 128, "hidden": 256, "blocks": 2},
}


def register(kinds: argparse._SubParsersAction) -> None:
    for kind, about in (("vocoder", "log-mel -> waveform"), ("renderer", "sounding notes -> log-mel")):
        p = kinds.add_parser(kind, help=f"the neural {kind}, {about} (works under torchrun too)")
        p.add_argument("--data", default="data/audio", help="an audio-data build (manifest.json and shards)")
        p.add_argument("--out", default=f"runs/{kind}", help="checkpoints and log.jsonl go here")
        p.add_argument("--steps", type=int, default=20_000)
        p.add_argument("--max-minutes", type=float, default=0.0, help="wall-time budget; the LR schedule follows it")
        p.add_argument("--batch-size", type=int, default=16)
        p.add_argument("--segment-frames", type=int, default=32 if kind == "vocoder" else 128, help="frames per window")
        p.add_argument(
            "--warmup-frames",
            type=int,
            default=None,
            help="frames run before each window, outside the loss (default: auto)",
        )
        p.add_argument("--lr", type=float, default=5e-4)
        p.add_argument("--warmup-steps", type=int, default=500)
        p.add_argument("--eval-every", type=int, default=500)
        p.add_argument("--channels", type=int, default=SIZES[kind]["channels"])
        p.add_argument("--hidden", type=int, default=SIZES[kind]["hidden"])
        p.add_argument("--blocks", type=int, default=SIZES[kind]["blocks"])
        p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
        p.add_argument("--workers", type=int, default=0, help="processes drawing training windows (0: none)")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--resume", action="store_true", help="continue from OUT/last.safetensors")
        p.add_argument("--export", type=Path, default=None, help=f"write the best weights here (models/{kind}/...)")
        p.set_defaults(run=run_audio, kind=kind)
    register_diffusion(kinds)


def run_audio(args: argparse.Namespace) -> int:
    from synth.instruments.neural.neural_checkpoint import load_neural, save_neural
    from synth.instruments.neural.renderer import RendererConfig
    from synth.instruments.neural.vocoder import VocoderConfig
    from synth.train.train_audio import AudioTrainConfig, train_audio

    for name in ("steps", "batch_size", "segment_frames", "channels", "hidden", "blocks", "eval_every"):
        if getattr(args, name) <= 0:
            raise ComposerError(f"--{name.replace('_', '-')}", "must be positive")
    if not Path(args.data, "manifest.json").is_file():
        raise ComposerError(args.data, "no manifest.json here; build the data with `composer audio-data build`")
    if args.workers < 0:
        raise ComposerError("--workers", "must be 0 or more")
    if args.warmup_frames is not None and args.warmup_frames < 0:
        raise ComposerError("--warmup-frames", "must be 0 or more")
    config_cls = VocoderConfig if args.kind == "vocoder" else RendererConfig
    mc = config_cls(channels=args.channels, hidden=args.hidden, n_blocks=args.blocks)
    tc = AudioTrainConfig(
        kind=args.kind,
        data_dir=args.data,
        out_dir=args.out,
        steps=args.steps,
        max_minutes=args.max_minutes,
        batch_size=args.batch_size,
        segment_frames=args.segment_frames,
        warmup_frames=args.warmup_frames,
        lr=args.lr,
        warmup_steps=min(args.warmup_steps, args.steps),
        eval_every=args.eval_every,
        seed=args.seed,
        threads=args.threads,
        workers=args.workers,
        resume=args.resume,
    )
    summary = train_audio(tc, mc)
    if "best_valid_loss" in summary:
        print(
            f"done: {summary['step']} steps in {summary['elapsed_s']} s, best valid loss {summary['best_valid_loss']}"
        )
    if args.export is not None and "best_valid_loss" in summary:
        model, extra = load_neural(Path(args.out) / "best.safetensors", args.kind)
        save_neural(model, args.export, extra=extra)
        shutil.copyfile(Path(args.out) / "log.jsonl", args.export.with_name("train_log.jsonl"))
        write_model_card(args, model, extra, summary)
        print(f"exported {args.export} (model card {args.export.with_name('README.md')})")
    return 0


def command_line(args: argparse.Namespace) -> str:
    """The `composer train` command that reproduces this run."""
    parts = ["composer", "train", args.kind]
    for name, value in sorted(vars(args).items()):
        if name in ("run", "kind", "command", "resume") or value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        parts += [flag] if value is True else [flag, str(value)]
    return " ".join(parts)


def write_model_card(args: argparse.Namespace, model, extra: dict, summary: dict) -> None:
    """models/<kind>/README.md beside the exported weights: data, command, steps, wall time, metrics so far."""
    import json

    from composer.files.atomic import atomic_write_text

    manifest_path = Path(args.data) / "manifest.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.exists() else {}
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
        "## Command",
        "",
        "```",
        command_line(args),
        "```",
        "",
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
    atomic_write_text(args.export.with_name("README.md"), "\n".join(lines))

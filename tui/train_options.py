"""What every `composer train <kind>` command (tui/commands/train*.py) shares: the run options, their checks,
the config, the export. (tui/commands/common.py holds what all the commands share; this, the trainers'.)

    add_run_options(p, "vocoder")            # --data --out --steps --max-minutes ... --export, DEFAULTS["vocoder"]
    check_options(args, "manifest.json", "composer audio-data build", positive=("channels", "hidden"))
    tc = AudioTrainConfig(**run_config(args, "kind", "segment_frames", "warmup_frames", "workers"))
    export_best(args, lambda path: save_neural(model, path, extra=extra), card=lambda: card_text)

No torch here (`composer --help` stays fast), so the defaults are written out in DEFAULTS; they are those of
the trainers' config dataclasses (tests/tui/test_cli_train_options.py checks that they agree). `--export`
writes the weights, the run's log beside them, and a model card only where there is none.
"""

from __future__ import annotations

import argparse
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from composer.errors import ComposerError
from composer.files.atomic import atomic_write, atomic_write_text

DEVICES = ("auto", "cpu", "cuda")  # composer.train.train_kit.DEVICES (not imported: it imports torch)


@dataclass(frozen=True)
class RunDefaults:
    data: str
    data_help: str
    steps: int
    batch_size: int
    lr: float
    warmup_steps: int
    eval_every: int
    export_what: str = "the best weights"


CORPUS = "built corpus folder (composer corpus build)"
AUDIO = "an audio-data build (manifest.json and shards)"
PROMPT = "a prompt-data build (composer prompt-data build: manifest.json and shards)"
FP16 = "the best weights as fp16"
# Columns: data, its help, steps, batch size, lr, warm-up steps, eval every, what --export writes. The trainers'
# config defaults (composer.train.train.TrainConfig, synth.train.train_*'s): tests/tui/test_cli_train_options.py.
DEFAULTS = {
    "transformer": RunDefaults("data/corpus", CORPUS, 10_000, 16, 1e-3, 200, 200, FP16),
    "vocoder": RunDefaults("data/audio", AUDIO, 20_000, 16, 5e-4, 500, 500),
    "renderer": RunDefaults("data/audio", AUDIO, 20_000, 16, 5e-4, 500, 500),
    "diffusion": RunDefaults("data/prompt", PROMPT, 50_000, 32, 4e-4, 300, 250, "the best EMA weights as fp16"),
    "judge": RunDefaults("data/prompt", PROMPT, 20_000, 32, 2e-3, 100, 200, FP16),
}  # fmt: skip


def add_run_options(p: argparse.ArgumentParser, kind: str) -> None:
    """The options every trainer has (defaults: DEFAULTS[kind]): data, out, steps and budget, batch, LR schedule,
    threads, seed, device, resume, export."""
    d = DEFAULTS[kind]
    p.add_argument("--data", default=d.data, help=d.data_help)
    p.add_argument("--out", default=f"runs/{kind}", help="checkpoints and log.jsonl go here")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--max-minutes", type=float, default=0.0, help="wall-time budget; the LR schedule follows it")
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--warmup-steps", type=int, default=d.warmup_steps)
    p.add_argument("--eval-every", type=int, default=d.eval_every)
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", choices=DEVICES, default="auto", help="auto: CUDA where torch sees a GPU, else the CPU")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.safetensors")
    p.add_argument(
        "--export",
        type=Path,
        default=None,
        help=f"write {d.export_what} here (e.g. models/{kind}/model.safetensors); a model card there is kept",
    )


def check_options(
    args: argparse.Namespace, data_file: str, builder: str, positive: tuple[str, ...] = (), fractions=()
) -> None:
    """Refuse (a ComposerError naming the flag or folder) before any work: steps, batch_size, eval_every and
    `positive` must be positive, `fractions` in [0, 1), and the data folder must hold `data_file` (made by the
    command `builder`)."""
    for name in ("steps", "batch_size", "eval_every", *positive):
        if getattr(args, name) <= 0:
            raise ComposerError(f"--{name.replace('_', '-')}", "must be positive")
    for name in fractions:
        if not 0 <= getattr(args, name) < 1:
            raise ComposerError(f"--{name.replace('_', '-')}", "must be in [0, 1)")
    if not Path(args.data, data_file).is_file():
        raise ComposerError(args.data, f"no {data_file} here; build the data with `{builder}`")


def run_config(args: argparse.Namespace, *names: str, **renamed: str) -> dict:
    """The trainer config's fields from the options: the run options (warm-up at most the steps), then the
    options `names` under their own names and `renamed` (field="option")."""
    fields = {
        "data_dir": args.data,
        "out_dir": args.out,
        "steps": args.steps,
        "max_minutes": args.max_minutes,
        "batch_size": args.batch_size,
        "lr": args.lr,
        "warmup_steps": min(args.warmup_steps, args.steps),
        "eval_every": args.eval_every,
        "seed": args.seed,
        "threads": args.threads,
        "resume": args.resume,
        "device": args.device,
    }
    return fields | {name: getattr(args, name) for name in names} | {k: getattr(args, v) for k, v in renamed.items()}


def command_line(args: argparse.Namespace) -> str:
    """The `composer train` command that reproduces this run (for a model card)."""
    parts = ["composer", "train", args.kind]
    for name, value in sorted(vars(args).items()):
        if name in ("run", "kind", "command", "resume") or value is None or value is False:
            continue
        flag = "--" + name.replace("_", "-")
        parts += [flag] if value is True else [flag, str(value)]
    return " ".join(parts)


def command_section(args: argparse.Namespace) -> list[str]:
    """A model card's "Command" section: the command line of this run, fenced."""
    return ["## Command", "", "```", command_line(args), "```", ""]


def export_best(args: argparse.Namespace, write_weights: Callable[[Path], None], card: Callable[[], str] | None = None):
    """`--export`: `write_weights(path)` writes the best weights there, this run's log goes beside them as
    train_log.jsonl, and a model card README.md is written from `card()` only where there is none: a card
    already there (hand-written, or an earlier run's) is left as it is, and one line says so."""
    export = Path(args.export)
    export.parent.mkdir(parents=True, exist_ok=True)
    write_weights(export)
    log = Path(args.out) / "log.jsonl"
    atomic_write(export.with_name("train_log.jsonl"), lambda tmp: shutil.copyfile(log, tmp))
    card_path = export.with_name("README.md")
    if card_path.exists():
        print(f"exported {export}; model card {card_path} left as it is")
    elif card is not None:
        atomic_write_text(card_path, card())
        print(f"exported {export} (model card {card_path})")
    else:
        print(f"exported {export}")

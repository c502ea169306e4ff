"""What the `composer` subcommands share; a command module imports helpers from here, never from another command.

A refusal is `raise ComposerError(where, problem)` (composer.errors): tui.cli.main prints it as the one
line `composer: where: problem` on stderr and exits 2. The checks below raise it before any work starts,
so a refused request writes nothing.

    check_folder         the folder a file is to be written in exists
    check_midi_output    an output that is a .mid file in an existing folder
    check_wav_output     an output that is a writable .wav file
    describe_wav         the `wrote OUT.wav (...)` line
    add_sampling_options / sample_options
                         the co-composer's sampling flags (--style, --temperature, ...) and their SampleOptions
    progress_bar         a percentage bar for `progress(fraction)` callbacks
    count_bar            a bar for `progress(done, total)` callbacks
    require_fluidsynth   FluidSynth and its soundfont are installed (the data builds need them)

Heavy imports (tqdm, the model, synth) stay inside the functions so that `composer --help` starts fast.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from composer.errors import ComposerError


def check_folder(path: Path) -> Path:
    """The folder `path` is to be written in (`.` for a bare name); ComposerError when it does not exist."""
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ComposerError(path, f"folder {folder} does not exist")
    return folder


def check_midi_output(output: Path) -> None:
    if output.suffix.lower() not in (".mid", ".midi"):
        raise ComposerError(output, "output must be a .mid file")
    check_folder(output)


def check_wav_output(output: Path) -> None:
    """Refuse, before any work, an output that cannot be written."""
    if output.suffix.lower() != ".wav":
        raise ComposerError(output, "expected a .wav output file")
    folder = check_folder(output)
    if output.is_dir():
        raise ComposerError(output, "is a directory, expected a file name")
    if not os.access(folder, os.W_OK):
        raise ComposerError(output, f"folder {folder} is not writable")


def describe_wav(path: Path, audio, sample_rate: int, bit_depth: int) -> str:
    peak = float(abs(audio).max()) if audio.size else 0.0
    peak_db = f"{20 * math.log10(peak):.1f} dBFS" if peak > 0 else "silent"
    return f"wrote {path} ({audio.shape[0] / sample_rate:.2f} s, {sample_rate} Hz, {bit_depth}-bit, peak {peak_db})"


def add_threads_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: the models are small, and more threads thrash on a busy machine; 0: all)",
    )


def use_threads(args: argparse.Namespace) -> None:
    """Check --threads (before any work) and give torch that many; 0 leaves torch's default (all cores)."""
    if args.threads < 0:
        raise ComposerError("--threads", f"expected 0 (all cores) or more, got {args.threads}")
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def add_sampling_options(p: argparse.ArgumentParser, styles: Sequence[str]) -> None:
    p.add_argument("--style", help=f"one of: {', '.join(styles)} (default: guessed from the music)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0, help="sample from the K likeliest tokens (0: off)")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass in (0, 1] (1: off)")
    p.add_argument("--seed", type=int, help="the same seed gives the same file")
    p.add_argument("--key", help="keep the new notes in a key, e.g. C:major, F#:minor")
    p.add_argument("--model", type=Path, help="weights (default: models/transformer/model.safetensors)")
    add_threads_option(p)


def sample_options(args: argparse.Namespace, **fields):
    """composer.model.sample.SampleOptions from the sampling flags (and `fields`), validated."""
    from composer.model.sample import SampleOptions

    options = SampleOptions(
        **fields,
        style=args.style,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        seed=args.seed,
        key=args.key,
    )
    options.validate()
    return options


@contextlib.contextmanager
def progress_bar(name: str) -> Iterator[Callable[[float], None]]:
    """A progress callback; the bar appears at the first report, so a request refused early prints only its error."""
    from tqdm import tqdm

    bars = []

    def progress(fraction: float) -> None:
        if not bars:
            fmt = "{desc}: {percentage:3.0f}%|{bar}| {elapsed}<{remaining}"
            bars.append(tqdm(total=100, desc=name, unit="%", bar_format=fmt))
        bars[0].n = round(fraction * 100)
        bars[0].refresh()

    try:
        yield progress
        progress(1.0)
    finally:
        for bar in bars:
            bar.close()


@contextlib.contextmanager
def count_bar(**tqdm_options) -> Iterator[Callable[[float, float], None]]:
    """A tqdm bar (made with `tqdm_options`) and its `progress(done, total)` callback; closed when the block ends."""
    from tqdm import tqdm

    with tqdm(**tqdm_options) as bar:

        def progress(done: float, total: float) -> None:
            bar.total = total
            bar.update(done - bar.n)

        yield progress


def require_fluidsynth() -> None:
    """ComposerError saying what is missing when FluidSynth or its soundfont is not installed."""
    from synth.data.fluid import fluidsynth_available

    problem = fluidsynth_available()
    if problem is not None:
        raise ComposerError(None, problem)


def warn(line: str) -> None:
    """A notice from the engine or the audio output: one line on stderr."""
    print(line, file=sys.stderr, flush=True)


@contextlib.contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """An Event set by Ctrl+C (SIGINT) or SIGTERM while inside; the previous handlers come back after.

    SIGINT gets a handler even where the process started with it ignored (a background job), so
    Ctrl+C always stops a session cleanly instead of doing nothing.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def handler(signum, frame) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old if old is not None else signal.SIG_DFL)
        if previous[signal.SIGINT] == signal.SIG_IGN:  # started ignored: Ctrl+C means stop from now on
            signal.signal(signal.SIGINT, signal.default_int_handler)

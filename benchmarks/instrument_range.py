"""Does the co-composer write for the instrument it is asked for? Pitch per requested program (issue 16).

For each program, `--pieces` pieces of `--seconds` s are sampled from nothing (style `--style`, seeds 3000,
...) three ways: as the model writes on its own (free), with the instrument's range
(composer.gm.playable_range) as a mask alone (masked), and in the instrument's register by octaves with the
mask moved along (registered: composer.model.register, what the app and `composer generate --program` do).
Reported per program: the share of notes inside the range, the pitch median and 5th/95th percentiles, notes
per second (does the range starve the music?), and the mean melodic step (semitones between successive onsets'
highest notes: does the range make the line leap?). The corpus carries no instrument per note, so the range is
the reference, not corpus statistics.

    python benchmarks/instrument_range.py [--programs 33,42,40,73,58,72] [--pieces 6] [--seconds 20]

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from composer.errors import ComposerError
from composer.gm import instrument_name, playable_range
from composer.model.register import from_model, in_register, register_shift
from composer.model.sample import SampleOptions, generate_notes, load_model
from composer.song import Note
from composer.tokens import STYLES

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import machine_facts, run_or_fail  # noqa: E402

FIRST_SEED = 3000
DEFAULT_PROGRAMS = "33,42,40,73,58,72"  # bass, cello, violin, flute, tuba, piccolo


def melodic_step(notes: list[Note]) -> float | None:
    """Mean |semitones| between the highest notes of successive onsets (10 ms grid)."""
    tops: dict[int, int] = {}
    for n in notes:
        at = round(n.start_s * 100)
        tops[at] = max(tops.get(at, 0), n.pitch)
    line = [tops[t] for t in sorted(tops)]
    return float(np.mean(np.abs(np.diff(line)))) if len(line) > 1 else None


def describe(pieces: list[list[Note]], low: int, high: int, seconds: float) -> dict:
    pitches = np.array([n.pitch for p in pieces for n in p])
    steps = [s for s in (melodic_step(p) for p in pieces) if s is not None]
    if len(pitches) == 0:
        return {"notes": 0}
    return {
        "notes": int(len(pitches)),
        "in_range": round(float(((pitches >= low) & (pitches <= high)).mean()), 4),
        "pitch_p5_median_p95": [int(np.percentile(pitches, q)) for q in (5, 50, 95)],
        "notes_per_s": round(len(pitches) / (seconds * len(pieces)), 3),
        "melodic_step": round(float(np.mean(steps)), 3) if steps else None,
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--programs", default=DEFAULT_PROGRAMS, help=f"GM programs (default {DEFAULT_PROGRAMS})")
    parser.add_argument("--pieces", type=int, default=6, help="pieces per program and mode (default 6)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of each piece (default 20)")
    parser.add_argument("--style", default="folk", help="style token (default folk)")
    parser.add_argument("--model", type=Path, help="weights (default: the shipped model)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args(argv)
    try:
        args.programs = [int(p) for p in args.programs.split(",") if p.strip()]
    except ValueError:
        raise ComposerError("--programs", f"must be comma-separated numbers, got {args.programs!r}") from None
    if not args.programs or not all(0 <= p <= 127 for p in args.programs):
        raise ComposerError("--programs", "must be GM programs 0..127")
    if not 1 <= args.pieces <= 200:
        raise ComposerError("--pieces", f"must be 1..200, got {args.pieces}")
    if not (np.isfinite(args.seconds) and 1 <= args.seconds <= 600):
        raise ComposerError("--seconds", f"must be in [1, 600], got {args.seconds}")
    if args.style not in STYLES:
        raise ComposerError("--style", f"unknown style {args.style!r}; one of {', '.join(STYLES)}")
    if args.threads < 1:
        raise ComposerError("--threads", f"must be at least 1, got {args.threads}")
    return args


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    start = time.perf_counter()
    free = [
        generate_notes(model, (), SampleOptions(seconds=args.seconds, style=args.style, seed=FIRST_SEED + i))
        for i in range(args.pieces)
    ]
    result: dict = {"benchmark": "instrument_range", "style": args.style, "seconds": args.seconds, "programs": {}}
    for program in args.programs:
        low, high = playable_range(program)
        masked, registered = [], []
        for i in range(args.pieces):
            options = SampleOptions(
                seconds=args.seconds, style=args.style, seed=FIRST_SEED + i, pitch_range=(low, high)
            )
            masked.append(generate_notes(model, (), options))
            _, in_model, shift = in_register((), options)
            registered.append(from_model(generate_notes(model, (), in_model), shift))
        result["programs"][str(program)] = {
            "instrument": instrument_name(program),
            "range": [low, high],
            "register_shift": register_shift((low, high)),
            "free": describe(free, low, high, args.seconds),
            "masked": describe(masked, low, high, args.seconds),
            "registered": describe(registered, low, high, args.seconds),
        }
        print(f"{instrument_name(program)}: {result['programs'][str(program)]['registered']}", file=sys.stderr)
    result["wall_s"] = round(time.perf_counter() - start, 1)
    result["model"] = str(args.model) if args.model else "shipped"
    return result | machine_facts()


def main(argv: list[str] | None = None) -> int:
    return run_or_fail("instrument_range", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

"""Marginal speed of `composer generate` as a user runs it: the whole command, imports and model load included.

For each style, `composer generate --style S --seed 1 --seconds LONG` and `--seconds SHORT` run back to back
(--pairs times, alternating), each as its own process. The tokens each one samples are counted in this process
with the same options (the same seed samples the same ids: the stream is deterministic), so the marginal speed is

    (tokens(LONG) - tokens(SHORT)) / (time(LONG) - time(SHORT))

by the wall clock and by the child's CPU time (user + sys; it holds on a busy machine where the wall clock
waits for a core). Medians over the pairs. Goal (issue 16): >= 1,000 tokens/s on 2 threads. Ends with one JSON line.

    python benchmarks/generate_command_speed.py [--threads 1 2] [--styles folk chorale] [--pairs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL_TOKENS_PER_S = 1000.0


def count_tokens(style: str, seconds: float, seed: int) -> int:
    """The ids `composer generate` samples for these options (its range mask and register included)."""
    import torch

    from composer.gm import playable_range
    from composer.model.register import in_register
    from composer.model.sample import SampleOptions, load_model, stream

    torch.set_num_threads(1)
    model = load_model()
    options = SampleOptions(seconds=seconds, style=style, seed=seed, pitch_range=playable_range(0))
    _, options, _ = in_register([], options)
    return sum(1 for item in stream(model, [], options) if item.token >= 0)


def run_command(composer: str, style: str, seconds: float, seed: int, threads: int, out: Path) -> tuple[float, float]:
    """(wall s, CPU s of the child) for one whole `composer generate`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [
            composer,
            "generate",
            "--style",
            style,
            "--seed",
            str(seed),
            "--seconds",
            str(seconds),
            "--threads",
            str(threads),
            "-o",
            str(out),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--styles", nargs="+", default=["folk", "chorale"])
    parser.add_argument("--short", type=float, default=10.0)
    parser.add_argument("--long", type=float, default=70.0)
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    composer = shutil.which("composer") or str(Path(sys.executable).with_name("composer"))
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "g.mid"
        for style in args.styles:
            tokens = count_tokens(style, args.long, args.seed) - count_tokens(style, args.short, args.seed)
            for threads in args.threads:
                walls, cpus = [], []
                for _ in range(args.pairs):
                    long_wall, long_cpu = run_command(composer, style, args.long, args.seed, threads, out)
                    short_wall, short_cpu = run_command(composer, style, args.short, args.seed, threads, out)
                    walls.append(tokens / max(long_wall - short_wall, 1e-6))
                    cpus.append(tokens / max(long_cpu - short_cpu, 1e-6))
                results[f"{style}_{threads}_threads"] = {
                    "marginal_tokens": tokens,
                    "tokens_per_s_wall": round(statistics.median(walls), 1),
                    "tokens_per_s_cpu": round(statistics.median(cpus), 1),
                    "tokens_per_s_wall_each": [round(w, 1) for w in walls],
                }
                print(style, threads, results[f"{style}_{threads}_threads"], file=sys.stderr)
    worst_wall = min(r["tokens_per_s_wall"] for r in results.values())
    print(
        json.dumps(
            {
                "benchmark": "generate_command_speed",
                "seconds": [args.short, args.long],
                "pairs": args.pairs,
                "results": results,
                "worst_tokens_per_s_wall": worst_wall,
                "goal_tokens_per_s": GOAL_TOKENS_PER_S,
                "goal_met": worst_wall >= GOAL_TOKENS_PER_S,
                "load_average_1min": round(os.getloadavg()[0], 2),
                "cpu_count": os.cpu_count(),
            }
        )
    )


if __name__ == "__main__":
    main()

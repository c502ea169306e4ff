"""Do prompted loops wrap without a click? The seam's sample-to-sample step against the clip's own steps.

For each prompt and seed, a --bars-long loop at --bpm is made (PromptRequest(loop=True, bpm=...)). The
seam step is |x[0] - x[-1]| (what the ear hears when the loop wraps); the clip's own steps are
|x[n+1] - x[n]| over the clip. Reported: the seam step's percentile among the clip's steps (median and
worst), and the share of seams within the clip's 99th percentile (goal: all). Ends with one JSON line.

    python benchmarks/prompt_loop_seam.py [--seeds 3] [--bars 2] [--bpm 120] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as `python benchmarks/NAME.py`, as the others

from bench_common import machine_facts  # noqa: E402

PROMPTS = ("drum groove", "soft organ chords", "bass line", "fast piano arpeggio", "string pad", "guitar riff")


def seam_percentile(audio: np.ndarray) -> float:
    """Percent of the clip's own sample-to-sample steps smaller than the step across the wrap."""
    steps = np.abs(np.diff(audio.astype(np.float64)))
    seam = abs(float(audio[0]) - float(audio[-1]))
    return float(np.mean(steps < seam) * 100.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--bars", type=int, default=2)
    parser.add_argument("--bpm", type=float, default=120.0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import torch

    from synth.prompt.prompt_audio import PromptGenerator, PromptRequest

    torch.set_num_threads(args.threads)
    generator = PromptGenerator()
    seconds = args.bars * 4 * 60.0 / args.bpm
    percentiles = []
    for prompt in PROMPTS:
        for seed in range(args.seeds):
            audio = generator.generate(PromptRequest(prompt, seconds, seed=seed, loop=True, bpm=args.bpm))
            percentiles.append(seam_percentile(audio))
    result = {
        "benchmark": "prompt_loop_seam",
        "loops": len(percentiles),
        "loop_seconds": round(seconds, 3),
        "seam_percentile_median": round(float(np.median(percentiles)), 2),
        "seam_percentile_max": round(float(np.max(percentiles)), 2),
        "seams_within_p99": round(float(np.mean(np.array(percentiles) <= 99.0)), 3),
        "threads": args.threads,
        **machine_facts(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Speed of text-prompted audio: wall time for an 8-s clip on 2 CPU threads, sampling and decoding included.

The shipped models are loaded once (synth.prompt.prompt_audio.PromptGenerator; the
load and the first call, which loads the text encoder, are reported apart),
then the same request is made --repeats times with different seeds: text
encoding, every diffusion window and the vocoder's decoding are inside the
timing. Goal: median <= 8 s for 8 s of audio at the default steps and
guidance. Ends with one JSON line.

    python benchmarks/prompt_speed.py [--seconds 8] [--threads 2] [--steps 20] [--guidance 5.0]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import machine_facts  # noqa: E402

from composer.errors import ComposerError  # noqa: E402
from synth.prompt.prompt_audio import DEFAULT_GUIDANCE, DEFAULT_STEPS, PromptGenerator, PromptRequest  # noqa: E402

GOAL_S = 8.0
PROMPT = "slow cello melody in D minor"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    parser.add_argument("--guidance", type=float, default=DEFAULT_GUIDANCE)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--diffusion", type=Path, default=None, help="default: models/diffusion/model.safetensors")
    parser.add_argument("--vocoder", type=Path, default=None, help="default: models/vocoder/model.safetensors")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        start = time.perf_counter()
        generator = PromptGenerator(args.diffusion, args.vocoder)
        load_s = time.perf_counter() - start
        start = time.perf_counter()
        generator.generate(PromptRequest(args.prompt, args.seconds, args.steps, args.guidance, seed=0))
        first_s = time.perf_counter() - start
        times = []
        for seed in range(1, max(1, args.repeats) + 1):
            start = time.perf_counter()
            audio = generator.generate(PromptRequest(args.prompt, args.seconds, args.steps, args.guidance, seed=seed))
            times.append(time.perf_counter() - start)
    except ComposerError as exc:
        print(f"prompt_speed: {exc}", file=sys.stderr)
        return 2
    median = statistics.median(times)
    print(
        json.dumps(
            {
                "benchmark": "prompt_speed",
                "seconds_of_audio": args.seconds,
                "samples": len(audio),
                "median_s": round(median, 3),
                "times_s": [round(t, 3) for t in times],
                "real_time_factor": round(median / args.seconds, 3),
                "first_call_s": round(first_s, 3),
                "load_s": round(load_s, 3),
                "steps": args.steps,
                "guidance": args.guidance,
                "goal": f"median <= {GOAL_S:g} s for 8 s of audio on 2 CPU threads, decoding included",
                "met": median <= GOAL_S and args.seconds >= 8.0 and args.threads <= 2,
                "diffusion_params": generator.model.num_params(),
                "vocoder_params": generator.vocoder.num_params(),
                **machine_facts(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

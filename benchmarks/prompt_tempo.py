"""Does a prompted clip play at the tempo asked for? Judged by an outside beat tracker (librosa's).

For each requested BPM (70-160) and seed, "drum groove at N BPM" is made for --seconds twice: as the text
alone asks (PromptRequest without bpm: what the diffusion model does with the words) and with the tempo
held (bpm=N: a model with controls is given the tempo and beat grid; one without has synth.prompt.tempo_conform
measure the made clip and resample its mel). librosa's
beat_track, which the project does not use to make the clips, estimates each clip's tempo; reported:
the share within 8 % of the request (goal >= 0.7), and within 8 % up to a factor of 2 (half/double time),
and the time per clip. Ends with one JSON line.

    python benchmarks/prompt_tempo.py [--bpms 70,80,100,128,150,160] [--seeds 3] [--seconds 10] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as `python benchmarks/NAME.py`, as the others

from bench_common import machine_facts  # noqa: E402


def within(estimated: float, wanted: float, tolerance: float = 0.08, octaves: bool = False) -> bool:
    factors = (0.5, 1.0, 2.0) if octaves else (1.0,)
    return any(abs(estimated - wanted * f) <= tolerance * wanted * f for f in factors)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bpms", default="70,80,100,128,150,160")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--diffusion", default=None, help="a diffusion model file (default: the shipped one)")
    parser.add_argument(
        "--conform", choices=("auto", "on", "off"), default="auto",
        help="measure and stretch the made clip to the tempo (auto: only for a model without controls)",
    )  # fmt: skip
    args = parser.parse_args()

    import librosa
    import torch

    from synth.prompt.prompt_audio import SAMPLE_RATE, PromptGenerator, PromptRequest

    torch.set_num_threads(args.threads)
    conform = {"auto": None, "on": True, "off": False}[args.conform]
    generator = PromptGenerator(args.diffusion, conform_tempo=conform)
    bpms = [float(b) for b in args.bpms.split(",")]
    rows = {"text": [], "held": []}
    seconds_per_clip = {"text": [], "held": []}
    for bpm in bpms:
        for seed in range(args.seeds):
            for mode in ("text", "held"):
                request = PromptRequest(f"drum groove at {bpm:g} BPM", args.seconds, seed=seed)
                if mode == "held":
                    request = PromptRequest(request.prompt, args.seconds, seed=seed, bpm=bpm)
                t0 = time.perf_counter()
                audio = generator.generate(request)
                seconds_per_clip[mode].append(time.perf_counter() - t0)
                tempo, _ = librosa.beat.beat_track(y=audio.astype(np.float32), sr=SAMPLE_RATE)
                estimated = float(np.atleast_1d(tempo)[0])
                rows[mode].append((bpm, estimated))

    def summary(mode: str) -> dict:
        pairs = rows[mode]
        return {
            "tempo_within_8pct": round(float(np.mean([within(e, b) for b, e in pairs])), 3),
            "tempo_within_8pct_up_to_2x": round(float(np.mean([within(e, b, octaves=True) for b, e in pairs])), 3),
            "estimated_bpm": {f"{b:g}": [round(e, 1) for bb, e in pairs if bb == b] for b in bpms},
            "seconds_per_clip_median": round(float(np.median(seconds_per_clip[mode])), 2),
        }

    result = {
        "benchmark": "prompt_tempo",
        "judge": f"librosa {librosa.__version__} beat_track",
        "clip_seconds": args.seconds,
        "clips_per_mode": len(rows["text"]),
        "text_only": summary("text"),
        "tempo_held": summary("held"),
        "threads": args.threads,
        "model": {"file": str(generator.diffusion_path), "controls": generator.model.cfg.controls},
        "conform_tempo": generator.conform_tempo,
        **machine_facts(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

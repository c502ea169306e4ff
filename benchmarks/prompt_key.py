"""Does a prompted clip sound in the key asked for? Judged by an outside key estimator.

For each prompt ("<instrument> <texture> in <key>", pitched families), key and seed, the clip is made for
--seconds twice: as the text alone asks (PromptRequest without key: what the diffusion model does with the
words) and with the key held (key=...: synth.prompt.key_conform measures the made clip and transposes it).
The judge is not the estimator that makes the move: librosa's constant-Q chroma (not our STFT chroma)
correlated with Temperley's (2001) Kostka-Payne key profiles (not Krumhansl-Kessler), best of 24. Reported:
key exact (tonic and mode, the issue's goal >= 0.45; real clips 0.54), the same notes (the asked key or its
relative: what a transposition can promise), the MIREX score, how far clips were moved, and time per clip.
Ends with one JSON line.

    python benchmarks/prompt_key.py [--keys C:major,D:minor,...] [--seeds 2] [--first-seed 0] [--seconds 6]
        [--key-guidance K] [--diffusion F] [--vocoder F]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))  # run as `python benchmarks/NAME.py`, as the others

from bench_common import machine_facts, run_or_fail  # noqa: E402

from composer.errors import ComposerError  # noqa: E402

# Temperley (2001), the Kostka-Payne corpus profiles, tonic first
TEMPERLEY_MAJOR = np.array([0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400])
TEMPERLEY_MINOR = np.array([0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330])
DEFAULT_KEYS = "C:major,D:minor,Eb:major,E:minor,F:major,F#:minor,G:major,A:minor,Bb:major,B:minor"
PROMPTS = ("piano melody in {key}", "slow cello melody in {key}", "flute melody in {key}", "soft organ chords in {key}")


def judge_key(audio: np.ndarray, sample_rate: int) -> tuple[int, str]:
    """(tonic pitch class, mode) by librosa's CQT chroma and Temperley's profiles."""
    import librosa

    chroma = librosa.feature.chroma_cqt(y=audio.astype(np.float32), sr=sample_rate).mean(axis=1)  # (12,)
    best = None
    for mode, profile in (("major", TEMPERLEY_MAJOR), ("minor", TEMPERLEY_MINOR)):
        for tonic in range(12):
            r = float(np.corrcoef(chroma, np.roll(profile, tonic))[0, 1])
            if best is None or r > best[0]:
                best = (r, tonic, mode)
    return best[1], best[2]


def grade(judged: tuple[int, str], tonic: int, mode: str) -> dict[str, float]:
    """exact, same notes (the key or its relative), and the MIREX score (1 / .5 fifth / .3 relative / .2 parallel)."""
    j_tonic, j_mode = judged
    interval = (j_tonic - tonic) % 12
    relative = 9 if mode == "major" else 3
    same_mode = j_mode == mode
    exact = same_mode and interval == 0
    is_relative = not same_mode and interval == relative
    mirex = 1.0 if exact else 0.5 if same_mode and interval in (5, 7) else 0.3 if is_relative else 0.0
    if not same_mode and interval == 0:
        mirex = 0.2
    return {"exact": float(exact), "same_notes": float(exact or is_relative), "mirex": mirex}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keys", default=DEFAULT_KEYS)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed, first-seed + 1, ...")
    parser.add_argument("--seconds", type=float, default=6.0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--diffusion", default=None, help="a diffusion model file (default: the shipped one)")
    parser.add_argument(
        "--key-guidance", type=float, default=None,
        help="how much further a controls model is pushed toward the key (default: composer prompt's)",
    )  # fmt: skip
    parser.add_argument("--vocoder", default=None, help="a vocoder model file (default: the shipped one)")
    parser.add_argument(
        "--conform", choices=("auto", "on", "off"), default="auto",
        help="measure the made clip's key and move it to the one asked for (auto: only for a model without controls)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    from synth.prompt.key_conform import parse_key

    try:
        args.keys = [parse_key(k.strip()) for k in args.keys.split(",") if k.strip()]
    except ValueError as exc:
        raise ComposerError("--keys", str(exc)) from None
    if not args.keys:
        raise ComposerError("--keys", "name at least one key, e.g. D:minor")
    if not 1 <= args.seeds <= 50:
        raise ComposerError("--seeds", f"must be 1..50, got {args.seeds}")
    if not 2 <= args.seconds <= 30:
        raise ComposerError("--seconds", f"must be in [2, 30], got {args.seconds}")
    return args


def run(args: argparse.Namespace) -> dict:
    import torch

    from synth.prompt.prompt_audio import SAMPLE_RATE, PromptGenerator, PromptRequest

    torch.set_num_threads(args.threads)
    conform_key = {"auto": None, "on": True, "off": False}[args.conform]
    guidance = {} if args.key_guidance is None else {"key_guidance": args.key_guidance}
    generator = PromptGenerator(args.diffusion, args.vocoder, conform_key=conform_key, **guidance)
    scores = {"text": [], "held": []}
    shifts, clip_s = [], {"text": [], "held": []}
    for i, key in enumerate(args.keys):
        spelled = key.name.replace(":", " ")
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            prompt = PROMPTS[(i + seed) % len(PROMPTS)].format(key=spelled)
            for condition in ("text", "held"):
                request = PromptRequest(prompt, args.seconds, seed=seed, key=key.name if condition == "held" else None)
                start = time.perf_counter()
                audio = generator.generate(request)
                clip_s[condition].append(time.perf_counter() - start)
                scores[condition].append(grade(judge_key(audio, SAMPLE_RATE), key.tonic, key.mode))
                if condition == "held":
                    shifts.append(generator.last_shift)
            print(f"{prompt} seed {seed}: text {scores['text'][-1]} held {scores['held'][-1]}", file=sys.stderr)
    result: dict = {"benchmark": "prompt_key", "clips": len(scores["held"]), "seconds": args.seconds}
    result["seeds"] = [args.first_seed, args.first_seed + args.seeds - 1]
    for condition, rows in scores.items():
        result[condition] = {name: round(float(np.mean([r[name] for r in rows])), 3) for name in rows[0]}
        result[condition]["seconds_per_clip"] = round(float(np.median(clip_s[condition])), 2)
    result["moved_share"] = round(float(np.mean([s != 0 for s in shifts])), 3)
    result["moved_semitones_mean_abs"] = round(float(np.mean(np.abs(shifts))), 2)
    result["judge"] = "librosa chroma_cqt + Temperley (2001) profiles"
    result["model"] = {"file": str(generator.diffusion_path), "controls": generator.model.cfg.controls}
    result["vocoder"] = str(generator.vocoder_path)
    result["conform_key"] = generator.conform_key
    result["key_guidance"] = generator.key_guidance
    return result | machine_facts()


def main(argv: list[str] | None = None) -> int:
    return run_or_fail("prompt_key", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

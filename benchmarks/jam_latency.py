"""Jam mode's answer latency through a private JACK dummy server: gap end -> first answer note-on to the engine.

A virtual JACK MIDI keyboard (rtmidi) plays N phrases (6-10 notes, a random
major key and tempo) into synth.engine.jam.JamSession, as `composer jam` does. After
each phrase it waits for the answer's first note, lets the answer play a
moment, then comes back in (the answer yields). Per phrase we take the
session's measured latency (the gap's end to the first note-on handed to the
engine; goal <= 300 ms), the model time spent before the gap ended
(prepare_ms: the gap's tokens and the first note, sampled speculatively), the
key the answer was held to against the key played, and any answer note-on
handed over while a player key was down (should be none).

Usage: python benchmarks/jam_latency.py [--phrases 50] [--model PATH] [--gap-ms 600]
Without the shipped weights, a randomly initialised model of the shipped size
(4 layers, d_model 256, context 512) is used, and the JSON says so.
Ends by printing one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import rtmidi  # noqa: E402
import torch  # noqa: E402

from composer.keys import PITCH_NAMES, SCALES  # noqa: E402
from composer.model.checkpoint import save_transformer  # noqa: E402
from composer.model.model import MusicTransformer, TransformerConfig  # noqa: E402
from composer.model.sample import DEFAULT_MODEL_PATH, SampleOptions, load_model  # noqa: E402
from composer.song import Song, Track  # noqa: E402
from composer.tokens import VOCAB_SIZE  # noqa: E402
from synth.engine.audio_out import AudioOutput  # noqa: E402
from synth.engine.engine import Engine  # noqa: E402
from synth.engine.jack_dummy import JackDummyServer  # noqa: E402
from synth.engine.jam import JamSession  # noqa: E402
from synth.engine.midi_ports import MidiInput, midi_api  # noqa: E402

SAMPLE_RATE = 48000
BLOCK_FRAMES = 128
GOAL_MS = 300.0


def pick_model(path: Path | None) -> tuple[MusicTransformer, str]:
    wanted = path or DEFAULT_MODEL_PATH
    if wanted.exists():
        return load_model(wanted), str(wanted)
    if path is not None:
        raise SystemExit(f"jam_latency: {path}: no such model file")
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=512, n_layer=4, n_head=4, d_model=256, d_ff=1024)
    stand_in = Path(tempfile.gettempdir()) / "jam_latency_random_4x256.safetensors"
    save_transformer(MusicTransformer(cfg), stand_in)  # through the file, as the real one is loaded
    return load_model(stand_in), f"random init, shipped size 4x256 ctx 512 ({wanted} not found)"


def phrase(rng: random.Random) -> tuple[str, list[tuple[int, float]]]:
    """A key and (pitch, seconds) for 6-10 notes of its major scale, at one tempo."""
    tonic = rng.randrange(12)
    beat_s = rng.uniform(0.15, 0.35)
    scale = [48 + tonic + step + 12 * octave for octave in (1, 2) for step in SCALES["major"]]
    index = rng.randrange(3, 8)
    notes = [(scale[0] + 12, 2 * beat_s)]  # the tonic first, held: a phrase states its key
    for _ in range(rng.randint(5, 9)):
        index = min(max(index + rng.choice((-2, -1, -1, 1, 1, 2)), 0), len(scale) - 1)
        notes.append((scale[index], beat_s * rng.choice((1, 1, 2))))
    return f"{PITCH_NAMES[tonic]}:major", notes


def stats(values: list[float]) -> dict:
    v = np.asarray(values, dtype=float)
    if v.size == 0:
        return {}
    return {
        "median": round(float(np.median(v)), 2),
        "p95": round(float(np.percentile(v, 95)), 2),
        "max": round(float(v.max()), 2),
        "min": round(float(v.min()), 2),
    }


def answer_ons_over_player(log) -> int:
    held: set[int] = set()
    count = 0
    for event in log:
        if event.part == "player":
            (held.add if event.on else held.discard)(event.pitch)
        elif event.on and held:
            count += 1
    return count


def run(n_phrases: int, model: MusicTransformer, gap_s: float, seed: int) -> dict:
    rng = random.Random(seed)
    song = Song(tracks=[Track(name="Player", program=0), Track(name="Answer", program=73, channel=1)])
    engine = Engine(song, sample_rate=SAMPLE_RATE, block_frames=BLOCK_FRAMES)
    jam = JamSession(engine, model, gap_s=gap_s, options=SampleOptions(seed=seed), answer_s=2.0)
    api, problem = midi_api("UNIX_JACK")
    if api is None:
        raise SystemExit(f"jam_latency: no JACK MIDI ({problem})")
    kbd = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="jam-bench-kbd")
    kbd.open_virtual_port("keys")
    played_keys: list[str] = []
    missed = 0
    try:
        port = MidiInput("jam-bench-kbd", jam.handle, api=api)
        with port, AudioOutput(engine.render_block, SAMPLE_RATE, BLOCK_FRAMES, ahead_blocks=1), jam:
            time.sleep(0.5)
            for _ in range(n_phrases):
                key, notes = phrase(rng)
                answered = len(jam.answers)
                for pitch, length_s in notes:
                    kbd.send_message([0x90, pitch, rng.randint(60, 110)])
                    time.sleep(length_s * 0.85)
                    kbd.send_message([0x80, pitch, 0])
                    time.sleep(length_s * 0.15)
                deadline = time.perf_counter() + gap_s + 3.0
                while time.perf_counter() < deadline and not (
                    len(jam.answers) > answered and jam.answers[answered].latency_ms is not None
                ):
                    time.sleep(0.005)
                if len(jam.answers) > answered and jam.answers[answered].latency_ms is not None:
                    played_keys.append(key)
                else:
                    missed += 1
                    played_keys.append(key)
                time.sleep(rng.uniform(0.3, 0.8))  # then the player comes back in over the answer
        log = list(jam.log)
    finally:
        kbd.delete()
    answers = jam.answers
    keyed = [(a.key, k) for a, k in zip(answers, played_keys, strict=False)]
    return {
        "phrases": n_phrases,
        "answers": len(answers),
        "answered_with_a_note": len(jam.latencies_ms),
        "missed": missed,
        "latency_ms": stats(jam.latencies_ms),
        "prepare_ms": stats([a.prepare_ms for a in answers]),
        "goal_ms": GOAL_MS,
        "goal_met_p95": bool(jam.latencies_ms) and float(np.percentile(jam.latencies_ms, 95)) <= GOAL_MS,
        "key_matches": sum(a == b for a, b in keyed),
        "yielded": sum(a.yielded_at_s is not None for a in answers),
        "answer_note_ons_while_player_held_a_key": answer_ons_over_player(log),
        "error": None if jam.error is None else repr(jam.error),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phrases", type=int, default=50)
    parser.add_argument("--model", type=Path, help="weights (default: the shipped model, else a random stand-in)")
    parser.add_argument("--gap-ms", type=float, default=600.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    model, model_name = pick_model(args.model)
    with JackDummyServer(sample_rate=SAMPLE_RATE, period_frames=BLOCK_FRAMES):
        result = run(args.phrases, model, args.gap_ms / 1000.0, args.seed)
    print(
        json.dumps(
            {
                "benchmark": "jam_latency",
                "model": model_name,
                "model_params": model.num_params(),
                "context_tokens": model.cfg.max_len,
                "gap_ms": args.gap_ms,
                **result,
                "cpu_threads": os.cpu_count(),
                "torch_threads": torch.get_num_threads(),
                "load_average": os.getloadavg()[0],
                "torch": torch.__version__,
                "python": platform.python_version(),
                "device": "cpu; audio and MIDI through JACK dummy backend (jackd --no-realtime -d dummy)",
            }
        )
    )


if __name__ == "__main__":
    main()

"""Speed and latency of the neural instrument (renderer + harmonic voice, and renderer + vocoder) on one CPU thread.

The models are the shipped ones (models/renderer, models/vocoder) when
they are there, else random weights of the shipped size (RendererConfig(),
VocoderConfig(); the cost does not depend on the weights' values). A NeuralSynth at the models' 24 kHz plays 8, then 16,
notes held together (re-struck every second, so every slot stays busy), in
blocks of 256 frames, as the engine's render thread would. Prints one JSON
line:

- realtime_factor_{8,16}_notes: render wall time / audio time (goal <= 0.3).
- latency_ms: algorithmic (NeuralSynth.latency_samples told the engine's
  256-frame blocks, as the engine tells it: no framing wait at 24 kHz, no
  resampling, the voice's one-hop (256-sample) latency) plus compute (the 99th
  percentile of one 256-frame block's render time), goal <= 25 ms.
- the same for the vocoder voice (`vocoder_*`), which the prompted tracks use.
- offline_x_realtime: `composer render --synth neural` as a user runs it (the
  whole command, one torch thread, 48 kHz) on a 4-track song of 10 and of 40 s;
  the marginal speed (30 s of audio / the difference in wall time), goal >= 5.

    python benchmarks/neural_speed.py [--seconds 10] [--no-offline]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from composer.errors import ComposerError  # noqa: E402
from synth.instruments.neural.neural_synth import NeuralModels, NeuralSynth, load_neural_models  # noqa: E402
from synth.instruments.neural.renderer import Renderer, RendererConfig  # noqa: E402
from synth.instruments.neural.vocoder import Vocoder, VocoderConfig  # noqa: E402

RTF_GOAL = 0.3
LATENCY_GOAL_MS = 25.0
BLOCK_FRAMES = 256
SAMPLE_RATE = 24000


OFFLINE_GOAL_X = 5.0


def play(models: NeuralModels, n_notes: int, seconds: float, voice: str = "harmonic") -> tuple[float, list[float], int]:
    """(wall seconds, per-block seconds, latency_samples) of `seconds` of n_notes held notes."""
    synth = NeuralSynth(
        models, program=0, sample_rate=SAMPLE_RATE, torch_threads=1, block_frames=BLOCK_FRAMES, voice=voice
    )
    pitches = [36 + 3 * i for i in range(n_notes)]
    blocks_per_s = SAMPLE_RATE // BLOCK_FRAMES
    times = []
    n_blocks = int(seconds * SAMPLE_RATE / BLOCK_FRAMES)
    for b in range(n_blocks):
        if b % blocks_per_s == 0:
            for i, pitch in enumerate(pitches):
                synth.note_on(pitch, 90, (7 * i) % BLOCK_FRAMES)
        start = time.perf_counter()
        block = synth.render(BLOCK_FRAMES)
        times.append(time.perf_counter() - start)
        assert np.isfinite(block).all()
    return sum(times), times, synth.latency_samples


def offline_song(seconds: float, path: Path) -> None:
    """A 4-track song (piano chords, cello line, flute melody, bass) of `seconds`, written as MIDI."""
    from composer.files.midi_io import write_midi
    from composer.song import Note, Song, Track

    rng = np.random.default_rng(0)
    tracks = []
    for name, program, low, step_s, voices in (
        ("Piano", 0, 48, 1.0, 3), ("Cello", 42, 36, 0.5, 1), ("Flute", 73, 72, 0.25, 1), ("Bass", 33, 28, 1.0, 1)
    ):  # fmt: skip
        notes = []
        for start in np.arange(0.0, seconds - step_s, step_s):
            for v in range(voices):
                pitch = int(low + rng.integers(0, 12) + 4 * v)
                notes.append(Note(pitch, int(rng.integers(60, 110)), float(start), float(start + 0.9 * step_s)))
        tracks.append(Track(name, program, channel=len(tracks), notes=notes))
    write_midi(Song(tempo_bpm=120.0, tracks=tracks), path)


def offline_speed() -> dict:
    """The marginal speed of `composer render --synth neural` (whole command, one torch thread)."""
    import subprocess
    import tempfile

    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    composer = Path(sys.executable).parent / "composer"
    walls = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seconds in (10.0, 40.0):
            song = Path(tmp) / f"song-{int(seconds)}.mid"
            offline_song(seconds, song)
            start = time.perf_counter()
            done = subprocess.run(
                [str(composer), "render", str(song), "--synth", "neural", "-o", str(Path(tmp) / "out.wav")],
                env=env, capture_output=True, text=True,
            )  # fmt: skip
            walls[seconds] = time.perf_counter() - start
            if done.returncode != 0:
                return {"offline_error": done.stderr.strip()[-300:]}
    x = (40.0 - 10.0) / max(walls[40.0] - walls[10.0], 1e-9)
    return {
        "offline_x_realtime": round(x, 2),
        "offline_wall_s": {str(int(k)): round(v, 2) for k, v in walls.items()},
        "offline_goal_x": OFFLINE_GOAL_X,
        "offline_met": x >= OFFLINE_GOAL_X,
        "offline_song": "4 tracks (piano chords, cello, flute, bass), 48 kHz",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--no-offline", action="store_true", help="skip the whole-command offline render")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    try:
        models, weights = load_neural_models(), "shipped (models/renderer, models/vocoder)"
    except ComposerError:
        models = NeuralModels(Renderer(RendererConfig()).eval(), Vocoder(VocoderConfig()).eval())
        weights = "random, shipped size (no trained weights found)"
    play(models, 4, 1.0)  # warm-up
    result = {"benchmark": "neural_speed", "weights": weights}
    worst_p99_s, latency_samples = 0.0, 0
    for n_notes in (8, 16):
        wall_s, times, latency_samples = play(models, n_notes, args.seconds)
        p99_s = float(np.percentile(times, 99))
        worst_p99_s = max(worst_p99_s, p99_s)
        result[f"realtime_factor_{n_notes}_notes"] = round(wall_s / args.seconds, 3)
        result[f"block_ms_mean_{n_notes}_notes"] = round(1000 * wall_s / len(times), 3)
        result[f"block_ms_p99_{n_notes}_notes"] = round(1000 * p99_s, 3)
        wall_s, times, _ = play(models, n_notes, args.seconds, voice="vocoder")
        result[f"vocoder_realtime_factor_{n_notes}_notes"] = round(wall_s / args.seconds, 3)
        result[f"vocoder_block_ms_p99_{n_notes}_notes"] = round(1000 * float(np.percentile(times, 99)), 3)
    algorithmic_ms = 1000 * latency_samples / SAMPLE_RATE
    latency_ms = algorithmic_ms + 1000 * worst_p99_s
    result.update(
        {
            "rtf_goal": RTF_GOAL,
            "rtf_met": max(result["realtime_factor_8_notes"], result["realtime_factor_16_notes"]) <= RTF_GOAL,
            "algorithmic_latency_ms": round(algorithmic_ms, 2),
            "latency_ms": round(latency_ms, 2),
            "latency_goal_ms": LATENCY_GOAL_MS,
            "latency_met": latency_ms <= LATENCY_GOAL_MS,
            "block_frames": BLOCK_FRAMES,
            "sample_rate": SAMPLE_RATE,
            "renderer_params": models.renderer.num_params(),
            "vocoder_params": models.vocoder.num_params(),
            "audio_s": args.seconds,
            "cpu_threads": 1,
            "cpu_count": os.cpu_count(),
            "load_average_1min": round(os.getloadavg()[0], 2),  # other work on the CPU slows the weights' reads
            "device": "cpu",
            "torch": torch.__version__,
        }
    )
    if not args.no_offline and weights.startswith("shipped"):
        result.update(offline_speed())
    print(json.dumps(result))


if __name__ == "__main__":
    main()

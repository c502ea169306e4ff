"""Fidelity of the neural instrument to the FluidSynth reference, per program, on held-out pieces.

For each program of the audio-data build's test split (pieces never trained
on), up to --seconds-per-program of pieces are played three ways and compared
with the reference audio:

- neural: the notes through NeuralSynth (renderer + vocoder, streaming, the
  engine's path) at 24 kHz, its latency taken off;
- dsp: the notes through the engine's DspSynth at 24 kHz;
- vocoder: the vocoder alone resynthesizing the reference's log-mel.

Distances: log-mel L1 (synth.mel frames) and the multi-resolution STFT
distance of training (synth.train_audio.stft_loss). Goal: neural at most half
the DSP synth's distance on every program. One picture per program (log-mel
of reference, neural, vocoder, DSP over the first piece) goes to --pictures.
Prints one JSON line.

    python benchmarks/neural_fidelity.py [--data data/audio] [--models models] [--seconds-per-program 60]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from composer.checkpoint import read_metadata  # noqa: E402
from composer.errors import ComposerError  # noqa: E402
from synth.audio_dataset import AudioDataset  # noqa: E402
from synth.base import Synth  # noqa: E402
from synth.dsp import DspSynth  # noqa: E402
from synth.mel import LogMel  # noqa: E402
from synth.neural_synth import NeuralSynth, load_neural_models, models_dir  # noqa: E402
from synth.train_audio import stft_loss  # noqa: E402

SAMPLE_RATE = 24000
BLOCK_FRAMES = 1024
GOAL_RATIO = 0.5
WAYS = ("neural", "dsp", "vocoder")


def play(synth: Synth, notes: np.ndarray, n_samples: int) -> np.ndarray:
    """Notes (N, 4: pitch, velocity, start_s, end_s) through `synth` at sample-exact times: float32 (n_samples,)."""
    events = []
    for pitch, velocity, start_s, end_s in notes:
        events.append((round(start_s * SAMPLE_RATE), 1, int(pitch), int(velocity)))
        events.append((round(end_s * SAMPLE_RATE), 0, int(pitch), 0))
    events.sort()
    out, pos, e = [], 0, 0
    while pos < n_samples:
        n = min(BLOCK_FRAMES, n_samples - pos)
        while e < len(events) and events[e][0] < pos + n:
            at, is_on, pitch, velocity = events[e]
            if is_on:
                synth.note_on(pitch, velocity, max(at - pos, 0))
            else:
                synth.note_off(pitch, max(at - pos, 0))
            e += 1
        out.append(synth.render(n))
        pos += n
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def distances(frontend: LogMel, audio: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    x, ref = torch.from_numpy(audio)[None], torch.from_numpy(reference)[None]
    with torch.no_grad():
        mel_l1 = (frontend(x) - frontend(ref)).abs().mean().item()
        stft = stft_loss(x, ref).item()
    return {"log_mel_l1": mel_l1, "mrstft": stft}


def picture(path: Path, frontend: LogMel, takes: dict[str, np.ndarray], program: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(takes), 1, figsize=(10, 2.2 * len(takes)), sharex=True)
    for ax, (name, audio) in zip(axes, takes.items(), strict=True):
        with torch.no_grad():
            mel = frontend(torch.from_numpy(audio)[None])[0].numpy()
        seconds = mel.shape[1] * frontend.cfg.hop_samples / SAMPLE_RATE
        ax.imshow(mel, origin="lower", aspect="auto", vmin=-11.5, vmax=2.0, extent=(0, seconds, 0, mel.shape[0]))
        ax.set_ylabel(f"{name}\nmel band")
    axes[-1].set_xlabel("seconds")
    fig.suptitle(f"GM program {program}: log-mel of the reference and the three renders")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)


def weights_info(folder: Path) -> dict:
    info = {}
    for kind in ("renderer", "vocoder"):
        extra = json.loads(read_metadata(folder / kind / "model.safetensors").get("extra", "{}"))
        info[f"{kind}_step"] = extra.get("step")
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/audio", help="an audio-data build (composer audio-data build)")
    parser.add_argument("--split", default="test", help="held-out split to measure on (default test)")
    parser.add_argument("--models", type=Path, default=None, help="folder with renderer/ and vocoder/ weights")
    parser.add_argument("--seconds-per-program", type=float, default=60.0)
    parser.add_argument(
        "--pictures",
        type=Path,
        default=Path("runs/neural_fidelity"),
        help="where the PNGs go (copy them into the model cards)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    folder = args.models or models_dir()
    try:
        models = load_neural_models(folder)
        data = AudioDataset(args.data, args.split)
    except ComposerError as exc:
        print(f"neural_fidelity: {exc}", file=sys.stderr)
        return 2
    frontend = LogMel()
    t0 = time.perf_counter()
    by_program: dict[int, list] = {}
    for piece in data.pieces:
        by_program.setdefault(piece.program, []).append(piece)
    per_program = {}
    for program, pieces in sorted(by_program.items()):
        sums = {way: {"log_mel_l1": 0.0, "mrstft": 0.0} for way in WAYS}
        budget = int(args.seconds_per_program * SAMPLE_RATE)
        used = 0
        for index, piece in enumerate(pieces):
            n = min(len(piece.audio), budget - used)
            if n < SAMPLE_RATE // 2:
                break
            reference = np.asarray(piece.audio[:n], np.float32)
            neural = NeuralSynth(models, program, SAMPLE_RATE, block_frames=BLOCK_FRAMES)
            latency = neural.latency_samples
            takes = {
                "neural": play(neural, piece.notes, n + latency)[latency:],
                "dsp": play(DspSynth(program, sample_rate=SAMPLE_RATE), piece.notes, n),
            }
            with torch.no_grad():
                voc = models.vocoder(frontend(torch.from_numpy(reference)[None]))[0].numpy()
            shift = models.vocoder.latency_samples
            takes["vocoder"] = np.pad(voc[shift:], (0, n - len(voc[shift:])))
            for way in WAYS:
                for key, value in distances(frontend, takes[way], reference).items():
                    sums[way][key] += value * n
            if index == 0:
                picture(
                    args.pictures / f"program-{program:03d}.png", frontend, {"reference": reference, **takes}, program
                )
            used += n
        if used == 0:
            continue
        result = {way: {k: round(v / used, 4) for k, v in sums[way].items()} for way in WAYS}
        result["seconds"] = round(used / SAMPLE_RATE, 1)
        result["neural_over_dsp"] = {
            k: round(result["neural"][k] / max(result["dsp"][k], 1e-9), 3) for k in ("log_mel_l1", "mrstft")
        }
        per_program[str(program)] = result
    met = bool(per_program) and all(max(r["neural_over_dsp"].values()) <= GOAL_RATIO for r in per_program.values())
    print(
        json.dumps(
            {
                "benchmark": "neural_fidelity",
                "per_program": per_program,
                "goal": f"neural distance <= {GOAL_RATIO} x the DSP synth's, log-mel L1 and MR-STFT, every program",
                "met": met,
                "split": args.split,
                "weights": weights_info(folder),
                "pictures": str(args.pictures),
                "wall_s": round(time.perf_counter() - t0, 1),
                "sample_rate": SAMPLE_RATE,
                "cpu_threads": torch.get_num_threads(),
                "device": "cpu",
                "torch": torch.__version__,
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

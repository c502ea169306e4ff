"""Fidelity of the neural instrument to the FluidSynth reference, per program, on held-out pieces.

For each program of the audio-data build's test split (pieces never trained
on; the build has one program per GM family, so this is also per family), up
to --seconds-per-program of pieces are played three ways next to the
reference audio (FluidSynth, as stored in the build):

- neural: the notes through NeuralSynth (renderer + vocoder, streaming, the
  engine's path) at 24 kHz, its latency taken off;
- dsp: the notes through the engine's DspSynth at 24 kHz;
- vocoder: the vocoder alone resynthesizing the reference's log-mel.

What is measured, per program, pieces pooled (weighted by their seconds):

- note F1 of what a listener hears: an independent automatic transcription
  (Spotify's basic-pitch, benchmarks/transcribe.py) of the reference, neural,
  DSP and vocoder audio, scored against the notes played with mir_eval
  (onset within 50 ms, pitch within 50 cents, offsets not judged;
  precision_recall_f1_overlap with offset_ratio=None), counts pooled over the
  pieces. Notes starting in the last END_GUARD_S of a cut piece are left out
  on both sides. Goal: neural F1 >= 0.9 x the reference's, judged where the
  transcriber hears the reference (reference F1 >= MIN_JUDGED_REFERENCE_F1;
  elsewhere the ratio is printed and the goal is null, not judged);
- distances to the reference: log-mel L1 (synth.instruments.neural.mel frames) and the
  multi-resolution STFT distance of training (synth.train.train_audio.stft_loss).
  Goal: neural at most half the DSP synth's, both distances. Both are level-
  sensitive, and the neural instrument is trimmed to the DSP synth's level
  (10-30 dB over the reference's), so they are also given with every take
  (neural, DSP, vocoder) first brought to the reference piece's loudness
  (`level_matched`, goal `distance_level_matched`): the timbre apart from
  the level;
- loudness: integrated loudness in LUFS of each whole piece, ITU-R BS.1770-4
  (K-weighted, 400 ms blocks, -70 LUFS absolute and -10 LU relative gates;
  pyloudnorm), floored at -70; the neural piece's minus the DSP synth's and
  minus the reference's, signed and absolute, at the same notes. Goal:
  |neural - DSP| <= 3 dB (pieces' absolute differences averaged).

`met` is all three goals on every program measured. One picture per program
(log-mel of reference, neural, vocoder, DSP over the first piece, titled with
its GM family) goes to --pictures. Prints one JSON line.

    make setup-bench    # the bench extra, then basic-pitch 0.4.0 with --no-deps (its metadata pulls tensorflow)
    python benchmarks/neural_fidelity.py [--data data/audio] [--models models] [--seconds-per-program 60]
        [--programs 0,42,73] [--pictures runs/neural_fidelity]

Without basic-pitch the distances and loudness are still measured; the note
F1 is null, `transcriber` says why and `met` is false.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_common import machine_facts  # noqa: E402
from transcribe import Transcriber, note_scores, pooled, transcriber_problem  # noqa: E402

from composer.errors import ComposerError  # noqa: E402
from composer.gm import family_name, instrument_name  # noqa: E402
from composer.model.checkpoint import read_metadata  # noqa: E402
from synth.base import Synth  # noqa: E402
from synth.data.audio_dataset import AudioDataset  # noqa: E402
from synth.instruments.dsp.dsp import DspSynth  # noqa: E402
from synth.instruments.neural.mel import LogMel  # noqa: E402
from synth.instruments.neural.neural_synth import NeuralSynth, load_neural_models, models_dir  # noqa: E402
from synth.train.level_trim import play as play_notes  # noqa: E402
from synth.train.train_audio import stft_loss  # noqa: E402

SAMPLE_RATE = 24000
BLOCK_FRAMES = 1024
GOAL_RATIO = 0.5  # neural distance / DSP distance, at most
GOAL_F1_RATIO = 0.9  # neural note F1 / reference note F1, at least
GOAL_LOUDNESS_DB = 3.0  # |neural - DSP| loudness, at most
MIN_JUDGED_REFERENCE_F1 = 0.5  # below this the transcriber does not hear the reference's notes well enough to judge
END_GUARD_S = 0.15  # onsets this near a cut piece's end are not scored (the transcriber needs frames after them)
LOUDNESS_FLOOR_LUFS = -70.0  # BS.1770's absolute gate: silence reads as this, not -inf
MIN_NOTE_MS = 58.0  # 5 of basic-pitch's frames; its default 127.7 ms drops the short notes the test pieces have
WAYS = ("neural", "dsp", "vocoder")
HEARD = ("reference", *WAYS)


def play(synth: Synth, notes: np.ndarray, n_samples: int) -> np.ndarray:
    """Notes (N, 4) through `synth` at sample-exact times, in the benchmark's blocks: float32 (n_samples,)."""
    return play_notes(synth, notes, n_samples, BLOCK_FRAMES, SAMPLE_RATE)


def distances(frontend: LogMel, audio: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    x, ref = torch.from_numpy(audio)[None], torch.from_numpy(reference)[None]
    with torch.no_grad():
        mel_l1 = (frontend(x) - frontend(ref)).abs().mean().item()
        stft = stft_loss(x, ref).item()
    return {"log_mel_l1": mel_l1, "mrstft": stft}


class Loudness:
    """Integrated loudness (ITU-R BS.1770-4, K-weighted and gated; pyloudnorm) of mono audio, in LUFS."""

    def __init__(self, sample_rate: int = SAMPLE_RATE) -> None:
        import pyloudnorm

        self.meter = pyloudnorm.Meter(sample_rate)  # K-weighting, 400 ms blocks
        self.min_samples = int(0.4 * sample_rate)

    def __call__(self, audio: np.ndarray) -> float:
        x = np.asarray(audio, np.float64)
        if len(x) < self.min_samples:
            x = np.pad(x, (0, self.min_samples - len(x)))
        with np.errstate(divide="ignore"):
            value = float(self.meter.integrated_loudness(x))
        return value if np.isfinite(value) and value > LOUDNESS_FLOOR_LUFS else LOUDNESS_FLOOR_LUFS


def scored(notes: np.ndarray, n_samples: int, cut: bool) -> np.ndarray:
    """The played notes that are scored on a clip of n_samples: all, or on a cut piece those starting
    END_GUARD_S before its end (onset < end - guard)."""
    if not cut:
        return notes
    return notes[notes[:, 2] < n_samples / SAMPLE_RATE - END_GUARD_S]


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
    fig.suptitle(
        f"GM program {program} ({instrument_name(program)}, family {family_name(program)}): "
        "log-mel of the reference and the three renders"
    )
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


def _ratio(a: float, b: float) -> float:
    return round(a / max(b, 1e-9), 3)


def summarize(
    sums: dict,
    scores: dict[str, list[dict]] | None,
    levels: dict[str, list[float]],
    weights: list[int],
    notes: int,
    matched: dict | None = None,
) -> dict:
    """One program's result from its pieces' distance sums (weighted by their samples, `weights`), their
    transcription scores (None: no transcriber), loudness (LUFS per piece and way) and the notes scored."""
    used = sum(weights)
    result = {way: {k: round(v / used, 4) for k, v in sums[way].items()} for way in WAYS}
    result["seconds"] = round(used / SAMPLE_RATE, 1)
    result["pieces"] = len(weights)
    result["neural_over_dsp"] = {k: _ratio(result["neural"][k], result["dsp"][k]) for k in ("log_mel_l1", "mrstft")}
    goals: dict[str, bool | None] = {"distance": max(result["neural_over_dsp"].values()) <= GOAL_RATIO}
    if matched is not None:
        level_matched = {way: {k: round(v / used, 4) for k, v in matched[way].items()} for way in WAYS}
        result["level_matched"] = level_matched
        result["neural_over_dsp_level_matched"] = {
            k: _ratio(level_matched["neural"][k], level_matched["dsp"][k]) for k in ("log_mel_l1", "mrstft")
        }
        goals["distance_level_matched"] = max(result["neural_over_dsp_level_matched"].values()) <= GOAL_RATIO
    result["notes"] = notes
    if scores is not None:
        total = {way: pooled(scores[way]) for way in HEARD}
        for rate in ("f1", "precision", "recall"):
            result[f"note_{rate}"] = {way: round(total[way][rate], 3) for way in HEARD}
        result["notes_found"] = {way: total[way]["n_est"] for way in HEARD}
        reference_f1 = total["reference"]["f1"]
        ratio = _ratio(total["neural"]["f1"], reference_f1) if reference_f1 > 0 else None
        result["neural_f1_over_reference"] = ratio
        judged = total["reference"]["f1"] >= MIN_JUDGED_REFERENCE_F1
        goals["f1"] = ratio >= GOAL_F1_RATIO if judged and ratio is not None else None
    else:
        goals["f1"] = False
    w = np.asarray(weights, np.float64) / max(sum(weights), 1)
    lufs = {way: np.asarray(levels[way]) for way in HEARD}
    result["loudness_lufs"] = {way: round(float(w @ lufs[way]), 2) for way in HEARD}
    loudness_db = {}
    for other in ("dsp", "reference"):
        diff = lufs["neural"] - lufs[other]
        loudness_db[f"neural_minus_{other}"] = round(float(w @ diff), 2)
        loudness_db[f"abs_neural_minus_{other}"] = round(float(w @ np.abs(diff)), 2)
    result["loudness_db"] = loudness_db
    goals["loudness"] = loudness_db["abs_neural_minus_dsp"] <= GOAL_LOUDNESS_DB
    result["goals"] = goals
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data/audio", help="an audio-data build (composer audio-data build)")
    parser.add_argument("--split", default="test", help="held-out split to measure on (default test)")
    parser.add_argument("--models", type=Path, default=None, help="folder with renderer/ and vocoder/ weights")
    parser.add_argument("--seconds-per-program", type=float, default=60.0)
    parser.add_argument("--programs", default=None, help="comma-separated GM programs to measure (default: all)")
    parser.add_argument("--min-note-ms", type=float, default=MIN_NOTE_MS, help="the transcriber's minimum note length")
    parser.add_argument(
        "--pictures",
        type=Path,
        default=Path("runs/neural_fidelity"),
        help="where the PNGs go (copy them into the model cards)",
    )
    args = parser.parse_args(argv)
    threads = int(os.environ.get("OMP_NUM_THREADS", "1"))
    torch.set_num_threads(threads)
    folder = args.models or models_dir()
    try:
        wanted = None if args.programs is None else {int(p) for p in args.programs.split(",") if p.strip()}
    except ValueError:
        print(f"neural_fidelity: --programs {args.programs!r}: expected GM programs like 0,42,73", file=sys.stderr)
        return 2
    try:
        models = load_neural_models(folder)
        data = AudioDataset(args.data, args.split)
    except ComposerError as exc:
        print(f"neural_fidelity: {exc}", file=sys.stderr)
        return 2
    problem = transcriber_problem()
    transcriber = None
    if problem is None:
        transcriber = Transcriber(threads=threads, minimum_note_length_ms=args.min_note_ms)
    else:
        print(f"neural_fidelity: no note F1: {problem}", file=sys.stderr)
    loudness = Loudness(SAMPLE_RATE)
    frontend = LogMel()
    t0 = time.perf_counter()
    by_program: dict[int, list] = {}
    for piece in data.pieces:
        if wanted is None or piece.program in wanted:
            by_program.setdefault(piece.program, []).append(piece)
    per_program = {}
    for program, pieces in sorted(by_program.items()):
        sums = {way: {"log_mel_l1": 0.0, "mrstft": 0.0} for way in WAYS}
        matched = {way: {"log_mel_l1": 0.0, "mrstft": 0.0} for way in WAYS}  # each take at the reference's loudness
        scores: dict[str, list[dict]] = {way: [] for way in HEARD}
        levels: dict[str, list[float]] = {way: [] for way in HEARD}
        weights: list[int] = []
        n_notes = 0
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
            reference_lufs = loudness(reference)
            for way in WAYS:
                for key, value in distances(frontend, takes[way], reference).items():
                    sums[way][key] += value * n
                gain = 10.0 ** ((reference_lufs - loudness(takes[way])) / 20.0)
                for key, value in distances(frontend, (takes[way] * gain).astype(np.float32), reference).items():
                    matched[way][key] += value * n
            heard = {"reference": reference, **takes}
            cut = n < len(piece.audio)
            played = scored(piece.notes, n, cut)
            n_notes += len(played)
            for way, audio in heard.items():
                levels[way].append(loudness(audio))
                if transcriber is not None:
                    found = transcriber.transcribe(audio, SAMPLE_RATE)
                    if cut:
                        found = found[found[:, 0] < n / SAMPLE_RATE - END_GUARD_S]
                    scores[way].append(note_scores(played, found))
            weights.append(n)
            if index == 0:
                picture(args.pictures / f"program-{program:03d}.png", frontend, heard, program)
            used += n
        if used == 0:
            continue
        result = {"instrument": instrument_name(program), "family": family_name(program)}
        result.update(summarize(sums, scores if transcriber is not None else None, levels, weights, n_notes, matched))
        per_program[str(program)] = result
    by_goal = {
        goal: bool(per_program) and all(r["goals"][goal] is not False for r in per_program.values())
        for goal in ("f1", "distance", "distance_level_matched", "loudness")
    }
    if transcriber is None:
        by_goal["f1"] = False
    by_family = {
        r["family"]: {
            "program": int(p),
            "neural_f1_over_reference": r.get("neural_f1_over_reference"),
            "neural_over_dsp": max(r["neural_over_dsp"].values()),
            "neural_over_dsp_level_matched": max(r["neural_over_dsp_level_matched"].values()),
            "abs_neural_minus_dsp_db": r["loudness_db"]["abs_neural_minus_dsp"],
        }
        for p, r in per_program.items()
    }
    print(
        json.dumps(
            {
                "benchmark": "neural_fidelity",
                "per_program": per_program,
                "by_family": by_family,
                "goal": (
                    f"every program: neural note F1 >= {GOAL_F1_RATIO} x the reference's (where the reference's "
                    f"F1 >= {MIN_JUDGED_REFERENCE_F1}); neural distance <= {GOAL_RATIO} x the DSP synth's, "
                    f"log-mel L1 and MR-STFT; |neural - DSP| loudness <= {GOAL_LOUDNESS_DB} dB (BS.1770 LUFS)"
                ),
                "met_by_goal": by_goal,
                "met": all(by_goal.values()),
                "transcriber": transcriber.info() if transcriber is not None else {"problem": problem},
                "split": args.split,
                "weights": weights_info(folder),
                "pictures": str(args.pictures),
                "wall_s": round(time.perf_counter() - t0, 1),
                "sample_rate": SAMPLE_RATE,
                **machine_facts(),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

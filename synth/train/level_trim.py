"""Level trims for the neural instrument: per trained program, the gain that gives it the DSP synth's loudness.

    trims_db = measure_level_trims(load_neural_models(folder), "data/audio", split="valid")
    write_level_trims("models/renderer/model.safetensors", trims_db)      # into the file's metadata

A user switches a track between the DSP synth and the neural instrument
(`Y` in the app); its level must not jump. The renderer learns FluidSynth's
level (the training audio, at the data builder's FLUID_GAIN), which is
5-25 dB under the DSP synth's depending on the program. So each trained
program gets a trim: the DSP synth's integrated loudness (ITU-R BS.1770-4,
K-weighted and gated, pyloudnorm) minus the neural instrument's, both
playing the same pieces (the valid split, or "valid,train" for more of
them; benchmarks measure on test) at the engine's 24 kHz. NeuralSynth multiplies its output by it
(`NeuralModels.gain_db`). The trims are written into the renderer file's
metadata (`extra.gain_db`), the tensors untouched, atomically.

    python -m synth.train.level_trim [--models models] [--data data/audio] [--split valid,train]
        [--seconds-per-program 90]

It also writes the programs of the build's train split (extra.programs):
NeuralSynth plays a program never trained as the nearest trained one of
its GM family. First, unless --no-note-curves, each program's release
curve against FluidSynth (synth/train/release_curve.py,
extra.release_gain_db), then its level curves over the keyboard and the
velocities with it playing (synth/train/note_level.py, extra.pitch_gain_db
and extra.velocity_gain_db); the trims are then measured with all of them
playing.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np

from composer.errors import ComposerError
from composer.files.atomic import atomic_write
from synth.base import Synth
from synth.data.audio_dataset import AudioDataset
from synth.instruments.dsp.dsp import DspSynth
from synth.instruments.neural.neural_synth import NeuralModels, NeuralSynth, load_neural_models, models_dir

SAMPLE_RATE = 24000
BLOCK_FRAMES = 256
FLOOR_LUFS = -70.0
MAX_TRIM_DB = 40.0


def play(
    synth: Synth, notes: np.ndarray, n_samples: int, block_frames: int = BLOCK_FRAMES, sample_rate: int = SAMPLE_RATE
) -> np.ndarray:
    """Notes (N, 4: pitch, velocity, start_s, end_s) through `synth` at sample-exact times, in blocks of
    `block_frames`: float32 (n_samples,)."""
    events = sorted(
        [(round(s * sample_rate), 1, int(p), int(v)) for p, v, s, _ in notes]
        + [(round(e * sample_rate), 0, int(p), 0) for p, _, _, e in notes]
    )
    out, pos, k = [], 0, 0
    while pos < n_samples:
        n = min(block_frames, n_samples - pos)
        while k < len(events) and events[k][0] < pos + n:
            at, is_on, pitch, velocity = events[k]
            if is_on:
                synth.note_on(pitch, velocity, max(at - pos, 0))
            else:
                synth.note_off(pitch, max(at - pos, 0))
            k += 1
        out.append(synth.render(n))
        pos += n
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def loudness_lufs(audio: np.ndarray, meter) -> float:
    """Integrated loudness of mono audio (at least one 400 ms block), floored at FLOOR_LUFS."""
    x = np.asarray(audio, np.float64)
    x = np.pad(x, (0, max(int(0.4 * SAMPLE_RATE) - len(x), 0)))
    with np.errstate(divide="ignore"):
        value = float(meter.integrated_loudness(x))
    return value if np.isfinite(value) and value > FLOOR_LUFS else FLOOR_LUFS


def measure_level_trims(
    models: NeuralModels,
    data_dir: str | Path,
    split: str = "valid",
    seconds_per_program: float = 90.0,
    with_trims: bool = False,
) -> dict[int, float]:
    """{program: DSP loudness - neural loudness, dB} for each program of the build's split (or splits, comma-
    separated, in order: "valid,train"), pieces pooled up to `seconds_per_program` (the median of the pieces'
    differences, pieces too quiet to measure left out). The neural instrument
    plays without its trims (what a new trim must make up), or `with_trims` (what is left: about 0); its
    level and release curves (pitch_gain_db, velocity_gain_db, release_gain_db) play either way."""
    import pyloudnorm

    meter = pyloudnorm.Meter(SAMPLE_RATE)
    untrimmed = dataclasses.replace(models, gain_db=models.gain_db if with_trims else {})
    by_program: dict[int, list] = {}
    for name in split.split(","):
        for piece in AudioDataset(data_dir, name.strip()).pieces:
            by_program.setdefault(piece.program, []).append(piece)
    trims = {}
    for program, pieces in sorted(by_program.items()):
        if not 0 <= program < 128:
            continue  # the drum kit plays with the DSP kit
        budget, differences = int(seconds_per_program * SAMPLE_RATE), []
        for piece in pieces:
            n = min(len(piece.audio), budget)
            if n < SAMPLE_RATE // 2:
                break
            budget -= n
            neural = NeuralSynth(untrimmed, program, SAMPLE_RATE, block_frames=BLOCK_FRAMES)
            latency = neural.latency_samples
            heard = play(neural, piece.notes, n + latency)[latency:]
            dsp = play(DspSynth(program, sample_rate=SAMPLE_RATE), piece.notes, n)
            a, b = loudness_lufs(dsp, meter), loudness_lufs(heard, meter)
            if a > FLOOR_LUFS and b > FLOOR_LUFS:
                differences.append(a - b)
        if differences:
            trims[program] = round(float(np.clip(np.median(differences), -MAX_TRIM_DB, MAX_TRIM_DB)), 2)
    return trims


def trained_programs(data_dir: str | Path) -> list[int]:
    """The GM programs of the build's train split (the drum kit left out)."""
    return sorted({piece.program for piece in AudioDataset(data_dir, "train").pieces if 0 <= piece.program < 128})


def write_level_trims(
    path: str | Path,
    trims_db: dict[int, float],
    programs: list[int] | None = None,
    curves_db: tuple[dict[int, tuple[float, ...]], dict[int, tuple[float, ...]]] | None = None,
    release_db: dict[int, tuple[float, ...]] | None = None,
) -> None:
    """Put `trims_db` (and the trained `programs`, the level curves by pitch and by velocity `curves_db`, the
    release curves `release_db`, when given) into the renderer file's metadata (extra.gain_db, extra.programs,
    extra.pitch_gain_db, extra.velocity_gain_db, extra.release_gain_db), tensors as they are; atomic."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    path = Path(path)
    with safe_open(str(path), framework="pt") as f:
        meta = dict(f.metadata() or {})
        tensors = {name: f.get_tensor(name) for name in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    if meta.get("kind") != "renderer":
        raise ComposerError(path, f"not a renderer file (kind {meta.get('kind')!r})")
    extra = json.loads(meta.get("extra", "{}"))
    extra["gain_db"] = {str(p): v for p, v in sorted(trims_db.items())}
    if programs is not None:
        extra["programs"] = sorted(int(p) for p in programs)
    if curves_db is not None:
        for name, curves in zip(("pitch_gain_db", "velocity_gain_db"), curves_db, strict=True):
            extra[name] = {str(p): list(c) for p, c in sorted(curves.items())}
    if release_db is not None:
        extra["release_gain_db"] = {str(p): list(c) for p, c in sorted(release_db.items())}
    meta["extra"] = json.dumps(extra)
    atomic_write(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m synth.train.level_trim", description=__doc__.split("\n")[0])
    parser.add_argument("--models", type=Path, default=None, help="folder with renderer/ and vocoder/ (models/)")
    parser.add_argument("--data", default="data/audio", help="an audio-data build")
    parser.add_argument(
        "--split", default="valid", help="the split(s) the trims are measured on, in order: valid, or valid,train"
    )
    parser.add_argument("--seconds-per-program", type=float, default=90.0)
    parser.add_argument(
        "--note-curves",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="measure each program's release curve and level curves over pitch and velocity first (default: on; "
        "off keeps the file's)",
    )
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    folder = args.models or models_dir()
    try:
        programs = trained_programs(args.data)
        models = load_neural_models(folder)
        models.programs = tuple(programs)
        curves = release = None
        if args.note_curves:
            from synth.train.note_level import measure_note_curves
            from synth.train.release_curve import measure_release_curves

            release = measure_release_curves(models, programs)
            models.release_gain_db = release
            curves = measure_note_curves(models, programs)
            models.pitch_gain_db, models.velocity_gain_db = curves
        trims = measure_level_trims(models, args.data, args.split, args.seconds_per_program)
        write_level_trims(folder / "renderer" / "model.safetensors", trims, programs, curves, release)
    except ComposerError as exc:
        print(f"level_trim: {exc}", file=sys.stderr)
        return 2
    ranges = {}
    for name, by_program in zip(("pitch_gain_db_range", "velocity_gain_db_range"), curves or (), strict=False):
        ranges[name] = {p: [min(c), max(c)] for p, c in by_program.items()}
    print(json.dumps({"gain_db": trims} | ranges))
    return 0


if __name__ == "__main__":
    sys.exit(main())

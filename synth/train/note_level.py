"""Level curves for the neural instrument: per trained program, a gain per MIDI pitch and per velocity.

    pitch_db, velocity_db = measure_note_curves(models, programs=[0, 42])   # {program: 128 dB, median 0} each
    models.pitch_gain_db, models.velocity_gain_db = pitch_db, velocity_db  # NeuralSynth plays each note by them

One trim per program (synth/train/level_trim.py) cannot give the neural instrument the DSP synth's level
everywhere: how loud the two play a note depends on its pitch and its velocity differently. Measured on the
shipped renderer, single 1-s notes: at velocity 90 the string ensemble goes from -1 dB at C2 to +9 dB at C7
against the DSP synth and the piano from 0 to -9 dB; over the velocities (C3-C5) the neural instrument's
level rises 7-16 dB more from velocity 30 to 127 than the DSP synth's. So a piece's level difference depends
on its register and its dynamics, and held-out pieces land 4-10 dB off where they differ from the pieces
the trim was measured on. Each program gets two curves: on a grid a single note plays through both synths
(at velocity 90 across the pitches; at C3, C4 and C5, their median, across the velocities), the differences
of their loudness (BS.1770, as the trims) are smoothed (a 3-point median), centred on their median (the
program's trim keeps the level) and read at every value 0-127 by linear interpolation, held flat beyond the
grid's ends. A note plays at the product of its pitch's and its velocity's gains (the harmonic voice's
partials; its noise part and the vocoder voice keep the program's trim alone).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from synth.instruments.dsp.dsp import DspSynth
from synth.instruments.neural.neural_synth import NeuralModels, NeuralSynth
from synth.train.level_trim import BLOCK_FRAMES, FLOOR_LUFS, SAMPLE_RATE, loudness_lufs, play

GRID_PITCHES = tuple(range(24, 109, 3))  # C1 .. C8 in minor thirds
GRID_VELOCITIES = (20, 35, 50, 65, 80, 95, 110, 127)
VELOCITY_PITCHES = (48, 60, 72)  # the velocity curve's notes, their median
VELOCITY = 90  # the pitch curve's
NOTE_S, TAIL_S = 1.0, 0.5
MAX_CURVE_DB = 12.0


def note_level_differences(
    models: NeuralModels,
    program: int,
    pitches: Iterable[int] = GRID_PITCHES,
    velocity: int = VELOCITY,
    with_curves: bool = False,
) -> dict[int, float]:
    """{pitch: DSP loudness - neural loudness, dB} for one note at each pitch (the neural instrument without its
    trim, and without its level curves unless `with_curves`); pitches either synth plays too quietly to
    measure are left out."""
    import pyloudnorm

    meter = pyloudnorm.Meter(SAMPLE_RATE)
    curves = (models.pitch_gain_db, models.velocity_gain_db) if with_curves else ({}, {})
    bare = dataclasses.replace(models, gain_db={}, pitch_gain_db=curves[0], velocity_gain_db=curves[1])
    n = int((NOTE_S + TAIL_S) * SAMPLE_RATE)
    out = {}
    for pitch in pitches:
        notes = np.array([[pitch, velocity, 0.0, NOTE_S]])
        neural = NeuralSynth(bare, program, SAMPLE_RATE, block_frames=BLOCK_FRAMES)
        heard = play(neural, notes, n + neural.latency_samples)[neural.latency_samples :]
        dsp = play(DspSynth(program, sample_rate=SAMPLE_RATE), notes, n)
        a, b = loudness_lufs(dsp, meter), loudness_lufs(heard, meter)
        if a > FLOOR_LUFS and b > FLOOR_LUFS:
            out[int(pitch)] = a - b
    return out


def velocity_level_differences(
    models: NeuralModels,
    program: int,
    velocities: Iterable[int] = GRID_VELOCITIES,
    pitches: Iterable[int] = VELOCITY_PITCHES,
    with_curves: bool = False,
) -> dict[int, float]:
    """{velocity: the median over `pitches` of note_level_differences at that velocity}."""
    out = {}
    for velocity in velocities:
        at = note_level_differences(models, program, pitches, int(velocity), with_curves)
        if at:
            out[int(velocity)] = float(np.median(list(at.values())))
    return out


def curve_of(differences: dict[int, float]) -> tuple[float, ...]:
    """128 dB from {pitch or velocity: difference}: 3-point median over the grid, less its median, clipped to
    +-MAX_CURVE_DB, interpolated at every value 0-127; all 0 with fewer than 3 points."""
    if len(differences) < 3:
        return (0.0,) * 128
    points = np.array(sorted(differences), np.float64)
    values = np.array([differences[int(p)] for p in points])
    padded = np.concatenate([values[:1], values, values[-1:]])
    smooth = np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)
    centred = np.clip(smooth - np.median(smooth), -MAX_CURVE_DB, MAX_CURVE_DB)
    return tuple(round(float(v), 2) for v in np.interp(np.arange(128), points, centred))


def measure_note_curves(
    models: NeuralModels,
    programs: Iterable[int],
    pitches: Iterable[int] = GRID_PITCHES,
    velocities: Iterable[int] = GRID_VELOCITIES,
) -> tuple[dict[int, tuple[float, ...]], dict[int, tuple[float, ...]]]:
    """({program: pitch curve}, {program: velocity curve}), 128 dB each, for each program (the drum kit,
    outside 0-127, left out)."""
    pitches, velocities = tuple(pitches), tuple(velocities)
    by_pitch, by_velocity = {}, {}
    for program in (int(p) for p in programs if 0 <= int(p) < 128):
        by_pitch[program] = curve_of(note_level_differences(models, program, pitches))
        by_velocity[program] = curve_of(velocity_level_differences(models, program, velocities))
    return by_pitch, by_velocity

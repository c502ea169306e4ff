"""Release curves for the neural instrument: per trained program, how fast a note fades after its note-off.

    curves_db = measure_release_curves(models, programs=[71])   # {program: RELEASE_BINS dB, 0 or below}
    models.release_gain_db = curves_db                          # NeuralSynth plays each released note by them

The renderer fades a released note more slowly than FluidSynth, whose sound it learned: measured on single
notes, the clarinet's reference falls 47 dB in the 20 ms after its note-off and the renderer's 6 dB, and a
run of fast repeated notes then sounds (and transcribes) as one long note. Each program gets a curve, one
gain per RELEASE_BIN_S after the note-off: single notes (RELEASE_PITCHES at VELOCITY, NOTE_S long) through
FluidSynth and the neural instrument, each take's level per bin after the note-off relative to its own
held level (the median of the HELD_S before it), floored at FLOOR_DB; the curve is the median over the
pitches of the reference's minus the neural's, kept at or under 0 dB (it only shortens a release, never
lengthens one) and never rising later in the release. The neural instrument's release changes with the
curve (its bins overlap the frames'), so this is done ROUNDS times, each round correcting the last.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import numpy as np

from composer.song import Note
from synth.instruments.neural.neural_synth import RELEASE_BIN_S, RELEASE_BINS, NeuralModels, NeuralSynth
from synth.train.level_trim import BLOCK_FRAMES, SAMPLE_RATE, play

RELEASE_PITCHES = tuple(range(48, 85, 4))  # C3 .. C6
VELOCITY = 90
NOTE_S, HELD_S = 0.6, 0.2
FLOOR_DB = -60.0
ROUNDS = 3


def bin_levels_db(audio: np.ndarray, n_bins: int) -> np.ndarray:
    """Mean-square level of each RELEASE_BIN_S of `audio` (zero-padded to n_bins), dB, floored at -120."""
    size = round(RELEASE_BIN_S * SAMPLE_RATE)
    x = np.zeros(n_bins * size)
    x[: min(len(audio), x.size)] = audio[: x.size]
    return 10.0 * np.log10(np.maximum((x.reshape(n_bins, size) ** 2).mean(axis=1), 1e-12))


def release_after_db(audio: np.ndarray) -> np.ndarray | None:
    """(RELEASE_BINS,) a single note's level in each bin after its note-off at NOTE_S, relative to its held
    level and floored at FLOOR_DB; None when it holds no sound."""
    off, held = round(NOTE_S / RELEASE_BIN_S), round(HELD_S / RELEASE_BIN_S)
    levels = bin_levels_db(audio, off + RELEASE_BINS)
    level = float(np.median(levels[off - held : off]))
    if level < -100.0:
        return None
    return np.maximum(levels[off:] - level, FLOOR_DB)


def release_differences(models: NeuralModels, program: int, references: dict[int, np.ndarray]) -> np.ndarray | None:
    """(RELEASE_BINS,) the median over the pitches of reference minus neural release levels, dB (the neural
    instrument as `models` play it); None when no pitch sounds in both."""
    n = round((NOTE_S + RELEASE_BINS * RELEASE_BIN_S + 0.05) * SAMPLE_RATE)
    differences = []
    for pitch, reference in references.items():
        neural = NeuralSynth(models, program, SAMPLE_RATE, block_frames=BLOCK_FRAMES)
        heard = play(neural, np.array([[pitch, VELOCITY, 0.0, NOTE_S]]), n + neural.latency_samples)
        ours, theirs = release_after_db(heard[neural.latency_samples :]), release_after_db(reference)
        if ours is not None and theirs is not None:
            differences.append(theirs - ours)
    return np.median(np.stack(differences), axis=0) if differences else None


def measure_release_curves(
    models: NeuralModels, programs: Iterable[int], pitches: Iterable[int] = RELEASE_PITCHES
) -> dict[int, tuple[float, ...]]:
    """{program: RELEASE_BINS dB} for each program (the drum kit, outside 0-127, left out); FluidSynth and
    FluidR3 GM play the reference (ComposerError when they are missing)."""
    from synth.data.fluid import FluidRenderer

    out = {}
    with FluidRenderer(SAMPLE_RATE) as fluid:
        for program in (int(p) for p in programs if 0 <= int(p) < 128):
            references = {int(p): fluid.render({program: [Note(int(p), VELOCITY, 0.0, NOTE_S)]}) for p in pitches}
            curve = np.zeros(RELEASE_BINS)
            for _ in range(ROUNDS):
                playing = dataclasses.replace(models, release_gain_db={program: tuple(curve)})
                difference = release_differences(playing, program, references)
                if difference is None:
                    break
                curve = np.minimum.accumulate(np.clip(curve + difference, FLOOR_DB, 0.0))
            out[program] = tuple(round(float(v), 2) for v in curve)
    return out

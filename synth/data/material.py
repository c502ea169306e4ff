"""Generated playing material that covers an instrument's whole range, for the neural instruments' training data.

    pieces = material_pieces(program=73, seed=0)   # [(piece id, notes)], one per kind, times from 0 s
    song = material_song(73, seed=0)               # the same pieces one after another, as a Song

Kinds: chromatic and diatonic scales, block chords, arpeggios, repeated notes,
velocity sweeps (1 to 127), long holds and short staccatos. Every kind walks
the instrument's whole range (`instrument_range`); the seed varies keys,
tempi, velocities and voicings, so seed n and seed n+1 give different pieces.
"""

from __future__ import annotations

import numpy as np

from composer.gm import instrument_name
from composer.song import Note, Song, Track

# Playable ranges as MIDI pitches (lowest, highest): the written ranges of the real instruments,
# within what FluidR3 GM's presets sound well.
INSTRUMENT_RANGES: dict[int, tuple[int, int]] = {
    0: (21, 108),  # acoustic grand piano A0-C8
    19: (24, 96),  # church organ C1-C7
    24: (40, 83),  # nylon guitar E2-B5
    42: (36, 76),  # cello C2-E5
    48: (28, 96),  # string ensemble, contrabass E1 to violin C7
    56: (54, 84),  # trumpet F#3-C6
    73: (60, 96),  # flute C4-C7
    11: (53, 89),  # vibraphone F3-F6
    33: (28, 67),  # electric bass (finger) E1-G4
    71: (50, 91),  # clarinet D3-G6
    81: (48, 96),  # sawtooth lead C3-C7
    89: (36, 96),  # warm pad C2-C7
    99: (36, 96),  # atmosphere C2-C7
    105: (48, 84),  # banjo C3-C6
    114: (52, 88),  # steel drums E3-E6
    120: (40, 84),  # guitar fret noise E2-C6
}
DEFAULT_RANGE = (36, 96)
KINDS = ("scale", "chords", "arpeggio", "repeated", "velocity_sweep", "long_hold", "staccato")
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)
CHORDS = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 10), (0, 3, 7, 10), (0, 4, 7, 11), (0, 3, 6), (0, 5, 7), (0, 7, 12))


def instrument_range(program: int) -> tuple[int, int]:
    """(lowest, highest) MIDI pitch the program plays in the training data."""
    return INSTRUMENT_RANGES.get(program, DEFAULT_RANGE)


def material_pieces(program: int, seed: int = 0) -> list[tuple[str, list[Note]]]:
    """One piece per kind, `material/PPP/KIND/SEED`, each starting at 0 s and sorted by onset."""
    low, high = instrument_range(program)
    pieces = []
    for index, kind in enumerate(KINDS):
        rng = np.random.default_rng([seed, program, index])
        notes = _MAKERS[kind](rng, low, high)
        notes.sort(key=lambda n: (n.start_s, n.pitch))
        pieces.append((f"material/{program:03d}/{kind}/{seed}", notes))
    return pieces


def material_song(program: int, seed: int = 0, gap_s: float = 1.0) -> Song:
    """Every kind of `material_pieces` one after another, `gap_s` apart, on one track."""
    notes: list[Note] = []
    t_s = 0.0
    for _, piece in material_pieces(program, seed):
        notes += [Note(n.pitch, n.velocity, n.start_s + t_s, n.end_s + t_s) for n in piece]
        t_s = max(n.end_s for n in notes) + gap_s
    return Song(tracks=[Track(instrument_name(program), program, notes=notes)])


def _velocity(rng: np.random.Generator, level: int, spread: float = 8.0) -> int:
    return int(np.clip(round(level + rng.normal(0.0, spread)), 1, 127))


def _scale(rng: np.random.Generator, low: int, high: int) -> list[Note]:
    """A chromatic run up and down the whole range, then a diatonic one in a random key."""
    notes: list[Note] = []
    t_s = 0.0
    step_s = float(rng.uniform(0.12, 0.3))
    level = int(rng.integers(50, 110))
    chromatic = list(range(low, high + 1)) + list(range(high - 1, low - 1, -1))
    key, mode = int(rng.integers(12)), MAJOR if rng.random() < 0.5 else MINOR
    diatonic_up = [p for p in range(low, high + 1) if (p - key) % 12 in mode]
    for run, legato in ((chromatic, 0.9), (diatonic_up + diatonic_up[-2::-1], float(rng.uniform(0.5, 1.0)))):
        for pitch in run:
            notes.append(Note(pitch, _velocity(rng, level), t_s, t_s + step_s * legato))
            t_s += step_s
        t_s += 0.5
        step_s = float(rng.uniform(0.08, 0.25))
    return notes


def _chords(rng: np.random.Generator, low: int, high: int) -> list[Note]:
    """Block chords whose roots walk from the bottom of the range to the top."""
    notes: list[Note] = []
    t_s, root = 0.0, low
    while root <= high:
        shape = CHORDS[int(rng.integers(len(CHORDS)))]
        pitches = [root + i for i in shape if root + i <= high] or [root]
        hold_s = float(rng.uniform(0.4, 1.6))
        level = int(rng.integers(30, 127))
        for pitch in pitches:
            notes.append(Note(pitch, _velocity(rng, level, 5.0), t_s, t_s + hold_s))
        t_s += hold_s + float(rng.uniform(0.0, 0.3))
        root += int(rng.integers(2, 6))
    return notes


def _arpeggio(rng: np.random.Generator, low: int, high: int) -> list[Note]:
    """Broken chords up and down, across the range one chord at a time; some held like a pedal."""
    notes: list[Note] = []
    t_s, root = 0.0, low
    while root <= high:
        shape = CHORDS[int(rng.integers(len(CHORDS)))]
        octave_span = [root + i + 12 * o for o in range(3) for i in shape if root + i + 12 * o <= high][:8]
        figure = octave_span + octave_span[-2::-1]
        step_s = float(rng.uniform(0.06, 0.2))
        pedal = rng.random() < 0.4
        level = int(rng.integers(40, 115))
        end_s = t_s + step_s * len(figure)
        for i, pitch in enumerate(figure):
            start_s = t_s + i * step_s
            # With the pedal each note rings to the end of the figure (up to its next strike, in the renderer).
            notes.append(Note(pitch, _velocity(rng, level), start_s, end_s if pedal else start_s + 0.9 * step_s))
        t_s = end_s + 0.2
        root += int(rng.integers(4, 9))
    return notes


def _repeated(rng: np.random.Generator, low: int, high: int) -> list[Note]:
    """The same pitch struck 4-12 times, slow to very fast, at pitches across the range."""
    notes: list[Note] = []
    t_s = 0.0
    for pitch in range(low + int(rng.integers(0, 4)), high + 1, 5):
        step_s = float(rng.uniform(0.05, 0.35))
        gate = float(rng.uniform(0.3, 0.95))
        level = int(rng.integers(30, 120))
        for _ in range(int(rng.integers(4, 13))):
            notes.append(Note(pitch, _velocity(rng, level, 12.0), t_s, t_s + step_s * gate))
            t_s += step_s
        t_s += 0.3
    return notes


def _velocity_sweep(rng: np.random.Generator, low: int, high: int) -> list[Note]:
    """Velocity 1 to 127 (or back down) in even steps, on pitches across the range."""
    notes: list[Note] = []
    t_s = 0.0
    pitches = list(range(low + int(rng.integers(0, 7)), high + 1, 7)) + [high]
    for k, pitch in enumerate(pitches):
        velocities = np.linspace(1, 127, int(rng.integers(8, 17))).round().astype(int)
        if k % 2:
            velocities = velocities[::-1]
        length_s = float(rng.uniform(0.15, 0.6))
        for velocity in velocities:
            notes.append(Note(pitch, int(velocity), t_s, t_s + length_s))
            t_s += length_s + float(rng.uniform(0.05, 0.2))
        t_s += 0.3
    return notes


def _long_hold(rng: np.random.Generator, low: int, high: int) -> list[Note]:
    """Notes held 1.5-4 s across the range, sometimes a second note entering under the first."""
    notes: list[Note] = []
    t_s = 0.0
    for pitch in range(low + int(rng.integers(0, 5)), high + 1, 5):
        hold_s = float(rng.uniform(1.5, 4.0))
        notes.append(Note(pitch, _velocity(rng, int(rng.integers(20, 127)), 0.0), t_s, t_s + hold_s))
        if rng.random() < 0.3:
            other = int(np.clip(pitch + rng.choice([-7, -5, -4, -3, 3, 4, 5, 7]), low, high))
            if other != pitch:
                notes.append(Note(other, _velocity(rng, 70, 20.0), t_s + hold_s / 3, t_s + hold_s))
        t_s += hold_s + float(rng.uniform(0.2, 0.6))
    return notes


def _staccato(rng: np.random.Generator, low: int, high: int) -> list[Note]:
    """Very short notes (25-90 ms) on random pitches, covering the range in shuffled order."""
    notes: list[Note] = []
    t_s = 0.0
    pitches = rng.permutation(np.arange(low, high + 1))
    level = int(rng.integers(50, 120))
    for pitch in pitches:
        length_s = float(rng.uniform(0.025, 0.09))
        notes.append(Note(int(pitch), _velocity(rng, level, 15.0), t_s, t_s + length_s))
        t_s += length_s + float(rng.uniform(0.06, 0.25))
    return notes


_MAKERS = {
    "scale": _scale,
    "chords": _chords,
    "arpeggio": _arpeggio,
    "repeated": _repeated,
    "velocity_sweep": _velocity_sweep,
    "long_hold": _long_hold,
    "staccato": _staccato,
}

"""Short generated parts for the prompt data: melodies, chord progressions, arpeggios and drum grooves.

    notes = melody(rng, key_pc=2, mode="minor", bpm=72.0, low=48, high=62, level=60, length_s=5.5)
    notes = groove(rng, style="rock", bpm=120.0, level=90, length_s=5.5)     # GM drum pitches (36 kick, ...)

Pitched parts stay inside [low, high] and inside the key's scale (natural
minor, so every note and chord is diatonic); times are seconds from 0, the
beat is 60 / bpm seconds; every part fills `length_s` (the last note may ring
past it). Velocities scatter around `level`.
"""

from __future__ import annotations

import numpy as np

from composer.song import Note

MODES = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
PROGRESSIONS = ((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3), (1, 4, 0, 0), (5, 3, 0, 4), (0, 3, 0, 4), (0, 6, 5, 4))
KICK, SNARE, CLAP, CLOSED_HAT, OPEN_HAT, CRASH, RIDE = 36, 38, 39, 42, 46, 49, 51
DRUM_STYLES = ("rock", "disco", "funk", "hip hop")
# One bar of 16 sixteenths per style: {drum: [(step, accent 0-1)]}.
_GROOVES = {
    "rock": {KICK: [(0, 1.0), (8, 0.9), (10, 0.6)], SNARE: [(4, 1.0), (12, 1.0)],
             CLOSED_HAT: [(s, 0.8 if s % 4 == 0 else 0.6) for s in range(0, 16, 2)]},
    "disco": {KICK: [(s, 1.0) for s in (0, 4, 8, 12)], CLAP: [(4, 0.9), (12, 0.9)],
              OPEN_HAT: [(s, 0.7) for s in (2, 6, 10, 14)], CLOSED_HAT: [(s, 0.5) for s in (0, 4, 8, 12)]},
    "funk": {KICK: [(0, 1.0), (3, 0.7), (10, 0.8)], SNARE: [(4, 1.0), (7, 0.3), (9, 0.3), (12, 1.0), (15, 0.3)],
             CLOSED_HAT: [(s, 0.75 if s % 2 == 0 else 0.45) for s in range(16)]},
    "hip hop": {KICK: [(0, 1.0), (7, 0.7), (10, 0.9)], SNARE: [(4, 1.0), (12, 1.0)],
                CLOSED_HAT: [(s, 0.6) for s in range(0, 16, 2)], OPEN_HAT: [(14, 0.5)]},
}  # fmt: skip


def scale_pitches(key_pc: int, mode: str, low: int, high: int) -> list[int]:
    """Every pitch of the key's scale in [low, high], ascending."""
    steps = MODES[mode]
    return [p for p in range(low, high + 1) if (p - key_pc) % 12 in steps]


def _velocity(rng: np.random.Generator, level: float, spread: float = 6.0) -> int:
    return int(np.clip(round(level + rng.normal(0.0, spread)), 1, 127))


def melody(rng, key_pc: int, mode: str, bpm: float, low: int, high: int, level: int, length_s: float) -> list[Note]:
    """A random walk on the scale with a rhythm of eighths to half notes, starting on the tonic or fifth."""
    pitches = scale_pitches(key_pc, mode, low, high)
    beat_s = 60.0 / bpm
    # Fast tempi get longer notes in beats, so the notes per second stay playable.
    durations = (0.5, 1.0, 1.0, 2.0) if bpm >= 110 else (0.5, 0.5, 1.0, 1.0, 1.5, 2.0) if bpm >= 80 else (
        0.25, 0.5, 0.5, 1.0, 1.0, 2.0)  # fmt: skip
    gate = float(rng.uniform(0.55, 0.95))
    anchors = [i for i, p in enumerate(pitches) if (p - key_pc) % 12 in (0, 7)]
    index = int(anchors[len(anchors) // 2]) if anchors else len(pitches) // 2
    notes: list[Note] = []
    t_beats = 0.0
    while t_beats * beat_s < length_s:
        length_beats = float(durations[int(rng.integers(len(durations)))])
        near_end = (t_beats + 2.0) * beat_s > length_s - 1.0
        if rng.random() < 0.08 and notes and not near_end:  # now and then a rest of up to a beat
            t_beats += min(length_beats, 1.0)
            continue
        accent = 8.0 if t_beats % 1.0 == 0 else 0.0
        start_s = t_beats * beat_s
        end_s = start_s + length_beats * beat_s * gate
        notes.append(Note(pitches[index], _velocity(rng, level + accent), start_s, end_s))
        t_beats += length_beats
        step = int(rng.choice((-3, -2, -1, -1, -1, 0, 1, 1, 1, 2, 3)))
        index = index + step if 0 <= index + step < len(pitches) else index - step
        index = int(np.clip(index, 0, len(pitches) - 1))
    return notes


def chord_voicings(key_pc: int, mode: str, low: int, high: int, degree: int, size: int = 3) -> list[int]:
    """A close diatonic chord on `degree` (0-6) in [low, high], as low in the window as it fits."""
    steps = MODES[mode]
    pcs = [(key_pc + steps[(degree + 2 * k) % 7]) % 12 for k in range(size)]
    for root in range(low, high + 1):
        if root % 12 != pcs[0]:
            continue
        chord = [root]
        for pc in pcs[1:]:
            nxt = chord[-1] + 1
            while nxt % 12 != pc:
                nxt += 1
            chord.append(nxt)
        if chord[-1] <= high:
            return chord
    # The window is narrower than the chord: fold the tones into it, dropping doubles.
    return sorted({low + (pc - low) % 12 for pc in pcs if low + (pc - low) % 12 <= high}) or [low]


def _progression(rng, bpm: float, length_s: float) -> tuple[list[int], float]:
    """(chord degrees, chord length in beats) enough to fill length_s."""
    beats_per_chord = 2.0 if bpm < 90 else 4.0
    degrees = list(PROGRESSIONS[int(rng.integers(len(PROGRESSIONS)))])
    n_chords = int(np.ceil(length_s / (beats_per_chord * 60.0 / bpm)))
    return [degrees[i % len(degrees)] for i in range(n_chords)], beats_per_chord


def chords(rng, key_pc: int, mode: str, bpm: float, low: int, high: int, level: int, length_s: float) -> list[Note]:
    """A diatonic progression, held or struck on every beat, triads or sevenths."""
    beat_s = 60.0 / bpm
    degrees, beats_per_chord = _progression(rng, bpm, length_s)
    size = 4 if rng.random() < 0.3 else 3
    pulsed = rng.random() < 0.4
    notes: list[Note] = []
    for i, degree in enumerate(degrees):
        chord = chord_voicings(key_pc, mode, low, high, degree, size)
        start_s = i * beats_per_chord * beat_s
        hits = [(start_s + b * beat_s, 0.8 * beat_s) for b in range(int(beats_per_chord))] if pulsed else [
            (start_s, 0.95 * beats_per_chord * beat_s)]  # fmt: skip
        for hit_s, hold_s in hits:
            hit_level = _velocity(rng, level, 4.0)
            notes += [Note(p, _velocity(rng, hit_level, 3.0), hit_s, hit_s + hold_s) for p in chord]
    return [n for n in notes if n.start_s < length_s]


def arpeggio(rng, key_pc: int, mode: str, bpm: float, low: int, high: int, level: int, length_s: float) -> list[Note]:
    """The progression's chords broken in eighths or sixteenths: up, up-down or alberti figures."""
    beat_s = 60.0 / bpm
    degrees, beats_per_chord = _progression(rng, bpm, length_s)
    per_beat = 4 if bpm < 90 else 2
    figure = ("up", "updown", "alberti")[int(rng.integers(3))]
    ring = rng.random() < 0.5
    step_s = beat_s / per_beat
    notes: list[Note] = []
    for i, degree in enumerate(degrees):
        chord = chord_voicings(key_pc, mode, low, high, degree, 3)
        octave_up = [p + 12 for p in chord if p + 12 <= high]
        tones = chord + octave_up
        if figure == "updown":
            tones = tones + tones[-2:0:-1]
        elif figure == "alberti" and len(chord) == 3:
            tones = [chord[0], chord[2], chord[1], chord[2]]
        start_s = i * beats_per_chord * beat_s
        n_steps = int(beats_per_chord * per_beat)
        for k in range(n_steps):
            on_s = start_s + k * step_s
            off_s = start_s + n_steps * step_s if ring else on_s + 0.9 * step_s
            accent = 6.0 if k % per_beat == 0 else 0.0
            notes.append(Note(tones[k % len(tones)], _velocity(rng, level + accent), on_s, off_s))
    return [n for n in notes if n.start_s < length_s]


def groove(rng, style: str, bpm: float, level: int, length_s: float) -> list[Note]:
    """Bars of the style's pattern with accents, a little timing and velocity spread, fills now and then."""
    bar = _GROOVES[style]
    step_s = 60.0 / bpm / 4
    n_bars = int(np.ceil(length_s / (16 * step_s)))
    crash = rng.random() < 0.3
    notes: list[Note] = []
    for b in range(n_bars):
        t0 = b * 16 * step_s
        hits = [(drum, step, accent) for drum, steps in bar.items() for step, accent in steps]
        if b % 2 == 1 and rng.random() < 0.3:  # a snare fill on the last beat
            hits = [h for h in hits if h[1] < 12] + [(SNARE, s, 0.5 + 0.1 * (s - 12)) for s in range(12, 16)]
        if crash and b == 0:
            hits.append((CRASH, 0, 0.9))
        for drum, step, accent in hits:
            on_s = max(0.0, t0 + step * step_s + float(rng.normal(0.0, 0.004)))
            notes.append(Note(drum, _velocity(rng, level * (0.55 + 0.45 * accent), 5.0), on_s, on_s + 0.1))
    notes = [n for n in notes if n.start_s < length_s]
    return sorted(notes, key=lambda n: (n.start_s, n.pitch))

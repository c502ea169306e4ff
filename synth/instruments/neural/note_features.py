"""Per-frame features of the sounding notes: the renderer's input, the same live and in training.

    tracker = NoteTracker(max_notes=16)
    tracker.note_on(60, 100, time_samples=1000.0)     # times: samples at 24 kHz, in order
    pitch, notes, track = tracker.frame(end_samples=1024)
    # pitch (S,) int64, notes (S, N_NOTE_FEATURES) float32, track (N_TRACK_FEATURES,) float32

A frame is the state at its end: events before the end are in it, so a
note-on lands in the frame it falls in (the very next frame the renderer
makes). Ages are measured at the frame's end, so the onset's position inside
the frame is in the features too. `features_from_notes` replays a note list
through the same tracker for training, so live and offline features agree.

Per note slot: active, velocity, four views of the time since onset, released,
three views of the time since release, held by the pedal. Per track: sustain
pedal, pitch bend. A slot frees itself RELEASE_KEEP_S after its release; a
17th note steals the slot released longest ago, else the oldest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

ONSET_TAUS_S = (0.03, 0.3, 3.0)
RELEASE_TAUS_S = (0.03, 0.3, 3.0)
N_NOTE_FEATURES = 2 + 1 + len(ONSET_TAUS_S) + 1 + len(RELEASE_TAUS_S) + 1
N_TRACK_FEATURES = 2
AGE_INDEX = 2  # log1p(time since onset / 5 ms) / 8
RELEASED_INDEX = 3 + len(ONSET_TAUS_S)  # the 'released' flag's column; its decays follow
HELD_INDEX = N_NOTE_FEATURES - 1  # 'held by the pedal'
RELEASE_KEEP_S = 4.0
BEND_SCALE_SEMITONES = 2.0


def age_feature(age_s: float) -> float:
    """The AGE_INDEX feature of a note `age_s` seconds after its onset: log1p(age / 5 ms) / 8."""
    return math.log1p(age_s / 0.005) / 8.0


@dataclass
class _Slot:
    pitch: int
    velocity: int
    onset: float  # samples
    key_up: float | None = None  # samples; the key was released (the pedal may still hold it)
    release: float | None = None  # samples; the sound's release started


class NoteTracker:
    """Sounding notes of one track, as fixed-size per-frame features. Events must come in time order."""

    def __init__(self, max_notes: int = 16, sample_rate: int = 24000) -> None:
        if max_notes < 1:
            raise ValueError(f"max_notes must be at least 1, not {max_notes}")
        self.max_notes = int(max_notes)
        self.sample_rate = int(sample_rate)
        self.reset()

    def reset(self) -> None:
        self.slots: list[_Slot | None] = [None] * self.max_notes
        self.pedal_down = False
        self.bend_semitones = 0.0

    @property
    def sounding(self) -> int:
        return sum(s is not None for s in self.slots)

    def note_on(self, pitch: int, velocity: int, time_samples: float) -> None:
        if velocity <= 0:
            self.note_off(pitch, time_samples)
            return
        self.note_off(pitch, time_samples)  # a repeated key releases the sound it had
        free = [i for i, s in enumerate(self.slots) if s is None]
        if free:
            index = free[0]
        else:
            released = [(s.release, i) for i, s in enumerate(self.slots) if s.release is not None]
            index = min(released)[1] if released else min((s.onset, i) for i, s in enumerate(self.slots))[1]
        self.slots[index] = _Slot(int(pitch), int(velocity), float(time_samples))

    def note_off(self, pitch: int, time_samples: float) -> None:
        for slot in self.slots:
            if slot is not None and slot.pitch == pitch and slot.key_up is None:
                slot.key_up = float(time_samples)
                if not self.pedal_down:
                    slot.release = float(time_samples)

    def sustain(self, down: bool, time_samples: float) -> None:
        if self.pedal_down and not down:
            for slot in self.slots:
                if slot is not None and slot.key_up is not None and slot.release is None:
                    slot.release = float(time_samples)
        self.pedal_down = bool(down)

    def bend(self, semitones: float, time_samples: float) -> None:
        self.bend_semitones = float(semitones)

    def frame(self, end_samples: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features at `end_samples`: pitch (S,) int64, notes (S, N_NOTE_FEATURES), track (N_TRACK_FEATURES,)."""
        pitch = np.zeros(self.max_notes, np.int64)
        notes = np.zeros((self.max_notes, N_NOTE_FEATURES), np.float32)
        track = np.zeros(N_TRACK_FEATURES, np.float32)
        self.frame_into(end_samples, pitch, notes, track)
        return pitch, notes, track

    def frame_into(self, end_samples: float, pitch: np.ndarray, notes: np.ndarray, track: np.ndarray) -> None:
        """`frame`'s features written into the caller's arrays (the render thread's, made once)."""
        pitch.fill(0)
        notes.fill(0.0)
        for i, slot in enumerate(self.slots):
            if slot is None:
                continue
            if slot.release is not None and (end_samples - slot.release) / self.sample_rate > RELEASE_KEEP_S:
                self.slots[i] = None
                continue
            age_s = max(end_samples - slot.onset, 0.0) / self.sample_rate
            row = notes[i]
            row[0], row[1], row[AGE_INDEX] = 1.0, slot.velocity / 127.0, age_feature(age_s)
            for j, tau in enumerate(ONSET_TAUS_S):
                row[3 + j] = math.exp(-age_s / tau)
            if slot.release is not None:
                rel_s = max(end_samples - slot.release, 0.0) / self.sample_rate
                row[RELEASED_INDEX] = 1.0
                for j, tau in enumerate(RELEASE_TAUS_S):
                    row[RELEASED_INDEX + 1 + j] = math.exp(-rel_s / tau)
            row[HELD_INDEX] = 1.0 if slot.key_up is not None and slot.release is None else 0.0
            pitch[i] = slot.pitch
        track[0], track[1] = float(self.pedal_down), self.bend_semitones / BEND_SCALE_SEMITONES


def features_from_notes(
    notes: list[tuple[int, int, float, float]],
    n_frames: int,
    max_notes: int = 16,
    sample_rate: int = 24000,
    hop_samples: int = 256,
    sustain: list[tuple[float, float]] = (),
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Notes (pitch, velocity, start_s, end_s) and pedal spans (start_s, end_s) -> features of n_frames frames.

    Returns pitch (T, S) int64, notes (T, S, N_NOTE_FEATURES), track (T, N_TRACK_FEATURES).
    """
    events = []  # (time in samples, order, kind, a, b): offs before ons at one instant, as the engine does
    for pitch, velocity, start_s, end_s in notes:
        events.append((start_s * sample_rate, 1, "on", int(pitch), int(velocity)))
        events.append((end_s * sample_rate, 0, "off", int(pitch), 0))
    for start_s, end_s in sustain:
        events.append((start_s * sample_rate, 2, "pedal", 1, 0))
        events.append((end_s * sample_rate, 0, "pedal", 0, 0))
    events.sort(key=lambda e: (e[0], e[1]))
    tracker = NoteTracker(max_notes, sample_rate)
    pitch = np.zeros((n_frames, max_notes), np.int64)
    feats = np.zeros((n_frames, max_notes, N_NOTE_FEATURES), np.float32)
    track = np.zeros((n_frames, N_TRACK_FEATURES), np.float32)
    e = 0
    for k in range(n_frames):
        end = (k + 1) * hop_samples
        while e < len(events) and events[e][0] < end:
            time, _, kind, a, b = events[e]
            if kind == "on":
                tracker.note_on(a, b, time)
            elif kind == "off":
                tracker.note_off(a, time)
            else:
                tracker.sustain(bool(a), time)
            e += 1
        pitch[k], feats[k], track[k] = tracker.frame(end)
    return pitch, feats, track

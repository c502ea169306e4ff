"""A player's phrase, live: its key, its tempo, the gap that ends it, and its tokens.

    estimate_key(notes)                    # "A:minor" (Krumhansl-Kessler), None without notes
    estimate_tempo_bpm(onsets_s)           # 60..180 BPM from the inter-onset intervals, or None
    gap_for_tempo(tempo_bpm)               # one beat, or DEFAULT_GAP_S without a tempo
    tok = PhraseTokenizer()
    tok.note_on(60, 100, t) + tok.note_off(60, t2) + tok.advance_to(t3)   # token ids as they happen

Times are seconds on any one clock. The tokenizer emits exactly what
`composer.tokens.encode` would give for the same notes (10 ms grid, offs
folded at pedal-up), one event at a time, so a model's KV cache can be primed
while the phrase is still being played.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from composer.keys import PITCH_NAMES
from composer.song import Note
from composer.tokens import STEP_S, VELOCITY_OFFSET, note_off, note_on, shift_tokens, velocity_to_bin

# Krumhansl & Kessler (1982) probe-tone ratings, tonic first.
MAJOR_PROFILE = (6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88)
MINOR_PROFILE = (6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17)
DEFAULT_GAP_S = 0.6
MIN_GAP_S, MAX_GAP_S = 0.15, 2.0
MIN_TEMPO_BPM, MAX_TEMPO_BPM = 60.0, 180.0
CHORD_S = 0.05  # onsets closer than this are one onset (a chord)
MAX_REST_S = 2.0  # a longer silence is told to the model as this long


def pitch_class_weights(notes: Sequence[Note]) -> list[float]:
    """Duration-weighted pitch-class histogram (12,); a held note counts at most 2 s, a tap at least 50 ms."""
    weights = [0.0] * 12
    for n in notes:
        weights[n.pitch % 12] += min(max(n.end_s - n.start_s, 0.05), 2.0)
    return weights


def _correlation(a: Sequence[float], b: Sequence[float]) -> float:
    mean_a, mean_b = sum(a) / len(a), sum(b) / len(b)
    cov = sum((x - mean_a) * (y - mean_b) for x, y in zip(a, b, strict=True))
    var_a = sum((x - mean_a) ** 2 for x in a)
    var_b = sum((y - mean_b) ** 2 for y in b)
    return cov / (var_a * var_b) ** 0.5 if var_a > 0 and var_b > 0 else 0.0


def key_scores(notes: Sequence[Note]) -> dict[str, float]:
    """Correlation of the phrase's pitch classes with each of the 24 major and minor key profiles."""
    weights = pitch_class_weights(notes)
    scores = {}
    for tonic in range(12):
        rotated = weights[tonic:] + weights[:tonic]  # the tonic's weight first
        scores[f"{PITCH_NAMES[tonic]}:major"] = _correlation(rotated, MAJOR_PROFILE)
        scores[f"{PITCH_NAMES[tonic]}:minor"] = _correlation(rotated, MINOR_PROFILE)
    return scores


def estimate_key(notes: Sequence[Note]) -> str | None:
    """The best-matching key as SampleOptions.key spells it ("C#:minor"); None without notes."""
    if not notes:
        return None
    scores = key_scores(notes)
    return max(scores, key=scores.__getitem__)


def estimate_tempo_bpm(onsets_s: Sequence[float]) -> float | None:
    """The beat from the median inter-onset interval, folded into 60..180 BPM; None with under 4 onsets."""
    onsets: list[float] = []
    for t in sorted(onsets_s):
        if not onsets or t - onsets[-1] >= CHORD_S:
            onsets.append(t)
    intervals = [b - a for a, b in zip(onsets, onsets[1:], strict=False)]
    if len(intervals) < 3:
        return None
    bpm = 60.0 / statistics.median(intervals)
    while bpm < MIN_TEMPO_BPM:
        bpm *= 2
    while bpm > MAX_TEMPO_BPM:
        bpm /= 2
    return bpm


def gap_for_tempo(tempo_bpm: float | None, default_s: float = DEFAULT_GAP_S) -> float:
    """The silence that ends a phrase: one beat at `tempo_bpm`, `default_s` without a tempo."""
    gap_s = default_s if tempo_bpm is None or tempo_bpm <= 0 else 60.0 / tempo_bpm
    return min(max(gap_s, MIN_GAP_S), MAX_GAP_S)


class PhraseTokenizer:
    """Live events -> performance tokens, each call returning the ids that event completes.

    The clock's position is `anchor_s`: the time the tokens so far reach, on
    the 10 ms grid. Rests longer than MAX_REST_S are shortened to it.
    Key releases while the sustain pedal is down become NOTE_OFFs at pedal-up.
    """

    def __init__(self, max_rest_s: float = MAX_REST_S) -> None:
        self.max_rest_s = max_rest_s
        self.anchor_s: float | None = None
        self.velocity_bin: int | None = None
        self.sounding: set[int] = set()
        self.pedal_down = False
        self._pedal_held: set[int] = set()
        self._onset_s: dict[int, float] = {}  # pitch -> anchor at its NOTE_ON

    def advance_to(self, time_s: float) -> list[int]:
        """TIME_SHIFTs up to `time_s` (none if it is not later)."""
        if self.anchor_s is None:
            self.anchor_s = time_s  # the first event starts the timeline
            return []
        steps = round((time_s - self.anchor_s) / STEP_S)
        if steps <= 0:
            return []
        self.anchor_s += steps * STEP_S
        return shift_tokens(min(steps, round(self.max_rest_s / STEP_S)))

    def set_anchor(self, time_s: float, velocity_bin: int | None = None) -> None:
        """Where the tokens so far end (after someone else's tokens, e.g. an answer), and its last velocity."""
        self.anchor_s = time_s
        if velocity_bin is not None:
            self.velocity_bin = velocity_bin

    def note_on(self, pitch: int, velocity: int, time_s: float) -> list[int]:
        ids = self.advance_to(time_s)
        if pitch in self.sounding or pitch in self._pedal_held:  # a re-strike ends the sounding one here
            self._pedal_held.discard(pitch)
            ids.append(note_off(pitch))
        velocity_bin = velocity_to_bin(velocity)
        if velocity_bin != self.velocity_bin:
            ids.append(VELOCITY_OFFSET + velocity_bin)
            self.velocity_bin = velocity_bin
        self.sounding.add(pitch)
        self._onset_s[pitch] = self.anchor_s
        ids.append(note_on(pitch))
        return ids

    def _off(self, pitches: Sequence[int], time_s: float) -> list[int]:
        ids = self.advance_to(time_s)
        if not ids and any(self._onset_s.get(p) == self.anchor_s for p in pitches):
            ids = self.advance_to(self.anchor_s + STEP_S)  # every note lasts a step at least, as in encode()
        return ids + [note_off(p) for p in sorted(pitches)]

    def note_off(self, pitch: int, time_s: float) -> list[int]:
        if pitch not in self.sounding:
            return []
        self.sounding.discard(pitch)
        if self.pedal_down:
            self._pedal_held.add(pitch)
            return []
        return self._off([pitch], time_s)

    def pedal(self, down: bool, time_s: float) -> list[int]:
        ids: list[int] = []
        if self.pedal_down and not down and self._pedal_held:
            ids = self._off(sorted(self._pedal_held), time_s)
            self._pedal_held.clear()
        self.pedal_down = down
        return ids

    def release_all(self, time_s: float) -> list[int]:
        """NOTE_OFFs for everything still sounding (keys and pedal), at `time_s`."""
        held = sorted(self.sounding | self._pedal_held)
        self.sounding.clear()
        self._pedal_held.clear()
        return self._off(held, time_s) if held else []

    @property
    def silent(self) -> bool:
        """No key held and no note kept by the pedal: a gap may begin."""
        return not self.sounding and not self._pedal_held and not self.pedal_down

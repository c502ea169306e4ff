"""Performance-event tokens (Oore et al. 2018), as used by Music Transformer.

Vocabulary (ids in this order):
    PAD, BOS, EOS, one STYLE token per style in `STYLES`,
    NOTE_ON x128, NOTE_OFF x128, TIME_SHIFT x100 (10 ms .. 1 s), SET_VELOCITY x32,
    FUTURE (infilling: what follows a gap, given before the stream; see composer.train.fim).

`encode(notes)` and `decode(ids)` convert between notes (seconds) and ids;
`StreamDecoder` takes one id at a time and emits note-on/off events with their
times, for playback while a model samples. Decoding never raises: a NOTE_OFF
without its NOTE_ON is ignored, and a note never closed is closed after
`max_note_s` or at the end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from composer.song import Note

STEP_S = 0.01  # one TIME_SHIFT step
N_TIME_SHIFTS = 100  # up to 1 s in one token
N_VELOCITY_BINS = 32
STYLES = ("chorale", "renaissance", "folk", "classical", "medieval", "other")

PAD, BOS, EOS = 0, 1, 2
STYLE_OFFSET = 3
NOTE_ON_OFFSET = STYLE_OFFSET + len(STYLES)
NOTE_OFF_OFFSET = NOTE_ON_OFFSET + 128
TIME_SHIFT_OFFSET = NOTE_OFF_OFFSET + 128
VELOCITY_OFFSET = TIME_SHIFT_OFFSET + N_TIME_SHIFTS
VELOCITY_END = VELOCITY_OFFSET + N_VELOCITY_BINS
FUTURE = VELOCITY_END  # [STYLE, FUTURE, shifts to the gap's end, what follows..., BOS, before..., the fill]
VOCAB_SIZE = FUTURE + 1
DEFAULT_MAX_NOTE_S = 8.0


def style_token(style: str) -> int:
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r}; expected one of {', '.join(STYLES)}")
    return STYLE_OFFSET + STYLES.index(style)


def note_on(pitch: int) -> int:
    return NOTE_ON_OFFSET + pitch


def note_off(pitch: int) -> int:
    return NOTE_OFF_OFFSET + pitch


def time_shift(steps: int) -> int:
    """A shift of 1..100 steps of 10 ms."""
    return TIME_SHIFT_OFFSET + steps - 1


def velocity_to_bin(velocity: int) -> int:
    return min(max(int(velocity), 1), 127) * N_VELOCITY_BINS // 128


def bin_to_velocity(velocity_bin: int) -> int:
    """The middle of the bin's velocity range (bin 0 -> 2, bin 31 -> 126)."""
    return velocity_bin * 128 // N_VELOCITY_BINS + 128 // N_VELOCITY_BINS // 2


def describe(token: int) -> str:
    """A readable name for one id, for logs and debugging."""
    if token < 0 or token >= VOCAB_SIZE:
        return f"INVALID_{token}"
    if token in (PAD, BOS, EOS):
        return ("PAD", "BOS", "EOS")[token]
    if token < NOTE_ON_OFFSET:
        return f"STYLE_{STYLES[token - STYLE_OFFSET]}"
    if token < NOTE_OFF_OFFSET:
        return f"NOTE_ON_{token - NOTE_ON_OFFSET}"
    if token < TIME_SHIFT_OFFSET:
        return f"NOTE_OFF_{token - NOTE_OFF_OFFSET}"
    if token < VELOCITY_OFFSET:
        return f"TIME_SHIFT_{token - TIME_SHIFT_OFFSET + 1}"
    if token == FUTURE:
        return "FUTURE"
    return f"VELOCITY_{token - VELOCITY_OFFSET}"


def quantize(notes: Iterable[Note], max_note_s: float = DEFAULT_MAX_NOTE_S) -> list[Note]:
    """The notes as the tokens can hold them: 10 ms grid, velocity bins, no
    overlap of a pitch with itself (an earlier note ends where the next starts),
    length capped. `decode(encode(notes)) == quantize(notes)`.
    """
    cap_steps = round(max_note_s / STEP_S)
    grid = []
    for n in notes:
        if not 0 <= n.pitch <= 127:
            continue
        on = round(n.start_s / STEP_S)
        off = min(max(round(n.end_s / STEP_S), on + 1), on + cap_steps)
        grid.append([on, off, int(n.pitch), bin_to_velocity(velocity_to_bin(n.velocity))])
    grid.sort(key=lambda g: (g[0], g[2], g[1]))
    last_by_pitch: dict[int, list[int]] = {}
    kept = []
    for g in grid:
        prev = last_by_pitch.get(g[2])
        if prev is not None and prev[1] > g[0]:
            if prev[0] == g[0]:
                prev[1] = max(prev[1], g[1])  # same onset twice: keep one, the longer
                continue
            prev[1] = g[0]
        last_by_pitch[g[2]] = g
        kept.append(g)
    out = [Note(p, v, on * STEP_S, off * STEP_S) for on, off, p, v in kept]
    return sorted(out, key=lambda n: (n.start_s, n.pitch))


def encode(notes: Iterable[Note], max_note_s: float = DEFAULT_MAX_NOTE_S) -> list[int]:
    """Notes (seconds) -> token ids: offs before ons at the same step, velocity
    tokens only where the velocity changes. No BOS/EOS/style; callers add them.
    """
    events: list[tuple[int, int, int, int]] = []  # (step, 0=off/1=on, pitch, velocity bin)
    for n in quantize(notes, max_note_s):
        on, off = round(n.start_s / STEP_S), round(n.end_s / STEP_S)
        events.append((on, 1, n.pitch, velocity_to_bin(n.velocity)))
        events.append((off, 0, n.pitch, 0))
    events.sort()
    ids: list[int] = []
    step_now = 0
    velocity_now = -1
    for step, is_on, pitch, velocity_bin in events:
        ids.extend(shift_tokens(step - step_now))
        step_now = step
        if is_on:
            if velocity_bin != velocity_now:
                ids.append(VELOCITY_OFFSET + velocity_bin)
                velocity_now = velocity_bin
            ids.append(note_on(pitch))
        else:
            ids.append(note_off(pitch))
    return ids


def shift_tokens(steps: int) -> list[int]:
    """TIME_SHIFT tokens for a gap of `steps` x 10 ms."""
    out = []
    while steps > 0:
        chunk = min(steps, N_TIME_SHIFTS)
        out.append(time_shift(chunk))
        steps -= chunk
    return out


@dataclass(frozen=True)
class NoteEvent:
    """A note starting (`on`) or ending at `time_s`, as the stream decodes it."""

    on: bool
    pitch: int
    velocity: int
    time_s: float


class StreamDecoder:
    """Decode ids one at a time into note events; never raises.

    `feed(id)` returns the events that id completes (a NOTE_ON gives an `on`
    event at once; a TIME_SHIFT may close notes held past the cap);
    `finish()` closes what is still sounding. Times start at `start_s`.
    """

    def __init__(self, start_s: float = 0.0, max_note_s: float = DEFAULT_MAX_NOTE_S) -> None:
        self.step = 0
        self.start_s = start_s
        self.cap_steps = round(max_note_s / STEP_S)
        self.velocity = bin_to_velocity(velocity_to_bin(64))  # a velocity the tokens can hold
        self.sounding: dict[int, int] = {}  # pitch -> onset step
        self.releasing: set[int] = set()  # NOTE_OFF in the note's own step: it ends one step later
        self.ended = False

    @property
    def time_s(self) -> float:
        return self.start_s + self.step * STEP_S

    def _at(self, step: int) -> float:
        return self.start_s + step * STEP_S

    def feed(self, token: int) -> list[NoteEvent]:
        if self.ended:
            return []
        token = int(token)
        events: list[NoteEvent] = []
        if token == EOS:
            return self.finish()
        if NOTE_ON_OFFSET <= token < NOTE_OFF_OFFSET:
            pitch = token - NOTE_ON_OFFSET
            if pitch in self.sounding:  # re-strike: close the old one here
                if self.sounding[pitch] == self.step:
                    return []
                events.append(NoteEvent(False, pitch, 0, self.time_s))
            self.sounding[pitch] = self.step
            events.append(NoteEvent(True, pitch, self.velocity, self.time_s))
        elif NOTE_OFF_OFFSET <= token < TIME_SHIFT_OFFSET:
            pitch = token - NOTE_OFF_OFFSET
            if self.sounding.get(pitch) == self.step:
                self.releasing.add(pitch)  # no zero-length notes: every note is at least one step
            elif self.sounding.pop(pitch, None) is not None:
                events.append(NoteEvent(False, pitch, 0, self.time_s))
        elif TIME_SHIFT_OFFSET <= token < VELOCITY_OFFSET:
            new_step = self.step + token - TIME_SHIFT_OFFSET + 1
            for pitch in sorted(self.releasing):
                events.append(NoteEvent(False, pitch, 0, self._at(self.step + 1)))
                del self.sounding[pitch]
            self.releasing.clear()
            for pitch, onset in sorted(self.sounding.items(), key=lambda kv: kv[1]):
                if onset + self.cap_steps <= new_step:
                    events.append(NoteEvent(False, pitch, 0, self._at(onset + self.cap_steps)))
                    del self.sounding[pitch]
            self.step = new_step
        elif VELOCITY_OFFSET <= token < VELOCITY_END:
            self.velocity = bin_to_velocity(token - VELOCITY_OFFSET)
        return events

    def finish_at(self, time_s: float) -> list[NoteEvent]:
        """Close every sounding note at `time_s` (or one step after its onset)."""
        step = round((time_s - self.start_s) / STEP_S)
        events = []
        for pitch, onset in sorted(self.sounding.items(), key=lambda kv: kv[1]):
            events.append(NoteEvent(False, pitch, 0, self._at(max(step, onset + 1))))
        self.sounding.clear()
        self.releasing.clear()
        self.ended = True
        return events

    def finish(self) -> list[NoteEvent]:
        """Close every sounding note at the current time (at least one step long)."""
        return self.finish_at(self.time_s)


def events_to_notes(events: Iterable[NoteEvent]) -> list[Note]:
    """Pair on/off events (as StreamDecoder emits them) into notes."""
    open_notes: dict[int, NoteEvent] = {}
    notes = []
    for ev in events:
        if ev.on:
            open_notes[ev.pitch] = ev
        elif ev.pitch in open_notes:
            start = open_notes.pop(ev.pitch)
            notes.append(Note(ev.pitch, start.velocity, start.time_s, ev.time_s))
    return sorted(notes, key=lambda n: (n.start_s, n.pitch))


def decode(ids: Sequence[int], max_note_s: float = DEFAULT_MAX_NOTE_S, start_s: float = 0.0) -> list[Note]:
    """Token ids -> notes; any sequence of ints is accepted."""
    decoder = StreamDecoder(start_s=start_s, max_note_s=max_note_s)
    events: list[NoteEvent] = []
    for token in ids:
        events.extend(decoder.feed(token))
    events.extend(decoder.finish())
    return events_to_notes(events)

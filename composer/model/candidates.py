"""AI candidates in a song: what the model is primed with, where its notes go, the user's settings.

Pure functions and small value types; the Textual app calls them and runs the
sampler (composer.model.sample) in a worker thread. Nothing here imports torch.

    settings = AISettings(bars=8, temperature=0.9, key="C:major")
    settings.validate()                                   # ComposerError naming the field
    primer = primer_before(track, at_s)                   # notes before the cursor, shifted to start at 0
    assembler = NoteAssembler(offset_s=at_s)
    new_notes = assembler.feed(item.events)               # completed notes, absolute seconds
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from composer.errors import ComposerError
from composer.keys import parse_key
from composer.song import Note, Song, Track
from composer.tokens import STYLES, NoteEvent

PRIMER_WINDOW_S = 30.0  # the model sees at most this much before the cursor (its context is short anyway)
MAX_BARS = 64
MAX_VARIATIONS = 8
AUTO_STYLE = "auto"


@dataclass(frozen=True)
class AISettings:
    """What the user chose in the AI panel; lengths in bars, turned into seconds by the song's tempo."""

    style: str = AUTO_STYLE  # AUTO_STYLE: guessed from the primer (or drawn from the seed)
    temperature: float = 1.0
    top_p: float = 0.95
    bars: int = 4
    key: str | None = None  # "C:major": notes outside the scale are never sampled
    seed: int | None = None  # None: a new random seed each time
    variations: int = 3

    def validate(self) -> None:
        """Raise ComposerError naming the first field that is out of range."""
        if self.style != AUTO_STYLE and self.style not in STYLES:
            raise ComposerError("style", f"expected {AUTO_STYLE} or one of {', '.join(STYLES)}, got {self.style!r}")
        if not (math.isfinite(self.temperature) and 0 < self.temperature <= 10):
            raise ComposerError("temperature", f"must be in (0, 10], got {self.temperature}")
        if not (math.isfinite(self.top_p) and 0 < self.top_p <= 1):
            raise ComposerError("top-p", f"must be in (0, 1], got {self.top_p}")
        if not 1 <= self.bars <= MAX_BARS:
            raise ComposerError("length", f"must be 1 to {MAX_BARS} bars, got {self.bars}")
        if self.key is not None:
            parse_key(self.key)
        if not 1 <= self.variations <= MAX_VARIATIONS:
            raise ComposerError("variations", f"must be 1 to {MAX_VARIATIONS}, got {self.variations}")

    def seconds(self, song: Song) -> float:
        return song.beats_to_s(self.bars * song.beats_per_bar)

    def describe(self) -> str:
        key = self.key or "any key"
        seed = "random seed" if self.seed is None else f"seed {self.seed}"
        return (
            f"{self.style} · {self.bars} bar{'s' if self.bars != 1 else ''} · temp {self.temperature:g}"
            f" · top-p {self.top_p:g} · {key} · {seed} · {self.variations} variations"
        )

    def with_seed(self, seed: int | None) -> AISettings:
        return replace(self, seed=seed)


def parse_settings(fields: dict[str, str]) -> AISettings:
    """AISettings from the panel's text fields; ComposerError naming the field on bad input.

    Fields: style, temperature, top_p, bars, key, seed, variations (blank key / seed: none).
    """

    def number(name: str, kind: type, label: str):
        text = fields.get(name, "").strip()
        try:
            return kind(text)
        except ValueError:
            raise ComposerError(label, f"{text!r} is not a {'whole ' if kind is int else ''}number") from None

    key = fields.get("key", "").strip() or None
    seed_text = fields.get("seed", "").strip()
    settings = AISettings(
        style=fields.get("style", AUTO_STYLE).strip() or AUTO_STYLE,
        temperature=number("temperature", float, "temperature"),
        top_p=number("top_p", float, "top-p"),
        bars=number("bars", int, "length"),
        key=key,
        seed=number("seed", int, "seed") if seed_text else None,
        variations=number("variations", int, "variations"),
    )
    settings.validate()
    return settings


def primer_before(track: Track, at_s: float, window_s: float = PRIMER_WINDOW_S) -> list[Note]:
    """The track's notes that start in [at_s - window_s, at_s), ends cut at `at_s`, shifted so `at_s` - window
    (or the first note) is time 0: the model hears the music leading up to the cursor."""
    notes = [n for n in track.notes if at_s - window_s <= n.start_s < at_s]
    if not notes:
        return []
    origin_s = min(n.start_s for n in notes)
    return [Note(n.pitch, n.velocity, n.start_s - origin_s, min(n.end_s, at_s) - origin_s) for n in notes]


class NoteAssembler:
    """Pairs streamed note events into Notes placed at `offset_s` + event time."""

    def __init__(self, offset_s: float) -> None:
        self.offset_s = offset_s
        self._open: dict[int, NoteEvent] = {}

    def feed(self, events: Iterable[NoteEvent]) -> list[Note]:
        """The notes these events complete (a note-on with no off yet waits for it)."""
        done: list[Note] = []
        for ev in events:
            if ev.on:
                self._open[ev.pitch] = ev
                continue
            start = self._open.pop(ev.pitch, None)
            if start is not None and ev.time_s > start.time_s:
                done.append(Note(ev.pitch, start.velocity, self.offset_s + start.time_s, self.offset_s + ev.time_s))
        return done

    @property
    def sounding(self) -> int:
        return len(self._open)


def place(track: Track, notes: Sequence[Note]) -> None:
    """Add a kept candidate's notes (copies) to the track, sorted."""
    track.notes.extend(Note(n.pitch, n.velocity, n.start_s, n.end_s) for n in notes)
    track.sort()

"""Listening to an AI candidate before keeping it: its notes go to the engine's live input as the
playhead passes them, while the song plays as usual (the candidate is not in the song yet)."""

from __future__ import annotations

from collections.abc import Sequence

from composer.song import Note


class Audition:
    """The candidate's note-ons and -offs in time order, handed out as the playhead reaches them."""

    def __init__(self, notes: Sequence[Note], track_index: int) -> None:
        self.track_index = track_index
        events = [(n.start_s, 1, n.pitch, n.velocity) for n in notes]
        events += [(n.end_s, 0, n.pitch, 0) for n in notes]
        self._events = sorted(events)  # offs sort before ons at the same instant
        self._next = 0
        self.sounding: set[int] = set()
        self.end_s = max((n.end_s for n in notes), default=0.0)

    @property
    def done(self) -> bool:
        return self._next >= len(self._events)

    def due(self, position_s: float) -> list[tuple[bool, int, int]]:
        """(on, pitch, velocity) for every event at or before `position_s` not handed out yet."""
        out = []
        while self._next < len(self._events) and self._events[self._next][0] <= position_s:
            _, on, pitch, velocity = self._events[self._next]
            self._next += 1
            if on:
                self.sounding.add(pitch)
            else:
                self.sounding.discard(pitch)
            out.append((bool(on), pitch, velocity))
        return out

"""Listening to an AI candidate before keeping it: the engine schedules its notes with the track's own
(`set_preview`), sample-accurately, while the song plays as usual; the candidate is not in the song."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from composer.song import Note


@dataclass(frozen=True)
class Audition:
    """The candidate being heard: its notes, its track, and when it has been heard to the end."""

    notes: tuple[Note, ...]
    track_index: int

    @classmethod
    def of(cls, notes: Sequence[Note], track_index: int) -> Audition:
        return cls(tuple(notes), track_index)

    @property
    def end_s(self) -> float:
        return max((n.end_s for n in self.notes), default=0.0)

    def done(self, heard_s: float) -> bool:
        """Whether the listener has heard it all at heard position `heard_s`."""
        return heard_s >= self.end_s

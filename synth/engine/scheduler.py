"""The scheduler: a song's notes as sample-stamped note-on/off events.

Notes (seconds) become per-track arrays of events at integer sample times
(note-offs sort before note-ons at the same sample, so a repeated note
re-strikes). `events(start, stop)` gives a window's events; the scheduler
remembers which notes it started, so a loop wrap, a stop or a seek can end
exactly those (`sounding()`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

import numpy as np

from composer.song import Track

OFF, ON = 0, 1


class TrackEvents:
    """One track's events, sorted: sample (int64), kind (OFF/ON), pitch, velocity."""

    def __init__(self, track: Track, sample_rate: int) -> None:
        notes = track.notes
        n = len(notes)
        start = np.fromiter((x.start_s for x in notes), np.float64, n)
        end = np.fromiter((x.end_s for x in notes), np.float64, n)
        pitch = np.fromiter((x.pitch for x in notes), np.int64, n)
        velocity = np.fromiter((x.velocity for x in notes), np.int64, n)
        on = np.round(start * sample_rate).astype(np.int64)
        off = np.maximum(np.round(end * sample_rate).astype(np.int64), on + 1)
        sample = np.concatenate([off, on])
        kind = np.concatenate([np.full(n, OFF), np.full(n, ON)])
        pitch = np.clip(np.concatenate([pitch, pitch]), 0, 127)
        velocity = np.clip(np.concatenate([np.zeros(n, np.int64), velocity]), 1, 127)
        order = np.lexsort((pitch, kind, sample))
        self.sample = sample[order]
        self.kind = kind[order]
        self.pitch = pitch[order]
        self.velocity = velocity[order]
        self.end_sample = int(off.max()) if n else 0

    def window(self, start: int, stop: int) -> range:
        """Indices of the events with start <= sample < stop."""
        lo, hi = np.searchsorted(self.sample, [start, stop], side="left")
        return range(int(lo), int(hi))


class Scheduler:
    """Events for every track of a song, and the notes it has left sounding."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.tracks: list[TrackEvents] = []
        self._sounding: list[Counter] = []

    def build(self, tracks: Sequence[Track]) -> None:
        """Rebuild from the tracks' notes; the sounding notes stay known, to be ended."""
        self.tracks = [TrackEvents(t, self.sample_rate) for t in tracks]
        old = self._sounding
        self._sounding = [old[i] if i < len(old) else Counter() for i in range(len(tracks))]

    @property
    def end_sample(self) -> int:
        return max((t.end_sample for t in self.tracks), default=0)

    def events(self, start: int, stop: int) -> list[list[tuple[int, int, int, int]]]:
        """Per track: (sample, kind, pitch, velocity) for start <= sample < stop, in order.

        Note-offs for notes this scheduler did not start (the playhead began
        inside them) are left out.
        """
        out: list[list[tuple[int, int, int, int]]] = []
        for index, ev in enumerate(self.tracks):
            sounding = self._sounding[index]
            chosen = []
            for j in ev.window(start, stop):
                kind, pitch = int(ev.kind[j]), int(ev.pitch[j])
                if kind == ON:
                    sounding[pitch] += 1
                elif sounding[pitch] > 0:
                    sounding[pitch] -= 1
                else:
                    continue
                chosen.append((int(ev.sample[j]), kind, pitch, int(ev.velocity[j])))
            out.append(chosen)
        return out

    def sounding(self) -> list[list[int]]:
        """Per track, the pitches this scheduler started and has not ended; forgets them."""
        result = [sorted(c.elements()) for c in self._sounding]
        for c in self._sounding:
            c.clear()
        return result

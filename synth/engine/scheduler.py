"""The scheduler: a song's notes as sample-stamped note-on/off events.

Notes (seconds) become per-track arrays of events at integer sample times
(note-offs sort before note-ons at the same sample, so a repeated note
re-strikes). `events(start, stop)` gives a window's events; the scheduler
remembers which notes it started, so a loop wrap, a stop or a seek can end
exactly those (`sounding()`).

The events (`TrackEvents`) are built off the render thread, as part of the
engine's plan; `Scheduler.use()` puts prebuilt ones in place in O(tracks).
The render thread's per-block work (`play`) looks a window up by bisection
in plain lists and calls the synth directly: no numpy call, no list built.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence

import numpy as np

from composer.song import Track

OFF, ON = 0, 1


class TrackEvents:
    """One track's events, sorted: sample (int64), kind (OFF/ON), pitch, velocity (also as lists)."""

    def __init__(self, track: Track, sample_rate: int, more: Sequence = ()) -> None:
        notes = [*track.notes, *more]  # `more`: notes heard with the track's own (a previewed candidate)
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
        # Plain lists for the render thread: bisect and indexing without numpy scalars.
        self.samples: list[int] = self.sample.tolist()
        self.kinds: list[int] = self.kind.tolist()
        self.pitches: list[int] = self.pitch.tolist()
        self.velocities: list[int] = self.velocity.tolist()

    def window(self, start: int, stop: int) -> range:
        """Indices of the events with start <= sample < stop."""
        return range(bisect_left(self.samples, start), bisect_left(self.samples, stop))


class Scheduler:
    """Events for every track of a song, and the notes it has left sounding."""

    def __init__(self, sample_rate: int) -> None:
        self.sample_rate = sample_rate
        self.tracks: list[TrackEvents] = []
        self._sounding: list[Counter] = []

    def build(self, tracks: Sequence[Track]) -> None:
        """Rebuild from the tracks' notes; the sounding notes stay known, to be ended."""
        self.use([TrackEvents(t, self.sample_rate) for t in tracks])

    def use(self, events: Sequence[TrackEvents]) -> None:
        """Put prebuilt events in place (the render thread's part of a plan switch: O(tracks))."""
        self.tracks = list(events)
        old = self._sounding
        self._sounding = [old[i] if i < len(old) else Counter() for i in range(len(self.tracks))]

    @property
    def end_sample(self) -> int:
        return max((t.end_sample for t in self.tracks), default=0)

    def play(self, index: int, start: int, stop: int, synth, offset: int) -> bool:
        """Hand track `index`'s events for start <= sample < stop to `synth`, at `offset + sample - start`.

        Note-offs for notes this scheduler did not start (the playhead began inside them) are left
        out. Returns whether there were any events.
        """
        ev = self.tracks[index]
        samples = ev.samples
        lo = bisect_left(samples, start)
        hi = bisect_left(samples, stop, lo)
        if lo == hi:
            return False
        sounding = self._sounding[index]
        kinds, pitches, velocities = ev.kinds, ev.pitches, ev.velocities
        shift = offset - start
        for j in range(lo, hi):
            pitch = pitches[j]
            if kinds[j] == ON:
                sounding[pitch] += 1
                synth.note_on(pitch, velocities[j], samples[j] + shift)
            elif sounding[pitch] > 0:
                sounding[pitch] -= 1
                synth.note_off(pitch, samples[j] + shift)
        return True

    def events(self, start: int, stop: int) -> list[list[tuple[int, int, int, int]]]:
        """Per track: (sample, kind, pitch, velocity) for start <= sample < stop, in order.

        Note-offs for notes this scheduler did not start (the playhead began inside them) are left out.
        """
        out: list[list[tuple[int, int, int, int]]] = []
        for index, ev in enumerate(self.tracks):
            sounding = self._sounding[index]
            chosen = []
            for j in ev.window(start, stop):
                kind, pitch = ev.kinds[j], ev.pitches[j]
                if kind == ON:
                    sounding[pitch] += 1
                elif sounding[pitch] > 0:
                    sounding[pitch] -= 1
                else:
                    continue
                chosen.append((ev.samples[j], kind, pitch, ev.velocities[j]))
            out.append(chosen)
        return out

    def sounding_pitches(self, index: int) -> list[int]:
        """The pitches of track `index` this scheduler started and has not ended (kept)."""
        return sorted(self._sounding[index].elements()) if index < len(self._sounding) else []

    def sounding(self) -> list[list[int]]:
        """Per track, the pitches this scheduler started and has not ended; forgets them."""
        result = [sorted(c.elements()) for c in self._sounding]
        for c in self._sounding:
            c.clear()
        return result

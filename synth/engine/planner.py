"""The engine's plans: what the render thread plays, and how a plan is built off it and published.

A `Plan` is each track's synth (in a `_Voice`) and its scheduled events, built whole and published
with one reference assignment; `Planner` is the part of `synth.engine.engine.Engine` that builds,
publishes and switches plans, and runs the planner thread while an output plays (see the engine's
module docstring for the rules). It works on the Engine's own attributes.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from composer.song import Track
from synth.base import Synth
from synth.engine.scheduler import TrackEvents

SynthFactory = Callable[[Track], Synth]

OVERLOAD_WINDOW_BLOCKS = 32  # a synth over the engine's OVERLOAD_LOAD on average over this many blocks moves to DSP
PLAN_POLL_S = 0.02  # the planner thread looks for changed tracks this often
LIVE_PITCHES = range(128)  # while an output plays, a keyboard may play any key: all tables are built ahead


def _prepare(synth: Synth, pitches) -> None:
    """Build the synth's tables for `pitches` now (DspSynth.prepare), never while another thread renders it."""
    prepare = getattr(synth, "prepare", None)
    if prepare is not None:
        prepare(pitches)


@dataclass(eq=False)
class _Voice:
    """The synth playing a track, with what it was made from; shared by the plans that keep it."""

    synth: Synth
    made_from: tuple
    loads: deque = field(default_factory=lambda: deque(maxlen=OVERLOAD_WINDOW_BLOCKS))  # render s / block s
    mono: np.ndarray = field(default_factory=lambda: np.zeros(0, np.float32))  # its block, kept between blocks


@dataclass(frozen=True, eq=False)
class Plan:
    """What the render thread plays: per track, the track, its voice and its scheduled events."""

    tracks: tuple[Track, ...]
    voices: tuple[_Voice, ...]
    events: tuple[TrackEvents, ...]
    signature: tuple
    built_in: str = ""  # the thread that built it (for tests and the curious)


def _synth_key(track: Track) -> tuple:
    return (track.program, track.is_drum, track.synth)


class Planner:
    """The plan side of Engine: sync_tracks, notes_changed, the planner thread (a mixin of Engine)."""

    # ---- tracks and plans ----------------------------------------------------------------------------

    def sync_tracks(self) -> None:
        """Match the synths to song.tracks now, in the caller's thread: a new plan, published.

        Synths whose track is unchanged (by content) are kept, new ones are made here; the render
        thread switches to the plan at the start of its next block.
        """
        self._rebuild()

    def notes_changed(self) -> None:
        """Call after editing notes in place (moving or resizing one); adding or removing is noticed alone.

        While an output plays, the planner thread builds the new plan at once; offline, the next block does.
        """
        self._stale = True
        self._plan_wanted.set()

    def set_preview(self, track_index: int | None, notes=()) -> None:
        """Sound `notes` on track `track_index` as if they were in it, without putting them in the song.

        What auditioning an AI candidate plays: scheduled sample-accurately with the track's own notes,
        by the same plan machinery as an edit. `set_preview(None)` ends it (its sounding notes stop).
        """
        self._preview = None if track_index is None else (int(track_index), tuple(notes))
        self.notes_changed()

    @property
    def preview(self) -> tuple[int, tuple] | None:
        """(track index, notes) being previewed, or None."""
        return self._preview

    def _rebuild(self) -> None:
        """Build a plan for the song as it is now and publish it (one builder at a time)."""
        with self._plan_lock:
            self._publish(self._build_plan())

    def _build_plan(self) -> Plan:
        """A plan for the song as it is now: synths reused by content, events scheduled. Never under _lock.

        The caller holds _plan_lock.
        """
        self._stale = False
        old = self._published
        tracks = tuple(self.song.tracks)
        preview = self._preview
        signature = self._signature(tracks, preview)
        by_id = {id(t): v for t, v in zip(old.tracks, old.voices, strict=True)}
        free: dict[tuple, list[_Voice]] = {}
        for v in old.voices:
            free.setdefault(v.made_from, []).append(v)
        chosen: list[_Voice | None] = [None] * len(tracks)
        # The same track object first, then the same position, then any voice of the same kind.
        for i, track in enumerate(tracks):
            v = by_id.get(id(track))
            if v is not None and v.made_from == _synth_key(track) and v in free.get(v.made_from, ()):
                chosen[i] = v
                free[v.made_from].remove(v)
        for i, track in enumerate(tracks):
            key = _synth_key(track)
            if chosen[i] is None and i < len(old.voices) and old.voices[i] in free.get(key, ()):
                chosen[i] = old.voices[i]
                free[key].remove(old.voices[i])
        voices = []
        for i, track in enumerate(tracks):
            v = chosen[i]
            key = _synth_key(track)
            if v is None and free.get(key):
                v = free[key].pop(0)
            if v is None:
                synth = self.synth_factory(track)
                if synth.sample_rate != self.sample_rate:
                    raise ValueError(
                        f"synth for {track.name!r} runs at {synth.sample_rate} Hz, the engine at {self.sample_rate} Hz"
                    )
                # Not playing yet: its tables are made here, for every key while an output plays (live
                # input), else for the track's own pitches (an offline render needs no others).
                _prepare(synth, LIVE_PITCHES if self._output is not None else sorted({n.pitch for n in track.notes}))
                v = _Voice(synth, key)
            voices.append(v)
        extra = [preview[1] if preview is not None and preview[0] == i else () for i in range(len(tracks))]
        events = tuple(TrackEvents(t, self.sample_rate, more) for t, more in zip(tracks, extra, strict=True))
        self._mixer.retain_clips(list(self.song.clips))
        self.plans_built += 1
        return Plan(tracks, tuple(voices), events, signature, threading.current_thread().name)

    def _publish(self, plan: Plan) -> None:
        self._published = plan  # the one reference swap the render thread picks up

    def _switch(self, plan: Plan) -> None:
        """Render thread, block start: play `plan` from now on; notes the old schedule started end."""
        self._end_sounding(0)
        old, self._plan = self._plan, plan
        self._scheduler.use(plan.events)
        self._mixer.forget({id(v) for v in plan.voices})
        if old.voices:
            self._retired.put(old)  # freed by the planner thread, not here

    def _signature(self, tracks=None, preview=None) -> tuple:
        """What a plan depends on, cheaply: the track objects, their note lists and kinds, the clips' audio,
        the preview (as read by the builder, or now)."""
        if tracks is None:
            tracks, preview = self.song.tracks, self._preview
        clips = tuple(id(c.samples) for c in self.song.clips)
        return (clips, id(preview), *((id(t), id(t.notes), len(t.notes), *_synth_key(t)) for t in tracks))

    def _end_sounding(self, offset: int | None) -> None:
        """Note-offs for every note the scheduler started, at `offset` (None: at the start of the next block)."""
        for voice, pitches in zip(self._plan.voices, self._scheduler.sounding(), strict=False):
            for pitch in pitches:
                if offset is None:
                    self._deferred_offs.append((voice.synth, pitch))
                else:
                    voice.synth.note_off(pitch, offset)

    # ---- the planner thread (while an output plays) ---------------------------------------------------

    def attach_output(self, output) -> None:
        """An AudioOutput starts playing this engine: plans are built off the render thread from now on.

        Called before the output renders anything: the synths' tables for every key are built here (10-30 ms
        a track), so the first live note of a key is no first-block spike (it was 21 ms for 64 voices)."""
        for voice in {*self._published.voices, *self._plan.voices}:
            _prepare(voice.synth, LIVE_PITCHES)
        self._output = output
        if self._planner is None:
            self._planner_running = True
            self._planner = threading.Thread(target=self._plan_loop, name="engine-planner", daemon=True)
            self._planner.start()

    def detach_output(self, output) -> None:
        if self._output is output:
            self._output = None
        planner, self._planner = self._planner, None
        if planner is not None:
            self._planner_running = False
            self._plan_wanted.set()
            planner.join(timeout=5.0)

    def _plan_loop(self) -> None:
        while self._planner_running:
            self._plan_wanted.wait(PLAN_POLL_S)
            self._plan_wanted.clear()
            while True:  # old plans are dropped here, where freeing them costs the render thread nothing
                try:
                    self._retired.get_nowait()
                except queue.Empty:
                    break
            if not self._planner_running:
                return
            if self._stale or self._signature() != self._published.signature:
                try:
                    self._rebuild()
                except Exception as exc:  # a synth that cannot be made: say so, keep playing the last plan
                    self._stale = False
                    self.notice(f"the new tracks could not be played ({type(exc).__name__}: {exc})")
                    self._published = Plan(
                        self._published.tracks,
                        self._published.voices,
                        self._published.events,
                        self._signature(),
                        self._published.built_in,
                    )

    @property
    def realtime(self) -> bool:
        """Whether an output plays the engine (plans are then built by the planner thread)."""
        return self._planner is not None

"""MIDI out while playing: the notes of tracks sent to a MIDI output channel, and MIDI clock, when heard.

    sender = MidiOutSender(song, port, transport=lambda: (playing, heard_s, moving, loop_s), clock=True)
    sender.start()          # its own thread: never the render thread, never the audio callback
    ...
    sender.close()          # notes off, clock stopped, thread joined (the port stays the caller's to close)

`port` is anything with `send(mido.Message)` (synth.engine.midi_ports.MidiOutput). `transport()` says
(playing, heard_s, moving, loop_s): whether the transport was started; the song position heard now,
seconds; whether what is heard now is the song moving (not a count-in, not the stop's last blocks still in
the ring); the loop (start_s, end_s) or None. For the engine that is `engine.playing, *engine.heard_state(),
engine.loop` (the render position less the ring's and the device's latency), so an external instrument
sounds with the internal ones.

The thread keeps its own position, moved by the wall clock (time.perf_counter) between looks at the
transport, and sends each event when that position passes it: it sleeps until the next event or clock
tick (BUSY_S at most) while moving, BUSY_S / 5 while started and not yet heard, IDLE_S while stopped.
The heard position only moves in steps (once per audio callback, when the callback takes a block), so it
is the lower edge of the true one: the thread's position jumps forward to it when behind and drifts back
slowly (SLEW a look) when ahead. A heard position more than JUMP_S ahead, or one that went back by more
than JUMP_S / 2 (not a loop wrap), is a seek: notes off, song position pointer, on from there. One more
than JUMP_S behind is the sound held back (the render thread underran): the thread waits for it, so
nothing is sent twice.

What is sent: note on/off of every audible track (mute and solo as in Song.audible_tracks) whose
`midi_out` is a channel 1-16, with a program change for each pitched one when playing starts; on stop,
seek, loop wrap and edits of those tracks while playing, note-offs for every note it started and
all-notes-off (CC 123) on their channels. With `clock`: 24 ticks a beat (a quarter note, at the song's
tempo) while moving; start (from 0) or song position pointer + continue when playing starts; stop when
it stops; stop, song position pointer and continue on a seek or a loop wrap. The events are built
from the song by this thread (a cheap signature looked at every REBUILD_S, the notes of MIDI-out tracks
compared by content), so edits in place need no call; `notes_changed()` asks for a rebuild at once.
"""

from __future__ import annotations

import math
import threading
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable

import mido

from composer.song import Song

Transport = Callable[[], tuple[bool, float, bool, "tuple[float, float] | None"]]

CLOCKS_PER_BEAT = 24
CLOCKS_PER_SPP = 6  # the song position pointer counts sixteenth notes
BUSY_S = 0.005  # while moving, the thread looks at the transport at least this often
IDLE_S = 0.01  # while stopped
JUMP_S = 0.05  # a heard position this far from the thread's own is a seek
STILL_S = 0.01  # heard not moving this long: stopped
SLEW = 0.01  # share of a "running ahead" difference taken back per look
REBUILD_S = 0.05  # how often the song's MIDI-out tracks are checked for edits
ALL_NOTES_OFF = 123
OFF, ON = 0, 1


class MidiOutSender:
    """Sends `song`'s MIDI-out tracks (and MIDI clock when `clock`) to `port` at the heard position."""

    def __init__(
        self,
        song: Song,
        port,
        transport: Transport,
        clock: bool = False,
        report: Callable[[str], None] | None = None,
    ) -> None:
        self.song = song
        self.port = port
        self.transport = transport
        self._clock = bool(clock)
        self.report = report
        self.notes_sent = 0  # note-ons sent
        self.clocks_sent = 0  # clock ticks sent
        self.jumps = 0  # seeks (and stalls longer than JUMP_S) followed
        self.send_error: BaseException | None = None
        self._lock = threading.Lock()  # one sender of messages at a time (the thread, or a caller's toggle)
        self._wake = threading.Event()
        self._running = False
        self._thread: threading.Thread | None = None
        self._rebuild_wanted = True
        self._signature: tuple | None = None
        self._next_check = 0.0
        self._times: list[float] = []  # all MIDI-out events, sorted by time (offs before ons at one time)
        self._events: list[tuple[int, int, int, int]] = []  # (kind, channel 0-15, pitch, velocity)
        self._programs: list[tuple[int, int]] = []  # (channel, program) of the pitched MIDI-out tracks
        self._channels: set[int] = set()
        self._sounding: Counter = Counter()  # (channel, pitch) -> note-ons not yet ended
        self._moving = False
        self._still_s = 0.0  # the heard position when last seen not moving
        self._still_since: float | None = None  # moving, and seen not moving since then
        self._pos = 0.0  # song seconds handled up to (exclusive)
        self._last_heard_s = 0.0  # the heard position at the last look
        self._now = 0.0  # perf_counter of the last look
        self._clock_started = False  # a start or continue was sent and no stop yet

    # ---- control (any thread) ------------------------------------------------------------------------

    @property
    def clock(self) -> bool:
        return self._clock

    @clock.setter
    def clock(self, on: bool) -> None:
        """Clock out on or off; while moving, a song position pointer and continue (or stop) say so at once."""
        on = bool(on)
        with self._lock:
            if on == self._clock:
                return
            self._clock = on
            if self._moving:
                if on:
                    self._send(mido.Message("songpos", pos=self._spp(self._pos)))
                    self._send(mido.Message("continue"))
                else:
                    self._send(mido.Message("stop"))
                self._clock_started = on

    def notes_changed(self) -> None:
        self._rebuild_wanted = True
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._running = True
        self._thread = threading.Thread(target=self._run, name="midi-out", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop the thread; every note it started ends, and the clock stops (the port stays open)."""
        self._running = False
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        with self._lock:
            if self._moving:
                self._halt()

    # ---- the thread ----------------------------------------------------------------------------------

    def _run(self) -> None:
        while self._running:
            try:
                with self._lock:
                    wait_s = self._step(time.perf_counter())
            except Exception as exc:  # a transport or port that fails: one line, and the thread goes on
                self._failed(exc)
                wait_s = IDLE_S
            self._wake.wait(wait_s)
            self._wake.clear()

    def _failed(self, exc: BaseException) -> None:
        first = self.send_error is None or type(exc) is not type(self.send_error)
        self.send_error = exc
        if first and self.report is not None:
            self.report(f"MIDI out: {type(exc).__name__}: {exc}")

    def _step(self, now: float) -> float:
        """One look at the transport; what is due is sent. Returns how long to sleep."""
        if self._rebuild_wanted or now >= self._next_check:
            self._next_check = now + REBUILD_S
            self._maybe_rebuild()
        playing, heard_s, moving, loop = self.transport()
        if not moving:
            if self._moving:
                # The heard position can show the other side of a stop for one look (it is read while the
                # render thread and the callback move it): a stop is one that lasts STILL_S.
                if self._still_since is None:
                    self._still_since = now
                if now - self._still_since < STILL_S:
                    return BUSY_S / 5
                self._halt()
            self._still_s = heard_s
            return BUSY_S / 5 if playing else IDLE_S  # started: look often for the song heard moving
        self._still_since = None
        if not self._moving:
            # The song is heard moving: from where it stood (a small step back: the look came a little late).
            start_s = self._still_s if 0 <= heard_s - self._still_s <= JUMP_S else heard_s
            self._moving, self._now = True, now
            self._begin(start_s)
            self._pos = self._last_heard_s = heard_s
            self._play(start_s, heard_s)
            return self._wait_s(loop)
        dt = max(0.0, now - self._now)
        self._now = now
        target = self._pos + dt
        err = heard_s - _wrap(target, self._pos, loop)
        if loop is not None and loop[0] <= heard_s < loop[1]:
            span = loop[1] - loop[0]
            err = (err + span / 2) % span - span / 2
        last_heard_s, self._last_heard_s = self._last_heard_s, heard_s
        wrapped = loop is not None and heard_s < loop[0] + JUMP_S and last_heard_s > loop[1] - JUMP_S
        if err > JUMP_S or (heard_s < last_heard_s - JUMP_S / 2 and not wrapped):
            self._jump(heard_s)  # a seek: the heard position went far ahead, or back
            return self._wait_s(loop)
        if err < -JUMP_S:
            return BUSY_S  # the sound is held back (an underrun): wait for it here, send nothing twice
        target += err if err > 0 else err * SLEW
        if target > self._pos:
            self._advance(target, loop)
        return self._wait_s(loop)

    def _advance(self, target: float, loop) -> None:
        """Send what lies between the position and `target` (unwrapped), wrapping at the loop's end as the
        engine does (only when the position is before the end)."""
        pos = self._pos
        if loop is not None and pos < loop[1] <= target:
            lo, hi = loop
            self._play(pos, hi)
            self._end_notes()
            over = (target - hi) % max(hi - lo, 1e-9)
            if self._clock:
                self._send(mido.Message("stop"))
                self._send(mido.Message("songpos", pos=self._spp(lo)))
                self._send(mido.Message("continue"))
            self._play(lo, lo + over)
            self._pos = lo + over
            return
        self._play(pos, target)
        self._pos = target

    def _wait_s(self, loop) -> float:
        """Until the next note event or clock tick (song seconds are wall seconds), BUSY_S at most."""
        pos = self._pos
        wait = BUSY_S
        i = bisect_left(self._times, pos)
        if i < len(self._times):
            wait = min(wait, self._times[i] - pos)
        if self._clock:
            tick_s = self.song.seconds_per_beat / CLOCKS_PER_BEAT
            wait = min(wait, math.ceil(pos / tick_s - 1e-9) * tick_s - pos)
        if loop is not None and pos < loop[1]:
            wait = min(wait, loop[1] - pos)
        return max(wait, 0.0002)

    # ---- what is sent --------------------------------------------------------------------------------

    def _begin(self, start_s: float) -> None:
        """The song is heard moving from `start_s`: programs, then clock start (or position + continue)."""
        for channel, program in self._programs:
            self._send(mido.Message("program_change", channel=channel, program=program))
        if self._clock:
            if start_s <= 1e-6:
                self._send(mido.Message("start"))
            else:
                self._send(mido.Message("songpos", pos=self._spp(start_s)))
                self._send(mido.Message("continue"))
        self._clock_started = self._clock

    def _halt(self) -> None:
        self._moving = False
        self._end_notes()
        if self._clock_started:
            self._send(mido.Message("stop"))
        self._clock_started = False

    def _jump(self, heard_s: float) -> None:
        """A seek: notes off, the clock told where, on from `heard_s`."""
        self.jumps += 1
        self._end_notes()
        if self._clock:
            self._send(mido.Message("stop"))
            self._send(mido.Message("songpos", pos=self._spp(heard_s)))
            self._send(mido.Message("continue"))
        self._pos = self._last_heard_s = heard_s

    def _play(self, start_s: float, stop_s: float) -> None:
        """Every event and clock tick with start_s <= time < stop_s, in time order."""
        if stop_s <= start_s:
            return
        times, events, sounding = self._times, self._events, self._sounding
        lo, hi = bisect_left(times, start_s), bisect_left(times, stop_s)
        ticks: list[float] = []
        if self._clock:
            tick_s = self.song.seconds_per_beat / CLOCKS_PER_BEAT
            first, end = math.ceil(start_s / tick_s - 1e-9), math.ceil(stop_s / tick_s - 1e-9)
            ticks = [k * tick_s for k in range(first, end)]
        t = 0
        for j in range(lo, hi):
            while t < len(ticks) and ticks[t] <= times[j]:
                self._tick()
                t += 1
            kind, channel, pitch, velocity = events[j]
            key = (channel, pitch)
            if kind == ON:
                sounding[key] += 1
                self._send(mido.Message("note_on", channel=channel, note=pitch, velocity=velocity))
                self.notes_sent += 1
            elif sounding[key] > 0:
                sounding[key] -= 1
                self._send(mido.Message("note_off", channel=channel, note=pitch))
        for _ in range(t, len(ticks)):
            self._tick()

    def _tick(self) -> None:
        self._send(mido.Message("clock"))
        self.clocks_sent += 1

    def _end_notes(self) -> None:
        """Note-offs for every note started and not ended, then all-notes-off on the channels in use."""
        for (channel, pitch), count in sorted(self._sounding.items()):
            for _ in range(count):
                self._send(mido.Message("note_off", channel=channel, note=pitch))
        self._sounding.clear()
        for channel in sorted(self._channels):
            self._send(mido.Message("control_change", channel=channel, control=ALL_NOTES_OFF, value=0))

    def _send(self, msg: mido.Message) -> None:
        self.port.send(msg)

    def _spp(self, pos_s: float) -> int:
        """The song position pointer of `pos_s`: sixteenth notes since the start (the last one begun)."""
        sixteenths = pos_s / self.song.seconds_per_beat * CLOCKS_PER_BEAT / CLOCKS_PER_SPP
        return min(max(int(math.floor(sixteenths + 1e-9)), 0), 16383)

    # ---- the events, from the song -------------------------------------------------------------------

    def _maybe_rebuild(self) -> None:
        signature = self._song_signature()
        if not self._rebuild_wanted and signature == self._signature:
            return
        self._rebuild_wanted = False
        self._signature = signature
        if self._moving:
            self._end_notes()
        rows: list[tuple[float, int, int, int, int]] = []
        programs, channels = [], set()
        for track in self.song.audible_tracks():
            if track.midi_out is None or not 1 <= track.midi_out <= 16:
                continue
            channel = track.midi_out - 1
            channels.add(channel)
            if not track.is_drum:
                programs.append((channel, int(track.program)))
            for n in list(track.notes):
                pitch = min(max(int(n.pitch), 0), 127)
                rows.append((n.start_s, ON, channel, pitch, min(max(int(n.velocity), 1), 127)))
                rows.append((max(n.end_s, n.start_s + 1e-4), OFF, channel, pitch, 0))
        rows.sort(key=lambda r: (r[0], r[1], r[3]))
        self._times = [r[0] for r in rows]
        self._events = [r[1:] for r in rows]
        self._programs = programs
        # Channels that stop being used still get their all-notes-off once more.
        self._channels = channels | {c for c, _ in self._sounding}

    def _song_signature(self) -> tuple:
        parts: list = [self.song.tempo_bpm]
        for t in self.song.tracks:
            parts.append((id(t), t.midi_out, t.mute, t.solo, t.is_drum, t.program))
            if t.midi_out is not None:
                parts.append(tuple((n.pitch, n.velocity, n.start_s, n.end_s) for n in list(t.notes)))
        return tuple(parts)


def _wrap(pos: float, before: float, loop) -> float:
    """`pos` reached from `before` with the engine's loop rule (wraps only when `before` is before the end)."""
    if loop is None or not before < loop[1] <= pos:
        return pos
    lo, hi = loop
    return lo + (pos - hi) % max(hi - lo, 1e-9)

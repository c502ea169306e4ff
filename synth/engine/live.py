"""A MIDI keyboard played through the engine: monitoring and recording.

    session = LiveSession(engine, track_index=0)
    port = MidiInput("Keystation", on_message=session.handle)   # synth.engine.midi_ports
    session.arm(Recorder(song, 0))     # record into the armed track as well
    ...
    recorder = session.disarm()        # held notes end now

`handle` runs on the MIDI callback thread and calls the engine's thread-safe
`live_*` methods directly, so a note is rendered in the engine's next block.
Messages on every channel go to the one track the session plays.
"""

from __future__ import annotations

import threading
import time

import mido

from synth.engine.recorder import BEND_RANGE_SEMITONES, Recorder, bend_semitones


class LiveSession:
    """Routes MIDI messages to `engine.live_*` (when monitoring) and to an armed Recorder."""

    def __init__(self, engine, track_index: int = 0, monitoring: bool = True, bend_range: float = BEND_RANGE_SEMITONES):
        self.engine = engine
        self.track_index = track_index
        self.monitoring = monitoring
        self.bend_range = bend_range
        self.recorder: Recorder | None = None
        self.messages = 0
        self.last_note_on_s: float | None = None  # arrival time (perf_counter) of the latest note-on
        self._lock = threading.Lock()
        self._sounding: set[int] = set()  # pitches this session has started on the engine

    def handle(self, msg: mido.Message, time_s: float | None = None) -> None:
        """One message from the keyboard; `time_s` is its arrival time (perf_counter)."""
        self.messages += 1
        if self.monitoring:
            self._play(msg)
        if msg.type == "note_on" and msg.velocity > 0:
            self.last_note_on_s = time_s
        recorder = self.recorder
        if recorder is not None:
            # song time of the event: now, less how long ago it happened on the driver's clock
            ago_s = 0.0 if time_s is None else max(time.perf_counter() - time_s, 0.0)
            recorder.handle(msg, recorder.now_s() - ago_s)

    def _play(self, msg: mido.Message) -> None:
        track = self.track_index
        if msg.type == "note_on" and msg.velocity > 0:
            with self._lock:
                self._sounding.add(msg.note)
            self.engine.live_note_on(track, msg.note, msg.velocity)
        elif msg.type in ("note_off", "note_on"):
            with self._lock:
                self._sounding.discard(msg.note)
            self.engine.live_note_off(track, msg.note)
        elif msg.type == "control_change":
            self.engine.live_control_change(track, msg.control, msg.value)
        elif msg.type == "pitchwheel":
            self.engine.live_pitch_bend(track, bend_semitones(msg.pitch, self.bend_range))

    def set_monitoring(self, on: bool) -> None:
        """Monitoring off silences what is sounding from the keyboard (recording goes on)."""
        self.monitoring = on
        if not on:
            with self._lock:
                sounding, self._sounding = self._sounding, set()
            for pitch in sounding:
                self.engine.live_note_off(self.track_index, pitch)

    def arm(self, recorder: Recorder) -> None:
        with self._lock:
            self.recorder = recorder
            self.track_index = recorder.track_index

    def disarm(self) -> Recorder | None:
        """Stop recording; returns the stopped recorder (its notes are in the song)."""
        with self._lock:
            recorder, self.recorder = self.recorder, None
        if recorder is not None:
            recorder.stop()
        return recorder

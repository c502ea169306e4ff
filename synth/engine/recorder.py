"""Record what is played on a MIDI keyboard into a track of the song, in seconds, unquantized.

    rec = Recorder(song, track_index=0, now_s=lambda: engine.position_s)
    rec.handle(msg)          # from any thread; note on/off, sustain (CC64), pitch bend
    rec.stop()               # closes held notes at the current time
    rec.pitch_bends          # [(time_s, semitones)], the song model has no lane for them
    write_take(song, rec, "take.mid")   # MIDI file with the notes and the bends, written atomically

The sustain pedal is folded into note ends the way composer.files.midi_io reads a
file: a key released while the pedal is down ends when the pedal comes up (or
when the same key is struck again). A key whose note-off arrives with the
same time as its note-on (a stalled MIDI graph hands both over in one cycle)
is still a played note: it lasts MIN_NOTE_S. Times come from `now_s()` when the message
arrives; by default the seconds since the recorder was created, from
`start_s` on.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from pathlib import Path

import mido

from composer.files.atomic import atomic_write_bytes
from composer.files.midi_io import TICKS_PER_BEAT, song_to_midi, write_midi
from composer.song import Note, Song

SUSTAIN_CC = 64
MIN_NOTE_S = 0.01  # a key released in the same driver cycle it was struck in (a stalled graph delivers both at once)
BEND_RANGE_SEMITONES = 2.0  # the General MIDI default


def bend_semitones(pitchwheel: int, bend_range: float = BEND_RANGE_SEMITONES) -> float:
    """mido's pitchwheel value (-8192..8191) in semitones."""
    return pitchwheel / (8192.0 if pitchwheel < 0 else 8191.0) * bend_range


class Recorder:
    """Turns live MIDI messages into Notes of `song.tracks[track_index]` (thread-safe)."""

    def __init__(
        self,
        song: Song,
        track_index: int = 0,
        now_s: Callable[[], float] | None = None,
        start_s: float = 0.0,
        bend_range: float = BEND_RANGE_SEMITONES,
    ) -> None:
        if not 0 <= track_index < len(song.tracks):
            raise ValueError(f"track_index {track_index} out of range, the song has {len(song.tracks)} tracks")
        self.song = song
        self.track_index = track_index
        self.bend_range = bend_range
        if now_s is None:
            t0 = time.perf_counter()
            now_s = lambda: start_s + time.perf_counter() - t0  # noqa: E731
        self.now_s = now_s
        self.pitch_bends: list[tuple[float, float]] = []  # (time_s, semitones)
        self.recording = True
        self._lock = threading.Lock()
        self._sounding: dict[int, tuple[float, int]] = {}  # pitch -> (start_s, velocity)
        self._held_by_pedal: dict[int, tuple[float, int]] = {}
        self._pedal_down = False

    @property
    def track(self):
        return self.song.tracks[self.track_index]

    def handle(self, msg: mido.Message, time_s: float | None = None) -> None:
        """Record one message at song time `time_s` (default: `now_s()`)."""
        if not self.recording:
            return
        at_s = self.now_s() if time_s is None else time_s
        with self._lock:
            if msg.type == "note_on" and msg.velocity > 0:
                self._end(msg.note, at_s)  # a re-strike ends the previous sounding of the key
                self._sounding[msg.note] = (at_s, msg.velocity)
            elif msg.type in ("note_off", "note_on"):
                started = self._sounding.pop(msg.note, None)
                if started is None:
                    return
                if self._pedal_down:
                    self._held_by_pedal[msg.note] = started
                else:
                    self._add(msg.note, started, at_s)
            elif msg.type == "control_change" and msg.control == SUSTAIN_CC:
                down = msg.value >= 64
                if self._pedal_down and not down:
                    for pitch, started in self._held_by_pedal.items():
                        self._add(pitch, started, at_s)
                    self._held_by_pedal.clear()
                self._pedal_down = down
            elif msg.type == "pitchwheel":
                self.pitch_bends.append((at_s, bend_semitones(msg.pitch, self.bend_range)))

    def _end(self, pitch: int, at_s: float) -> None:
        for pending in (self._sounding, self._held_by_pedal):
            started = pending.pop(pitch, None)
            if started is not None:
                self._add(pitch, started, at_s)

    def _add(self, pitch: int, started: tuple[float, int], end_s: float) -> None:
        start_s, velocity = started
        self.track.notes.append(Note(pitch, velocity, start_s, max(end_s, start_s + MIN_NOTE_S)))

    def stop(self, at_s: float | None = None) -> None:
        """End the take: notes still held (by key or pedal) end now; the track is sorted."""
        at_s = self.now_s() if at_s is None else at_s
        with self._lock:
            for pitch in list(self._sounding) + list(self._held_by_pedal):
                self._end(pitch, at_s)
            self.recording = False
            self.track.sort()


def take_to_midi(song: Song, recorder: Recorder) -> mido.MidiFile:
    """song_to_midi(song) with the recorder's pitch bends added to its track."""
    mid = song_to_midi(song)
    if not recorder.pitch_bends:
        return mid
    midi_track = mid.tracks[1 + recorder.track_index]  # track 0 is the conductor
    channel = next((m.channel for m in midi_track if hasattr(m, "channel")), 0)
    ticks_per_s = TICKS_PER_BEAT * song.tempo_bpm / 60.0
    absolute: list[tuple[int, int, mido.Message]] = []
    tick = 0
    for order, msg in enumerate(midi_track):
        tick += msg.time
        if msg.type != "end_of_track":
            absolute.append((tick, order, msg))
    for time_s, semitones in recorder.pitch_bends:
        value = round(semitones / recorder.bend_range * (8192 if semitones < 0 else 8191))
        value = min(max(value, -8192), 8191)
        bend = mido.Message("pitchwheel", channel=channel, pitch=value)
        absolute.append((round(time_s * ticks_per_s), len(midi_track), bend))
    absolute.sort(key=lambda e: (e[0], e[1]))
    rebuilt = mido.MidiTrack()
    last = 0
    for tick, _, msg in absolute:
        rebuilt.append(msg.copy(time=tick - last))
        last = tick
    rebuilt.append(mido.MetaMessage("end_of_track", time=0))
    mid.tracks[1 + recorder.track_index] = rebuilt
    return mid


def write_take(song: Song, recorder: Recorder, path: str | Path) -> None:
    """Write the song with the take's pitch bends as a type 1 MIDI file, atomically."""
    if not recorder.pitch_bends:
        write_midi(song, path)
        return
    buffer = io.BytesIO()
    take_to_midi(song, recorder).save(file=buffer)
    atomic_write_bytes(Path(path), buffer.getvalue())

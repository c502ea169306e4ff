"""One recording take: what the QWERTY piano and a MIDI keyboard play while recording.

The take records into a scratch track of its own (synth.engine.recorder.Recorder,
thread-safe, called from the MIDI callback thread too), so the song is never
touched from another thread; the screen shows the take's notes as they come
and, when the take stops, adds them to the armed track as one undo step.

`now_s` is the playback's `position_s`, which with sound is what the player hears
(tui.playback.EnginePlayback: the render position less the output latency), so
a note played along with the song is stamped where it was heard, not where the
engine was rendering ahead.
"""

from __future__ import annotations

from collections.abc import Callable

import mido

from composer.song import Note, Song, Track
from synth.engine.recorder import Recorder


class Take:
    def __init__(self, track: Track, now_s: Callable[[], float]) -> None:
        self.track = track  # the armed track, by identity
        self.scratch = Song(tracks=[Track(name=track.name)])
        self.recorder = Recorder(self.scratch, 0, now_s=now_s)

    def note_on(self, pitch: int, velocity: int) -> None:
        self.recorder.handle(mido.Message("note_on", note=pitch, velocity=velocity))

    def note_off(self, pitch: int) -> None:
        self.recorder.handle(mido.Message("note_off", note=pitch))

    @property
    def notes(self) -> list[Note]:
        """The notes recorded so far (a copy, safe to read while the MIDI thread records)."""
        return list(self.scratch.tracks[0].notes)

    def stop(self) -> list[Note]:
        """End the take (held notes end now); its notes in time order."""
        self.recorder.stop()
        return self.notes

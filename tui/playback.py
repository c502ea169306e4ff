"""The app's transport: the audio engine when there is one, else a silent clock.

The silent clock moves the playhead in real time (honouring the loop) so that
playback, recording and the QWERTY piano still work without a sound card; the
status bar says why there is no sound.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from composer.song import Song


class SilentClock:
    """Transport without audio: position advances with the wall clock."""

    def __init__(self, song: Song, reason: str, now: Callable[[], float] = time.monotonic) -> None:
        self.song = song
        self.reason = reason
        self.now = now
        self.metronome = False
        self.loop_s: tuple[float, float] | None = None
        self._playing = False
        self._origin_s = 0.0
        self._started = 0.0

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def position_s(self) -> float:
        if not self._playing:
            return self._origin_s
        pos = self._origin_s + self.now() - self._started
        if self.loop_s is not None:
            lo, hi = self.loop_s
            if hi > lo and pos >= hi:
                pos = lo + (pos - lo) % (hi - lo)
        return pos

    def play(self) -> None:
        if not self._playing:
            self._started = self.now()
            self._playing = True

    def stop(self) -> None:
        if self._playing:
            self._origin_s = self.position_s
            self._playing = False

    def seek(self, position_s: float) -> None:
        self._origin_s = max(0.0, position_s)
        self._started = self.now()

    def set_loop(self, start_s: float, end_s: float) -> None:
        self.loop_s = (start_s, end_s)

    def clear_loop(self) -> None:
        self.loop_s = None

    def live_note_on(self, track_index: int, pitch: int, velocity: int) -> None:
        """No sound to make; the note is still recorded by the caller."""

    def live_note_off(self, track_index: int, pitch: int) -> None:
        """No sound to stop."""

    def describe(self) -> str:
        return f"no sound: {self.reason}"

    def close(self) -> None:
        self.stop()

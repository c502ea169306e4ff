"""Recording keys of the main screen: arm a track (A), record into it (ctrl+r, after a count-in), stop.

The take (tui/take.py) collects what the QWERTY piano or the MIDI keyboard plays; it is drawn as ghost
notes while recording and placed in the armed track as one undo step when it stops.
"""

from __future__ import annotations

from composer.model.candidates import place
from tui.playback import SilentClock
from tui.take import Take
from tui.widgets.transport_bar import bars_beats

COUNT_IN_BARS = 1


class RecordActions:
    """Mixed into MainScreen (tui/screens/main.py)."""

    def armed_index(self) -> int | None:
        armed = self.armed
        if armed is None:
            return None
        return next((i for i, t in enumerate(self.song.tracks) if t is armed), None)

    def action_arm(self) -> None:
        track = self.require_track()
        if track is None:
            return
        if self.take is not None:
            self.say("Recording: stop first (ctrl+r) to arm another track")
            return
        if self.armed is track:
            self.armed = None
            self.refresh_all(f"{track.name} disarmed")
        else:
            self.armed = track
            self.refresh_all(f"{track.name} armed: ctrl+r records into it")

    def action_record(self) -> None:
        if self.take is not None:
            self.stop_take()
            return
        if self.armed_index() is None:
            track = self.require_track()
            if track is None:
                return
            self.armed = track
        track, index = self.armed, self.armed_index()
        assert track is not None and index is not None
        self._stop_audition()
        self.take = Take(track, lambda: self.app.playback.position_s)
        live = self.app.live
        if live is not None:
            live.arm(self.take.recorder)
            live.track_index = index  # the recorder's own index is its scratch track's
        playback = self.app.playback
        count_in = not isinstance(playback, SilentClock) and not playback.playing
        if not playback.playing:
            playback.play(count_in_bars=COUNT_IN_BARS if count_in else 0)
        self._play_timer.resume()
        how = f"after a {COUNT_IN_BARS}-bar count-in" if count_in else playback.describe()
        self.refresh_all(
            f"● Recording into {track.name} from {bars_beats(self.song, playback.position_s).strip()}"
            f" ({how}); ctrl+r or space stops"
        )

    def stop_take(self) -> None:
        take, self.take = self.take, None
        if take is None:
            return
        live = self.app.live
        if live is not None:
            live.disarm()
        notes = take.stop()
        self.app.playback.stop()
        self._play_timer.pause()
        self._take_shown = 0
        track = self._resolve(take.track, self.armed_index() if self.armed_index() is not None else -1)
        if not notes:
            self.refresh_all("Take stopped: nothing was played")
            return
        if track is None:
            self.refresh_all("The armed track is gone: take discarded", error=True)
            return
        with self.edit(f"record {len(notes)} note{'s' if len(notes) != 1 else ''} into {track.name}"):
            place(track, notes)

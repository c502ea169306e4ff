"""Transport keys of the main screen: play / stop, rewind, tempo, time signature, metronome, loop; the sound
in the status bar.

While playing, `_follow_playhead` runs PLAYHEAD_FPS times a second: it moves the
playhead, ends the audition of an AI candidate once it has been heard (the engine schedules its notes)
and redraws the take being recorded.
Once the audio engine plays, `show_sound` runs METER_FPS times a second: the master's level meter, the
render load and the output latency (the engine's own figures, as EnginePlayback.describe reads them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from textual import work

from composer import edit
from tui.screens.main_actions.ai import CANDIDATE_KEYS
from tui.screens.prompt import PromptScreen
from tui.widgets.tracks_panel import TracksPanel
from tui.widgets.transport_bar import TransportBar, bars_beats

PLAYHEAD_FPS = 30
METER_FPS = 10
METER_HOLD = 3  # the meter shows the highest of this many readings (peak hold, 0.3 s)


def master_peak(track_peaks: Sequence[float], gain_reduction_db: float = 0.0) -> float:
    """The master's peak in the last block, from what the engine measures: each track's post-fader peak
    (synth.engine.Engine.track_peaks), added as uncorrelated signals add (root of the sum of squares), less
    what the master limiter took off."""
    return math.sqrt(sum(p * p for p in track_peaks)) * 10 ** (-gain_reduction_db / 20)


def held_levels(readings: Sequence[Sequence[float]]) -> tuple[float, ...]:
    """Each track's highest peak over the readings (a track added meanwhile has fewer)."""
    width = max((len(r) for r in readings), default=0)
    return tuple(max((r[i] for r in readings if i < len(r)), default=0.0) for i in range(width))


class TransportActions:
    """Mixed into MainScreen (tui/screens/main.py)."""

    def action_play(self) -> None:
        playback = self.app.playback
        if self.take is not None:
            self.stop_take()
            return
        if playback.playing:
            self._stop_audition()
            playback.stop()
            self._play_timer.pause()
            self.say(f"Stopped at {bars_beats(self.song, playback.position_s).strip()}")
        else:
            playback.play()
            self._play_timer.resume()
            self.say("Playing")
        self.refresh_all()

    def _follow_playhead(self) -> None:
        playback = self.app.playback
        position_s = playback.position_s
        audition = self.audition
        if audition is not None and audition.done(position_s):  # the engine plays it; here it only ends
            self.audition = None
            playback.set_preview(None)
            playback.stop()
            self._play_timer.pause()
            self.refresh_all("Heard the candidate: " + CANDIDATE_KEYS)
        if self.take is not None and len(self.take.scratch.tracks[0].notes) != self._take_shown:
            self.show_ghosts()
        self.roll.playhead_s = position_s
        self.query_one("#transport", TransportBar).position_s = position_s

    def show_sound(self) -> None:
        """The sound's part of the status bar: meter, load and latency while the engine runs, else why not."""
        playback = self.app.playback
        engine, output = getattr(playback, "engine", None), getattr(playback, "output", None)
        tracks = self.query_one("#tracks", TracksPanel)
        if engine is None or output is None or output.failed:  # (a block that raised plays as silence)
            self.level_peaks.clear()
            self.track_levels.clear()
            tracks.levels = None
            self.status.show_sound(playback.describe())
            return
        if self._meter_timer is None:
            self._meter_timer = self.set_interval(1 / METER_FPS, self.show_sound)
        reduction_db = engine.gain_reduction_db
        peaks = list(engine.track_peaks)
        self.level_peaks.append(master_peak(peaks, reduction_db))
        self.track_levels.append(peaks)
        tracks.levels = held_levels(self.track_levels)
        latency_ms = (output.ahead_latency_s + output.output_latency_s) * 1000
        line = f"load {engine.render_load:.0%} · {latency_ms:.0f} ms"
        dropouts = output.underflows + output.underruns
        if dropouts:
            line += f" · {dropouts} dropouts"
        self.status.show_sound(f"{line} · {output.device_name}", max(self.level_peaks), reduction_db > 0)

    def action_rewind(self) -> None:
        self.app.playback.seek(0.0)
        self.roll.playhead_s = 0.0
        self.query_one("#transport", TransportBar).position_s = 0.0
        self.say("Back to the start")

    @work
    async def action_tempo(self) -> None:
        answer = await self.app.push_screen_wait(
            PromptScreen("Tempo (BPM)", f"{self.song.tempo_bpm:g}", "10 to 1000; notes keep their beats")
        )
        if answer is None:
            return
        try:
            tempo_bpm = float(answer)
            with self.edit(f"tempo {tempo_bpm:g} BPM"):
                edit.set_tempo(self.song, tempo_bpm)
        except ValueError:
            self.say(f"Tempo {answer!r} is not a number between 10 and 1000", error=True)

    @work
    async def action_meter(self) -> None:
        num, den = self.song.time_signature
        answer = await self.app.push_screen_wait(PromptScreen("Time signature", f"{num}/{den}", "like 4/4, 3/4, 6/8"))
        if answer is None:
            return
        try:
            top, bottom = (int(x) for x in answer.split("/"))
            if not 1 <= top <= 32 or bottom not in (1, 2, 4, 8, 16, 32):
                raise ValueError
        except ValueError:
            self.say(f"Time signature {answer!r}: expected N/D with N 1-32 and D 1, 2, 4, 8, 16 or 32", error=True)
            return
        with self.edit(f"time signature {top}/{bottom}"):
            self.song.time_signature = (top, bottom)

    def action_metronome(self) -> None:
        playback = self.app.playback
        playback.metronome = not playback.metronome
        self.refresh_all(f"Metronome {'on' if playback.metronome else 'off'}")

    def action_loop(self) -> None:
        roll, playback = self.roll, self.app.playback
        if roll.loop_s is not None:
            roll.loop_s = None
            playback.clear_loop()
            self.refresh_all("Loop off")
            return
        region = roll.selection()
        if region is not None:
            start_s, end_s = region.start_s, region.end_s
        else:
            bar = self.song.beats_per_bar
            start_beat = (roll.cursor_beat // bar) * bar
            start_s, end_s = self.song.beats_to_s(start_beat), self.song.beats_to_s(start_beat + 4 * bar)
        roll.loop_s = (start_s, end_s)
        playback.set_loop(start_s, end_s)
        self.refresh_all(f"Loop {bars_beats(self.song, start_s).strip()} – {bars_beats(self.song, end_s).strip()}")

"""Track keys of the main screen: choose, add, remove, rename, reorder; instrument, synth, mute, solo, volume, pan."""

from __future__ import annotations

from textual import work

from composer.gm import instrument_name
from composer.song import DRUM_CHANNEL, Track
from tui.screens.instrument_picker import DRUM_KIT, InstrumentPicker
from tui.screens.prompt import PromptScreen


class TrackActions:
    """Mixed into MainScreen (tui/screens/main.py)."""

    def action_select_track(self, index: int) -> None:
        if 0 <= index < len(self.song.tracks):
            self.roll.track_index = index
            self.roll.anchor = None
            self.clip_index = None  # the editing keys act on this track's notes
            self.refresh_all(f"Track {index + 1}: {self.song.tracks[index].name}")

    def action_track(self, step: int) -> None:
        """The next (previous) track, then on past the last one into the audio tracks (clips)."""
        tracks, clips = self.song.tracks, self.song.clips
        count = len(tracks) + len(clips)
        if not count:
            return
        if self.clip_selected() is not None:
            at = len(tracks) + self.clip_index
        else:
            at = self.roll.track_index if tracks else (-1 if step > 0 else count)
        to = (at + step) % count
        if to < len(tracks):
            self.action_select_track(to)
        else:
            self.action_select_clip(to - len(tracks))

    def action_add_track(self) -> None:
        used = {t.channel for t in self.song.tracks}
        channel = next((c for c in range(16) if c != DRUM_CHANNEL and c not in used), 0)
        with self.edit("add track"):
            self.song.tracks.append(Track(name=f"Track {len(self.song.tracks) + 1}", channel=channel))
        self.action_select_track(len(self.song.tracks) - 1)

    def action_remove_track(self) -> None:
        track = self.require_track()
        if track is not None:
            with self.edit(f"remove track {track.name}"):
                del self.song.tracks[self.roll.track_index]

    @work
    async def action_rename_track(self) -> None:
        track = self.require_track()
        if track is None:
            return
        name = await self.app.push_screen_wait(PromptScreen("Track name", track.name))
        if name is not None and name.strip():
            with self.edit(f"rename track to {name.strip()}"):
                track.name = name.strip()[:64]

    def action_move_track(self, step: int) -> None:
        i = self.roll.track_index
        j = i + step
        if self.require_track() is None or not 0 <= j < len(self.song.tracks):
            return
        with self.edit("reorder tracks"):
            tracks = self.song.tracks
            tracks[i], tracks[j] = tracks[j], tracks[i]
        self.action_select_track(j)

    @work
    async def action_instrument(self) -> None:
        track = self.require_track()
        if track is None:
            return
        program = await self.app.push_screen_wait(InstrumentPicker(DRUM_KIT if track.is_drum else track.program))
        if program is None:
            return
        with self.edit("instrument"):
            if program == DRUM_KIT:
                track.is_drum, track.channel = True, DRUM_CHANNEL
            else:
                if track.is_drum:
                    track.channel = 0
                track.is_drum, track.program = False, program
        self.say(f"{track.name}: {'Drum kit' if track.is_drum else instrument_name(track.program)}")

    def action_toggle_synth(self) -> None:
        """The track plays with the neural instrument (renderer + vocoder) or the DSP synth."""
        track = self.require_track()
        if track is None:
            return
        if track.is_drum:
            self.say("Drum tracks play with the DSP kit (the neural renderer learned pitched instruments)", error=True)
            return
        if track.synth == "neural":
            with self.edit("DSP synth"):
                track.synth = "dsp"
            self.say(f"{track.name}: DSP synth")
            return
        self.say(f"{track.name}: loading the neural synth…")
        self.switch_to_neural(track)

    @work(thread=True, exclusive=True, group="synth")
    def switch_to_neural(self, track: Track) -> None:
        # The models load here, not in the audio thread; a missing model comes back as an engine notice.
        self.app.playback.prepare_synth(track, "neural")
        self.app.call_from_thread(self._neural_ready, track)

    def _neural_ready(self, track: Track) -> None:
        if track not in self.song.tracks or track.synth == "neural":
            return
        with self.edit("neural synth"):
            track.synth = "neural"
        self.say(f"{track.name}: neural synth")

    def action_mute(self) -> None:
        track = self.require_track()
        if track is not None:
            with self.edit("mute" if not track.mute else "unmute"):
                track.mute = not track.mute

    def action_solo(self) -> None:
        track = self.require_track()
        if track is not None:
            with self.edit("solo" if not track.solo else "unsolo"):
                track.solo = not track.solo

    def action_volume(self, delta: float) -> None:
        track = self.require_track()
        if track is not None:
            with self.edit("volume"):
                track.volume = round(max(0.0, min(1.0, track.volume + delta)), 3)

    def action_pan(self, delta: float) -> None:
        track = self.require_track()
        if track is not None:
            with self.edit("pan"):
                track.pan = round(max(-1.0, min(1.0, track.pan + delta)), 3)

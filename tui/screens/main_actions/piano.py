"""The QWERTY piano of the main screen (ctrl+k): letter keys play notes of the track, F3 / F4 octave,
F5 note length.

Terminals report no key release, so each strike lasts the piano's note length; while recording, the
strikes go into the take too.
"""

from __future__ import annotations

from functools import partial

import mido
from textual import events, work

from tui.keymap import PIANO_KEYS
from tui.playback import SilentClock
from tui.screens.prompt import PromptScreen
from tui.take import Take
from tui.widgets.piano_roll import note_name

PIANO_VELOCITY = 96


class PianoActions:
    """Mixed into MainScreen (tui/screens/main.py)."""

    def action_piano(self) -> None:
        self.piano_on = not self.piano_on
        if self.piano_on:
            self.say("QWERTY piano on: z-row and a-row, q-row and number row play; F3 / F4 octave; ctrl+k leaves")
        else:
            self.say("QWERTY piano off: letters are keys again")
        self.update_state()

    def action_piano_octave(self, step: int) -> None:
        self.piano_octave = max(-1, min(7, self.piano_octave + step))
        low = (self.piano_octave + 1) * 12
        self.say(f"Piano from {note_name(low)}")
        self.update_state()

    @work
    async def action_piano_length(self) -> None:
        answer = await self.app.push_screen_wait(
            PromptScreen("Piano note length (beats)", f"{self.piano_beats:g}", "0.0625 to 16; keys have no release")
        )
        if answer is None:
            return
        try:
            beats = float(answer)
            if not 0.0625 <= beats <= 16:
                raise ValueError
        except ValueError:
            self.say(f"Note length {answer!r}: expected a number of beats from 0.0625 to 16", error=True)
            return
        self.piano_beats = beats
        self.update_state()
        self.say(f"Piano notes last {beats:g} beat{'s' if beats != 1 else ''}")

    def on_key(self, event: events.Key) -> None:
        if not self.piano_on or event.key not in PIANO_KEYS:
            return
        event.stop()
        event.prevent_default()
        self.play_piano((self.piano_octave + 1) * 12 + PIANO_KEYS[event.key])

    def play_piano(self, pitch: int) -> None:
        """Sound `pitch` for the piano's note length on the track (the armed one while recording)."""
        if not 0 <= pitch <= 127:
            self.say("That key is above the highest MIDI note: F3 lowers the piano's octave")
            return
        jam = self.jam
        if jam is not None:  # the jam plays it on its player's track, and hears it
            self._piano_jam(jam, pitch)
            return
        take = self.take
        track_index = self.armed_index() if take is not None else self.roll.track_index
        if track_index is None:
            track_index = self.roll.track_index
        playback = self.app.playback
        playback.live_note_on(track_index, pitch, PIANO_VELOCITY)
        if take is not None:
            take.note_on(pitch, PIANO_VELOCITY)
        strike = self._piano_strikes.get(pitch, 0) + 1
        self._piano_strikes[pitch] = strike
        length_s = self.song.beats_to_s(self.piano_beats)
        self.set_timer(length_s, partial(self._piano_off, track_index, pitch, take, strike))
        sound = f" ({playback.describe()})" if isinstance(playback, SilentClock) else ""
        self.say(f"{'● ' if take is not None else ''}{note_name(pitch)}{sound}")

    def _piano_off(self, track_index: int, pitch: int, take: Take | None, strike: int) -> None:
        if self._piano_strikes.get(pitch) != strike:
            return  # struck again since: that strike's own timer ends it
        self.app.playback.live_note_off(track_index, pitch)
        if take is not None and take is self.take:
            take.note_off(pitch)
        self.show_ghosts()

    def _piano_jam(self, jam, pitch: int) -> None:
        jam.handle(mido.Message("note_on", note=pitch, velocity=PIANO_VELOCITY))
        strike = self._piano_strikes.get(pitch, 0) + 1
        self._piano_strikes[pitch] = strike
        self.set_timer(self.song.beats_to_s(self.piano_beats), partial(self._piano_jam_off, jam, pitch, strike))
        self.say(f"♫ {note_name(pitch)}")

    def _piano_jam_off(self, jam, pitch: int, strike: int) -> None:
        if self._piano_strikes.get(pitch) == strike:
            jam.handle(mido.Message("note_off", note=pitch))

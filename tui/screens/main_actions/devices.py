"""Device keys of the main screen: the devices screen (audio output, MIDI in and out, clock) and a track's
MIDI out channel."""

from __future__ import annotations

from tui.screens.devices import DevicesScreen

MIDI_CHANNELS = 16


def next_midi_out(channel: int | None) -> int | None:
    """off -> 1 -> 2 ... -> 16 -> off."""
    if channel is None:
        return 1
    return channel + 1 if channel < MIDI_CHANNELS else None


class DeviceActions:
    """Mixed into MainScreen (tui/screens/main.py)."""

    def action_devices(self) -> None:
        self.app.push_screen(DevicesScreen(self.app.devices))

    def action_midi_out(self) -> None:
        """The track's notes also go to the MIDI output, on the next channel (off, 1-16, off): one undo step."""
        track = self.require_track()
        if track is None:
            return
        channel = next_midi_out(track.midi_out)
        with self.edit("MIDI out off" if channel is None else f"MIDI out channel {channel}"):
            track.midi_out = channel
        if channel is None:
            self.say(f"{track.name}: not sent to MIDI out")
            return
        port = self.app.devices.midi_output_in_use
        where = f"to {port}" if port else "once a MIDI output is chosen (ctrl+d)"
        self.say(f"{track.name}: MIDI out channel {channel}, {where}")

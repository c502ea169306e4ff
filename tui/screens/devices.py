"""Choose the audio output, the MIDI input and the MIDI output (and MIDI clock out); each applies at once.

The lists come from tui.devices.scan_devices in a worker thread (PortAudio and the MIDI API can take a
moment); ↑↓ and enter pick (like the instrument picker), r scans again (a device plugged in), c turns
MIDI clock out on or off, escape closes. ● marks what is in use; the choice is remembered in
devices.json (tui.device_settings), not in the song, and is not undone.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from tui.device_settings import NO_INPUT
from tui.devices import AppDevices, DeviceListing

IN_USE, FREE = "[b green]●[/]", "[dim]○[/]"


class DevicesScreen(ModalScreen[None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("r", "rescan", "Rescan"),
        Binding("c", "clock", "Clock out on / off"),
    ]

    def __init__(self, devices: AppDevices) -> None:
        super().__init__()
        self.devices = devices
        self.listing: DeviceListing | None = None
        self.choices: list[tuple[str, object]] = []  # per option: (kind, value); headers are ("", None)

    def compose(self) -> ComposeResult:
        with Vertical(id="devices-box"):
            yield Label("Devices — ↑↓ choose, enter to use, r rescan, c clock out, escape close", id="devices-title")
            yield OptionList(id="devices-list")
            yield Label("scanning…", id="devices-line")

    def on_mount(self) -> None:
        self.query_one("#devices-list", OptionList).focus()
        self.action_rescan()

    def action_rescan(self) -> None:
        self.say("scanning…")
        self.scan()

    @work(thread=True, exclusive=True, group="devices-scan")
    def scan(self) -> None:
        listing = self.devices.scan()
        self.app.call_from_thread(self.show, listing)

    def show(self, listing: DeviceListing) -> None:
        """Fill the list from `listing`, marking what is in use; the highlight stays on the same choice."""
        self.listing = listing
        options = self.query_one("#devices-list", OptionList)
        was = self.choices[options.highlighted] if options.highlighted is not None and self.choices else None
        devices = self.devices
        items: list[tuple[str, str, object, bool] | str] = ["Audio output"]  # (label, kind, value, in use)
        audio_now = devices.audio_in_use
        for device in listing.audio:
            label = f"{device.name} [dim]({device.host_api}{', default' if device.default else ''})[/]"
            items.append((label, "audio_output", device.name, device.name == audio_now))
        if not listing.audio:
            items.append(f"  [dim]{escape(listing.audio_problem or 'none')}[/]")
        api = f" ({listing.midi_api})" if listing.midi_api else ""
        midi_in_now, midi_out_now = devices.midi_input_in_use, devices.midi_output_in_use
        items.append(f"MIDI input{api}")
        items.append(("none", "midi_input", NO_INPUT, midi_in_now is None))
        items += [(escape(p), "midi_input", p, p == midi_in_now) for p in listing.midi_inputs]
        items.append(f"MIDI output{api}")
        items.append(("none", "midi_output", None, midi_out_now is None))
        items += [(escape(p), "midi_output", p, p == midi_out_now) for p in listing.midi_outputs]
        if listing.midi_problem:
            items.append(f"  [dim]{escape(listing.midi_problem)}[/]")
        items.append("MIDI clock out (24 a beat, start / stop / song position)")
        clock = devices.settings.midi_clock
        items.append(("on" if clock else "off", "midi_clock", not clock, clock))
        options.clear_options()
        self.choices = []
        for item in items:
            if isinstance(item, str):
                options.add_option(Option(f"[b]{item}[/]" if not item.startswith("  ") else item, disabled=True))
                self.choices.append(("", None))
            else:
                label, kind, value, used = item
                options.add_option(Option(f"  {IN_USE if used else FREE} {label}"))
                self.choices.append((kind, value))
        if was is not None and was in self.choices:
            options.highlighted = self.choices.index(was)
        else:
            options.highlighted = next((i for i, (kind, _) in enumerate(self.choices) if kind), None)
        self.say(self.summary())

    def summary(self) -> str:
        d = self.devices
        parts = [
            f"audio {d.audio_in_use or 'none'}",
            f"in {d.midi_input_in_use or 'none'}",
            f"out {d.midi_output_in_use or 'none'}" + (" + clock" if d.settings.midi_clock else ""),
        ]
        return " · ".join(parts)

    def say(self, line: str) -> None:
        self.query_one("#devices-line", Label).update(escape(line))

    @on(OptionList.OptionSelected, "#devices-list")
    def picked(self, event: OptionList.OptionSelected) -> None:
        kind, value = self.choices[event.option_index]
        if kind:
            self.use(kind, value)

    def use(self, kind: str, value) -> None:
        self.say("applying…")
        self.devices.choose(kind, value, done=self.applied)

    def applied(self, line: str, error: bool) -> None:
        if self.is_attached and self.listing is not None:
            self.show(self.listing)
            self.say(line)

    def action_clock(self) -> None:
        self.use("midi_clock", not self.devices.settings.midi_clock)

    def action_close(self) -> None:
        self.dismiss(None)

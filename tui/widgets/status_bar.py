"""One line at the bottom: the last message on the left, the studio's state on the right.

With sound on, the right end is the sound itself: a master level meter (`level_meter`: eight block
characters ▁▂▃▄▅▆▇█ that rise with the peak, 6 dB a block from -48 dBFS: green, yellow from -18 dBFS, red
at -6 dBFS or while the limiter works), then the render load, the output latency and the device. With sound
off it is one line saying why. A message just said gets the room it needs for MESSAGE_FRESH_S (the state
gives way, cut from its end), then the state has its room back.
"""

from __future__ import annotations

import math
from pathlib import Path

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

METER = "▁▂▃▄▅▆▇█"
METER_FLOOR_DB = -48.0  # the first block lights from here; each next one 6 dB higher, the last at -6 dBFS
SOUND_CHARS = 44  # the sound's part of the line at most (the device name is cut first)
MESSAGE_FRESH_S = 6.0


def meter_cells(peak: float, limiting: bool = False) -> list[tuple[str, str]]:
    """The lit cells, (block, colour): the first k blocks of ▁▂▃▄▅▆▇█ for a peak of -48 + 6 (k - 1) dBFS or more."""
    db = 20 * math.log10(peak) if peak > 0 else -math.inf
    lit = 0 if db < METER_FLOOR_DB else min(len(METER), int((db - METER_FLOOR_DB) // 6) + 1)
    cells = []
    for i, char in enumerate(METER[:lit]):
        db_here = METER_FLOOR_DB + 6 * i
        cells.append((char, "red" if limiting or db_here >= -6 else "yellow" if db_here >= -18 else "green"))
    return cells


def level_meter(peak: float, limiting: bool = False) -> Text:
    """Eight cells: the lit blocks (meter_cells), then spaces."""
    meter = Text(no_wrap=True)
    cells = meter_cells(peak, limiting)
    for char, colour in cells:
        meter.append(char, style=colour)
    if len(cells) < len(METER):
        meter.append(" " * (len(METER) - len(cells)))
    return meter


def meter_markup(peak: float) -> str:
    """The same eight cells as console markup (for a line of markup such as the track list's)."""
    cells = meter_cells(peak)
    return "".join(f"[{colour}]{char}[/]" for char, colour in cells) + " " * (len(METER) - len(cells))


class StatusBar(Widget):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    message: reactive[str] = reactive("")
    is_error: reactive[bool] = reactive(False)
    state: reactive[str] = reactive("")
    sound: reactive[str] = reactive("")
    level: reactive[float | None] = reactive(None)  # the master's recent peak (linear), None: no meter
    limiting: reactive[bool] = reactive(False)
    fresh: reactive[bool] = reactive(False)  # the message was just said: it goes before the state

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._fresh_timer = None

    def say(self, message: str, error: bool = False) -> None:
        self.message = message
        self.is_error = error
        self.fresh = bool(message)
        if self._fresh_timer is not None:
            self._fresh_timer.stop()
        self._fresh_timer = self.set_timer(MESSAGE_FRESH_S, self._stale) if message else None

    def _stale(self) -> None:
        self.fresh, self._fresh_timer = False, None

    def show_sound(self, line: str, level: float | None = None, limiting: bool = False) -> None:
        """`line`: the sound's figures, or why there is none; `level`: the master's peak, None for no meter."""
        self.sound, self.level, self.limiting = line, level, limiting

    def render(self) -> Table:
        table = Table.grid(expand=True)
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        table.add_column(justify="right", no_wrap=True)
        left = Text.from_markup(f"[b red]{escape(self.message)}[/]" if self.is_error else escape(self.message))
        sound = Text(no_wrap=True)
        room = SOUND_CHARS
        if self.level is not None:
            sound.append_text(level_meter(self.level, self.limiting))
            sound.append(" ")
            room -= len(METER) + 1
        sound.append(self.sound if len(self.sound) <= room else self.sound[: room - 1] + "…")
        state = self.state
        if self.fresh:
            state_room = self.content_size.width - len(self.message) - 1 - len(sound) - 4  # " " + state + "  │ "
            if len(state) > state_room:
                state = state[: state_room - 1] + "…" if state_room > 1 else ""
        # a space before the state, so a message that fills its column never runs into it ("…stops♫ jam")
        right = Text.from_markup(f" {escape(state)}  [dim]│[/] " if state else "  [dim]│[/] ")
        right.append_text(sound)
        table.add_row(left, right)
        return table

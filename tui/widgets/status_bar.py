"""One line at the bottom: the last message on the left, the studio's state on the right."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget


class StatusBar(Widget):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    message: reactive[str] = reactive("")
    is_error: reactive[bool] = reactive(False)
    state: reactive[str] = reactive("")
    sound: reactive[str] = reactive("")

    def say(self, message: str, error: bool = False) -> None:
        self.message = message
        self.is_error = error

    def render(self) -> Table:
        table = Table.grid(expand=True)
        table.add_column(ratio=1, no_wrap=True, overflow="ellipsis")
        table.add_column(justify="right", no_wrap=True)
        left = Text.from_markup(f"[b red]{escape(self.message)}[/]" if self.is_error else escape(self.message))
        sound = self.sound if len(self.sound) <= 44 else self.sound[:43] + "…"
        right = Text.from_markup(f"{escape(self.state)}  [dim]│[/] {escape(sound)}")
        table.add_row(left, right)
        return table

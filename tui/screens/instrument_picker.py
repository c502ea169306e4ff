"""Choose a General MIDI instrument by typing part of its name or family."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from composer.gm import GM_PROGRAM_NAMES, family_name, search_programs

DRUM_KIT = -1  # the picker's answer for the drum kit (channel 10)


class InstrumentPicker(ModalScreen[int | None]):
    """Answers a GM program 0-127, DRUM_KIT, or None when cancelled."""

    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("down", "move(1)", "Next", show=False),
        Binding("up", "move(-1)", "Previous", show=False),
    ]

    def __init__(self, current: int) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="picker-box"):
            yield Label("Instrument — type to search, ↑↓ to choose, enter to pick", id="picker-title")
            yield Input(placeholder="e.g. piano, bass, strings, 33", id="picker-search")
            yield OptionList(id="picker-list")

    def on_mount(self) -> None:
        self.fill("")
        self.query_one("#picker-search", Input).focus()

    def fill(self, query: str) -> None:
        options = self.query_one("#picker-list", OptionList)
        options.clear_options()
        programs = search_programs(query)
        items = [Option(f"{p:>3}  {GM_PROGRAM_NAMES[p]}  [dim]{family_name(p)}[/]", id=str(p)) for p in programs]
        if all(w in "drum kit percussion drums" for w in query.lower().split()):
            drums = Option("  —  Drum kit  [dim]channel 10[/]", id=str(DRUM_KIT))
            items.insert(0 if query.strip() else len(items), drums)
        options.add_options(items)
        if items:
            ids = [o.id for o in items]
            options.highlighted = ids.index(str(self.current)) if str(self.current) in ids else 0

    @on(Input.Changed, "#picker-search")
    def search(self, event: Input.Changed) -> None:
        self.fill(event.value)

    @on(Input.Submitted, "#picker-search")
    def pick_highlighted(self) -> None:
        options = self.query_one("#picker-list", OptionList)
        if options.highlighted is not None:
            self.dismiss(int(options.get_option_at_index(options.highlighted).id))

    @on(OptionList.OptionSelected, "#picker-list")
    def picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id))

    def action_move(self, step: int) -> None:
        options = self.query_one("#picker-list", OptionList)
        if options.option_count:
            current = options.highlighted if options.highlighted is not None else 0
            options.highlighted = max(0, min(options.option_count - 1, current + step))

    def action_cancel(self) -> None:
        self.dismiss(None)

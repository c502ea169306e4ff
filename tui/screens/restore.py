"""After a crash: offer the autosave left behind by the previous session."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label


class RestoreScreen(ModalScreen[bool]):
    """Answers True to restore the autosave, False to start fresh."""

    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS = [Binding("r", "answer(True)", "Restore"), Binding("escape,d", "answer(False)", "Discard")]

    def __init__(self, autosave_path: Path) -> None:
        super().__init__()
        self.autosave_path = autosave_path

    def compose(self) -> ComposeResult:
        with Vertical(id="restore-box"):
            yield Label("The last session did not end cleanly.", id="restore-title")
            yield Label(f"An autosave is waiting in {self.autosave_path}.\nRestore it?")
            with Horizontal(id="restore-buttons"):
                yield Button("Restore (r)", variant="primary", id="restore-yes")
                yield Button("Start fresh (d)", id="restore-no")

    @on(Button.Pressed, "#restore-yes")
    def yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#restore-no")
    def no(self) -> None:
        self.dismiss(False)

    def action_answer(self, restore: bool) -> None:
        self.dismiss(restore)

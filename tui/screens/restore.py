"""After a crash: offer the autosave a crashed session left behind (tui/autosave.py keeps it aside).

Three answers, the screen's result: "restore" (r) reads it into the song; "later" (n, escape) keeps it,
with its time, in the kept autosaves, not offered again; "discard" (d) removes it for good. Escape never
discards. Other kept autosaves (declined earlier) are listed under it, each with its own Restore and
Discard: restoring one answers ("restore", that autosave) and leaves the offered one unanswered (offered
again next time); discarding one removes it at once (through `discard`) and the list loses its row.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label

from composer.errors import ComposerError
from tui.autosave import KeptAutosave

Answer = str | tuple[str, KeptAutosave]  # "restore" | "later" | "discard", or ("restore", a listed autosave)


class RestoreScreen(ModalScreen[Answer]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS = [
        Binding("r", "answer('restore')", "Restore"),
        Binding("n,escape", "answer('later')", "Not now"),
        Binding("d", "answer('discard')", "Discard"),
    ]

    def __init__(
        self,
        offered: KeptAutosave,
        kept: Iterable[KeptAutosave] = (),
        discard: Callable[[KeptAutosave], None] | None = None,
    ) -> None:
        """`kept`: other kept autosaves to list (the offered one is left out); `discard(kept)` removes one
        of them (rows get a Discard button only when it is given)."""
        super().__init__()
        self.offered = offered
        self.kept = [k for k in kept if k.folder != offered.folder]
        self.discard_kept = discard

    def compose(self) -> ComposeResult:
        with Vertical(id="restore-box"):
            yield Label("The last session did not end cleanly.", id="restore-title")
            waiting = f"{_capital(self.offered.describe())} is waiting in {self.offered.path}.\nRestore it?"
            yield Label(waiting, markup=False)
            with Horizontal(id="restore-buttons"):
                yield Button("Restore (r)", variant="primary", id="restore-yes")
                yield Button("Not now, keep it (n)", id="restore-later")
                yield Button("Discard for good (d)", variant="error", id="restore-discard")
            if self.kept:
                yield Label("Also kept:", id="restore-kept-title")
                with VerticalScroll(id="restore-kept"):
                    for i, kept in enumerate(self.kept):
                        with Horizontal(classes="kept-row", id=f"kept-{i}"):
                            yield Label(_capital(kept.describe()), classes="kept-what", markup=False)
                            yield Button("Restore", compact=True, classes="kept-button", id=f"kept-restore-{i}")
                            if self.discard_kept is not None:
                                yield Button(
                                    "Discard",
                                    compact=True,
                                    variant="error",
                                    classes="kept-button",
                                    id=f"kept-discard-{i}",
                                )
                yield Label("", id="restore-kept-message")

    @on(Button.Pressed, "#restore-yes")
    def yes(self) -> None:
        self.dismiss("restore")

    @on(Button.Pressed, "#restore-later")
    def later(self) -> None:
        self.dismiss("later")

    @on(Button.Pressed, "#restore-discard")
    def discard(self) -> None:
        self.dismiss("discard")

    @on(Button.Pressed, ".kept-button")
    def kept_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action, _, index = (event.button.id or "").removeprefix("kept-").partition("-")
        kept = self.kept[int(index)]
        if action == "restore":
            self.dismiss(("restore", kept))
            return
        try:
            self.discard_kept(kept)
        except (OSError, ComposerError) as exc:
            self.query_one("#restore-kept-message", Label).update(f"[b red]Not discarded: {escape(str(exc))}[/]")
            return
        self.query_one(f"#kept-{index}").remove()
        self.query_one("#restore-kept-message", Label).update(escape(f"Discarded {kept.describe()}"))
        self.query_one("#restore-yes", Button).focus()

    def action_answer(self, answer: str) -> None:
        self.dismiss(answer)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]

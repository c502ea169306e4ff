"""The prompted audio track's dialog: prompt, seconds, seed, guidance, steps, loop.

Enter on any field (or ctrl+s) checks the request as `composer prompt` would
(synth.prompt.prompt_audio.validate_request, weights included) and closes with it; a
bad field is named on the bottom line and the dialog stays. Escape cancels.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Label

from composer.errors import ComposerError
from synth.prompt.prompt_audio import MAX_GUIDANCE, MAX_SECONDS, MAX_STEPS, PromptRequest, validate_request

HINT = "enter or ctrl+s: generate   escape: cancel"
TITLE = "Add an audio track from a text prompt"
FIELDS = (  # (name, label, placeholder, parse)
    ("prompt", "Prompt", "e.g. slow cello melody in D minor", str),
    ("seconds", "Seconds", f"0.1 to {MAX_SECONDS:g}", float),
    ("seed", "Seed", "a whole number: the same seed, the same audio", int),
    ("guidance", "Guidance", f"0 to {MAX_GUIDANCE:g}: how closely to follow the text", float),
    ("steps", "Steps", f"1 to {MAX_STEPS}: more is slower and finer", int),
)


class PromptDialog(ModalScreen[PromptRequest | None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "apply", "Generate")]

    def __init__(self, request: PromptRequest, title: str = TITLE) -> None:
        """`request`: the values the fields start with; `title`: what the dialog is for."""
        super().__init__()
        self.request = request
        self.title_text = title

    def compose(self) -> ComposeResult:
        r = self.request
        values = {"prompt": r.prompt, "seconds": f"{r.seconds:g}", "seed": str(r.seed)}
        values |= {"guidance": f"{r.guidance:g}", "steps": str(r.steps)}
        with Vertical(id="pd-box"):
            yield Label(self.title_text, id="pd-title")
            with Grid(id="pd-grid"):
                for name, label, placeholder, _ in FIELDS:
                    yield Label(label)
                    yield Input(value=values[name], placeholder=placeholder, id=f"pd-{name}")
                yield Label("Loop")
                yield Checkbox("end runs into the start", r.loop, id="pd-loop")
            yield Label(HINT, id="pd-hint")

    def read(self) -> PromptRequest:
        """The fields as a request; ComposerError names the first one that is not what it should be."""
        values = {}
        for name, _, _, parse in FIELDS:
            text = self.query_one(f"#pd-{name}", Input).value
            try:
                values[name] = parse(text.strip()) if parse is not str else text
            except ValueError:
                kind = "a whole number" if parse is int else "a number"
                raise ComposerError(name, f"expected {kind}, got {text!r:.40}") from None
        values["loop"] = self.query_one("#pd-loop", Checkbox).value
        return validate_request(PromptRequest(**values))

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        try:
            request = self.read()
        except ComposerError as exc:
            self.query_one("#pd-hint", Label).update(f"[b red]{escape(str(exc))}[/]")
            self.app.bell()
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)

"""The AI's settings: style, temperature, top-p, length in bars, key constraint, seed, variations.

Enter on any field (or ctrl+s) checks them all and closes with the new
settings; a field out of range is named on the bottom line and the screen
stays. Escape cancels.
"""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Select

from composer.errors import ComposerError
from composer.model.candidates import AUTO_STYLE, MAX_BARS, MAX_VARIATIONS, AISettings, parse_settings
from composer.tokens import STYLES

FIELDS = (
    ("temperature", "Temperature", "0 to 10: higher is wilder"),
    ("top_p", "Top-p", "0 to 1: 1 keeps every token"),
    ("bars", "Length (bars)", f"1 to {MAX_BARS}, at the song's tempo"),
    ("key", "Key", "e.g. C:major, F#:minor; blank: any"),
    ("seed", "Seed", "a whole number; blank: random"),
    ("variations", "Variations", f"1 to {MAX_VARIATIONS} candidates (W)"),
)


class AISettingsScreen(ModalScreen[AISettings | None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "apply", "Apply")]

    def __init__(self, settings: AISettings) -> None:
        super().__init__()
        self.settings = settings

    def values(self) -> dict[str, str]:
        s = self.settings
        return {
            "temperature": f"{s.temperature:g}",
            "top_p": f"{s.top_p:g}",
            "bars": str(s.bars),
            "key": s.key or "",
            "seed": "" if s.seed is None else str(s.seed),
            "variations": str(s.variations),
        }

    def compose(self) -> ComposeResult:
        values = self.values()
        with Vertical(id="ai-box"):
            yield Label("AI settings", id="ai-title")
            with Grid(id="ai-grid"):
                yield Label("Style")
                options = [(AUTO_STYLE + " (from the music)", AUTO_STYLE)] + [(s, s) for s in STYLES]
                yield Select(options, value=self.settings.style, allow_blank=False, id="ai-style")
                for name, label, hint in FIELDS:
                    yield Label(label)
                    yield Input(value=values[name], placeholder=hint, id=f"ai-{name.replace('_', '-')}")
            yield Label("enter or ctrl+s: apply   escape: cancel", id="ai-hint")

    def fields(self) -> dict[str, str]:
        out = {name: self.query_one(f"#ai-{name.replace('_', '-')}", Input).value for name, _, _ in FIELDS}
        out["style"] = str(self.query_one("#ai-style", Select).value)
        return out

    @on(Input.Submitted)
    def submitted(self) -> None:
        self.action_apply()

    def action_apply(self) -> None:
        try:
            settings = parse_settings(self.fields())
        except ComposerError as exc:
            hint = self.query_one("#ai-hint", Label)
            hint.update(f"[b red]{exc}[/]")
            self.app.bell()
            return
        self.dismiss(settings)

    def action_cancel(self) -> None:
        self.dismiss(None)

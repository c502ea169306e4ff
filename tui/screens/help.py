"""Every key, generated from the key table and the user's remapping (never hand-written)."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.keys import format_key
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.keymap import KeyAction, config_path, effective_keys


def key_label(keys: str) -> str:
    return " ".join(format_key(k.strip()) for k in keys.split(","))


def help_text(keymap: dict[str, str], actions: tuple[KeyAction, ...] | None = None) -> str:
    rows = effective_keys(keymap) if actions is None else effective_keys(keymap, actions)
    lines: list[str] = []
    group = None
    for action, keys in rows:
        if action.group != group:
            group = action.group
            lines.append(f"\n[b $accent]{group}[/]")
        lines.append(f"  [b]{escape(key_label(keys)):<18}[/] {escape(action.description)}")
    lines.append(f"\n[dim]Remap keys in {escape(str(config_path()))} — ctrl+p finds any action by name.[/]")
    return "\n".join(lines).lstrip("\n")


class HelpScreen(ModalScreen[None]):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS = [Binding("escape,question_mark,q,f1", "close", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-box"):
            yield Static(help_text(self.app._keymap), id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)

"""The AI co-composer's line: whether the model can run here, and if not, why.

Checked without importing torch (the app must start fast): the sampler module
must exist and the shipped weights must be on disk.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from rich.text import Text
from textual.widget import Widget

WEIGHTS = Path(__file__).resolve().parents[2] / "models" / "transformer" / "model.safetensors"


def ai_status(weights: Path = WEIGHTS) -> tuple[bool, str]:
    """(ready, one line for the panel)."""
    if importlib.util.find_spec("composer.sample") is None:
        return False, "AI unavailable: the sampler (composer.sample) is not installed"
    if not weights.exists():
        where = "/".join(weights.parts[-3:])
        return False, f"AI unavailable: no weights at {where}; train with `composer train transformer --export`"
    return True, "AI weights found: use `composer generate` to continue or vary a song (in-app panel to come)"


class AIPanel(Widget):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    def __init__(self, weights: Path | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ready, self.line = ai_status(WEIGHTS if weights is None else weights)

    def render(self) -> Text:
        return Text(self.line, style="" if self.ready else "italic", no_wrap=True, overflow="ellipsis")

"""The AI co-composer: runs the Music Transformer in a worker thread and holds its candidates.

The screen asks for a continuation, a new phrase or variations (`start`);
the model loads lazily in the worker on first use; sampled notes stream back
in small batches (`call_from_thread`) as `Streamed` messages, so the piano
roll shows them as they come. `cancel()` stops the sampler between two tokens.
The candidates stay here, outside the song, until the screen keeps one (one
undo step) or discards them.

Whether the model can run is checked without importing torch (the app must
start fast): the sampler module must exist and the weights must be on disk.
"""

from __future__ import annotations

import importlib.util
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import ProgressBar

from composer.errors import ComposerError
from composer.model.candidates import AUTO_STYLE, AISettings, NoteAssembler
from composer.song import Note, Track

WEIGHTS = Path(__file__).resolve().parents[2] / "models" / "transformer" / "model.safetensors"
BATCH_NOTES = 8  # streamed notes are posted to the UI in batches of this many …
BATCH_S = 0.05  # … or after this long, whichever comes first


def ai_status(weights: Path = WEIGHTS) -> tuple[bool, str]:
    """(ready, one line for the panel)."""
    if importlib.util.find_spec("composer.model.sample") is None:
        return False, "AI unavailable: the sampler (composer.model.sample) is not installed"
    if not weights.exists():
        where = "/".join(weights.parts[-3:])
        return False, f"AI unavailable: no weights at {where}; train with `composer train transformer --export`"
    return True, "AI ready"


@dataclass
class Request:
    """One press of continue / generate / variations."""

    label: str  # "continue", "generate" or "variations": the undo step's name
    track: Track  # where a kept candidate goes (by identity)
    track_index: int
    at_s: float  # the continuation starts here
    primer: list[Note]
    settings: AISettings
    seconds: float
    count: int  # candidates to sample
    seeds: list[int] = field(default_factory=list)

    def draw_seeds(self, again: int = 0) -> None:
        """The seed of each candidate: the user's seed onward (shifted on each retry), else random."""
        base = self.settings.seed
        if base is None:
            self.seeds = [random.randrange(2**31) for _ in range(self.count)]
        else:
            self.seeds = [base + again * self.count + i for i in range(self.count)]


class AILine(Widget):
    """The panel's one line of text; a repaint when it changes, never a re-layout of the screen
    (a Static's update re-lays out, which costs a frame per streamed batch)."""

    text: reactive[Text] = reactive(Text(""))

    def render(self) -> Text:
        return self.text


class AIPanel(Widget):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    generating: reactive[bool] = reactive(False)
    line: reactive[str] = reactive("")

    class Streamed(Message):
        """The shown candidate's notes changed (more arrived, or another candidate is shown)."""

        def __init__(self, panel: AIPanel) -> None:
            super().__init__()
            self.panel = panel

        @property
        def control(self) -> AIPanel:
            return self.panel

    class Finished(Message):
        """Sampling ended: `outcome` is "done", "cancelled" or the error's one line."""

        def __init__(self, panel: AIPanel, outcome: str) -> None:
            super().__init__()
            self.panel = panel
            self.outcome = outcome

        @property
        def control(self) -> AIPanel:
            return self.panel

    def __init__(self, weights: Path | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.weights = WEIGHTS if weights is None else weights
        self.ready, self.reason = ai_status(self.weights)
        self.settings = AISettings()
        self.request: Request | None = None
        self.candidates: list[list[Note]] = []
        self.current = 0
        self.retries = 0
        self._model = None
        self._cancel = threading.Event()

    def compose(self) -> ComposeResult:
        yield AILine(id="ai-line")
        yield ProgressBar(total=1.0, show_eta=False, id="ai-progress")

    def on_mount(self) -> None:
        self.show_idle()

    def on_unmount(self) -> None:
        self._cancel.set()

    def watch_line(self, line: str) -> None:
        style = "" if self.ready else "italic"
        self.query_one("#ai-line", AILine).text = Text(line, style=style, no_wrap=True, overflow="ellipsis")

    def watch_generating(self, generating: bool) -> None:
        # visibility, not display: showing the bar must not re-lay out the screen mid-generation
        self.query_one("#ai-progress", ProgressBar).visible = generating

    # ----- state the screen reads -----

    @property
    def has_candidate(self) -> bool:
        return bool(self.candidates) and not self.generating

    @property
    def shown(self) -> list[Note]:
        """The candidate on show (empty when none)."""
        return self.candidates[self.current] if 0 <= self.current < len(self.candidates) else []

    def check_ready(self) -> bool:
        """Look again (the weights may have arrived since the app started)."""
        self.ready, self.reason = ai_status(self.weights)
        return self.ready

    def show_idle(self) -> None:
        self.line = f"AI ready · {self.settings.describe()}" if self.ready else self.reason

    def describe_candidate(self) -> str:
        request = self.request
        if request is None or not self.candidates:
            return ""
        seed = request.seeds[self.current] if self.current < len(request.seeds) else "?"
        return f"{request.label} {self.current + 1}/{len(self.candidates)} · {len(self.shown)} notes · seed {seed}"

    # ----- sampling -----

    def start(self, request: Request) -> None:
        """Sample `request.count` candidates in the worker (a running one is cancelled first)."""
        self._cancel.set()
        self._cancel = threading.Event()
        request.draw_seeds(self.retries)
        self.request = request
        self.candidates = []
        self.current = 0
        self.generating = True
        self.query_one("#ai-progress", ProgressBar).update(progress=0.0)
        self.line = f"{request.label.capitalize()}: {'loading the model…' if self._model is None else 'sampling…'}"
        self.post_message(self.Streamed(self))
        self._sample(request, self._cancel)

    def again(self) -> None:
        """Regenerate: the same request with new seeds."""
        if self.request is not None:
            self.retries += 1
            self.start(self.request)

    def cancel(self) -> None:
        self._cancel.set()

    def clear(self) -> None:
        """Forget the candidates (kept or discarded)."""
        self.candidates, self.current, self.request, self.retries = [], 0, None, 0
        self.show_idle()
        self.post_message(self.Streamed(self))

    def show(self, step: int) -> None:
        """Show the next (step 1) or previous (-1) candidate."""
        if self.candidates:
            self.current = (self.current + step) % len(self.candidates)
            self.line = self.describe_candidate() + "  ·  enter keeps, escape discards"
            self.post_message(self.Streamed(self))

    @work(thread=True, exclusive=True, group="ai")
    def _sample(self, request: Request, cancel: threading.Event) -> None:
        outcome = "done"
        try:
            from composer.model.sample import SampleOptions, load_model, stream

            if self._model is None:
                self._model = load_model(self.weights)
            for i, seed in enumerate(request.seeds):
                options = SampleOptions(
                    seconds=request.seconds,
                    style=None if request.settings.style == AUTO_STYLE else request.settings.style,
                    temperature=request.settings.temperature,
                    top_p=request.settings.top_p,
                    seed=seed,
                    key=request.settings.key,
                )
                self.app.call_from_thread(self._begin, cancel, i)
                assembler = NoteAssembler(request.at_s)
                batch: list[Note] = []
                last_post = time.monotonic()
                for item in stream(self._model, request.primer, options, cancel):
                    batch += assembler.feed(item.events)
                    if len(batch) >= BATCH_NOTES or time.monotonic() - last_post >= BATCH_S:
                        self.app.call_from_thread(self._arrived, cancel, i, batch, (i + item.progress) / request.count)
                        batch, last_post = [], time.monotonic()
                self.app.call_from_thread(self._arrived, cancel, i, batch, (i + 1) / request.count)
                if cancel.is_set():
                    outcome = "cancelled"
                    break
        except (ComposerError, OSError, RuntimeError, ValueError) as exc:
            outcome = f"AI failed: {exc}"
        self.app.call_from_thread(self._end, cancel, outcome)

    def _begin(self, cancel: threading.Event, index: int) -> None:
        if cancel is self._cancel:
            self.candidates.append([])
            self.current = index

    def _arrived(self, cancel: threading.Event, index: int, notes: list[Note], progress: float) -> None:
        if cancel is not self._cancel or index >= len(self.candidates):
            return  # a superseded run
        self.candidates[index].extend(notes)
        self.query_one("#ai-progress", ProgressBar).update(progress=progress)
        assert self.request is not None
        self.line = (
            f"{self.request.label.capitalize()} {index + 1}/{self.request.count}:"
            f" {len(self.candidates[index])} notes · escape stops"
        )
        self.post_message(self.Streamed(self))

    def _end(self, cancel: threading.Event, outcome: str) -> None:
        if cancel is not self._cancel:
            return
        self.generating = False
        kept = [(c, s) for c, s in zip(self.candidates, self.request.seeds, strict=False) if c] if self.request else []
        self.candidates = [c for c, _ in kept]
        self.current = 0
        if self.request is not None:
            self.request.seeds = [s for _, s in kept]
        if not self.candidates:
            self.request = None
            self.show_idle()
            if outcome == "done":
                outcome = "The model sampled no notes; try again (another seed) or raise the temperature"
        else:
            self.line = self.describe_candidate() + "  ·  enter keeps · escape discards · r again · a listen"
        self.post_message(self.Streamed(self))
        self.post_message(self.Finished(self, outcome))

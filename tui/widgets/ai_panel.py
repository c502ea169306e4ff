"""The AI co-composer: runs the Music Transformer in a worker thread and holds its candidates.

The screen asks for a continuation, a new phrase, variations, an accompaniment
or an infill (`start`); the model loads lazily in the worker on first use; the
jobs (tui/widgets/ai_jobs.py) hand their notes back in small batches
(`call_from_thread`) as `Streamed` messages, so the piano roll shows them as
they come. `cancel()` stops the sampler between two tokens. The candidates stay
here, outside the song, until the screen keeps one (one undo step) or discards
them. A continuation is sampled until it fills the bars asked for, or the
panel says in one line why not (`shortfall`).

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
from composer.gm import playable_range
from composer.model.candidates import AUTO_STYLE, AISettings
from composer.song import Note, Track
from tui.widgets.ai_jobs import Cancelled, Job, accompany_bars, infill_candidates, sample_filled

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


def instrument_range(request: Request) -> tuple[int, int] | None:
    """The new notes' pitch range: the track's instrument's (composer.gm.playable_range); accompaniment has its
    own register (Request.pitch_range) and a drum track none."""
    if request.label == "accompany" or request.track.is_drum:
        return None
    return playable_range(request.track.program)


@dataclass
class Request:
    """One press of continue / generate / variations / accompany / infill."""

    label: str  # "continue", "generate", "variations", "accompany" or "infill": the undo step's name
    track: Track  # where a kept candidate goes (by identity); accompany: the melody (a new track is made)
    track_index: int
    at_s: float  # the continuation starts here (accompany, infill: the span's start)
    primer: list[Note]
    settings: AISettings
    seconds: float
    count: int  # candidates to sample
    seeds: list[int] = field(default_factory=list)
    context: list[Note] = field(default_factory=list)  # copies of the notes the model may hear
    melody: list[Note] = field(default_factory=list)  # accompany: copies of the melody track's notes
    bar_s: float = 2.0
    beat_s: float = 0.5
    pitch_range: tuple[int, int] = (21, 108)  # accompany
    program: int = 0  # accompany: the new track's instrument

    @property
    def end_s(self) -> float:
        return self.at_s + self.seconds

    def job(self, options) -> Job:
        """What the worker runs, with the sampler's options (composer.model.sample.SampleOptions)."""
        return Job(
            self.label, self.at_s, self.seconds, list(self.seeds), options, self.primer, self.context,
            self.melody, self.bar_s, self.beat_s, self.pitch_range,
        )  # fmt: skip

    def sample_options(self):
        """The sampler's options (composer.model.sample.SampleOptions, which imports torch: call it from the
        worker); benchmarks/notes_per_bar.py asks for the same."""
        from composer.model.sample import SampleOptions

        settings = self.settings
        return SampleOptions(
            seconds=self.seconds,
            style=None if settings.style == AUTO_STYLE else settings.style,
            temperature=settings.temperature,
            top_p=settings.top_p,
            key=settings.key,
            pitch_range=instrument_range(self),
        )

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
        self.scores: list[float] = []  # infill: each candidate's log p of what follows (best first)
        self.shortfall: str | None = None  # why the last sampling did not fill every bar asked for
        self.retries = 0
        self._model = None
        self._model_lock = threading.Lock()
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

    def load_model(self):
        """The transformer the panel samples with, loaded on first use (call from a worker thread); jam mode
        plays with the same one."""
        with self._model_lock:
            if self._model is None:
                from composer.model.sample import load_model

                self._model = load_model(self.weights)
            return self._model

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
        line = f"{request.label} {self.current + 1}/{len(self.candidates)} · {len(self.shown)} notes"
        if self.current < len(self.scores):  # infill: how likely what follows is after this fill
            best = " (best)" if self.current == 0 and len(self.scores) > 1 else ""
            line += f" · log p {self.scores[self.current]:.1f}{best}"
        return f"{line} · seed {seed}"

    # ----- sampling -----

    def start(self, request: Request) -> None:
        """Sample `request.count` candidates in the worker (a running one is cancelled first)."""
        self._cancel.set()
        self._cancel = threading.Event()
        request.draw_seeds(self.retries)
        self.request = request
        self.candidates = []
        self.current = 0
        self.scores = []
        self.shortfall = None
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
        self.scores, self.shortfall = [], None
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
        outcome, shortfalls, scores = "done", [], []
        sink = _Sink(self, cancel)
        try:
            self.load_model()
            job = request.job(request.sample_options())
            if request.label == "accompany":
                accompany_bars(self._model, job, sink, cancel)
            elif request.label == "infill":
                scores = infill_candidates(self._model, job, sink, cancel)
            else:
                for i in range(request.count):
                    sink.begin(i)
                    why = sample_filled(self._model, job, sink, i, cancel)
                    sink.flush((i + 1) / request.count)
                    if why is not None:
                        shortfalls.append(why)
                    if cancel.is_set():
                        break
            if cancel.is_set():
                outcome = "cancelled"
        except Cancelled:
            outcome = "cancelled"
        except (ComposerError, OSError, RuntimeError, ValueError) as exc:
            outcome = f"AI failed: {exc}"
        except Exception as exc:  # anything else: one line, and the panel is not left busy
            outcome = f"AI failed: {type(exc).__name__}: {exc}"
        sink.flush()
        shortfall = None
        if shortfalls:
            more = f" ({len(shortfalls)} of {request.count} candidates)" if len(shortfalls) > 1 else ""
            shortfall = shortfalls[0].replace(":", more + ":", 1)
        self.app.call_from_thread(self._end, cancel, outcome, shortfall, scores)

    def _begin(self, cancel: threading.Event, index: int) -> None:
        if cancel is self._cancel:
            self.candidates.append([])
            self.current = index

    def _arrived(self, cancel: threading.Event, index: int, notes: list[Note], progress: float) -> None:
        if cancel is not self._cancel or index >= len(self.candidates):
            return  # a superseded run
        self.candidates[index].extend(notes)
        self._show_progress(index, progress)

    def _replaced(self, cancel: threading.Event, index: int, notes: list[Note], progress: float) -> None:
        """The candidate's notes from a point on were dropped (sampling goes on from there)."""
        if cancel is not self._cancel or index >= len(self.candidates):
            return
        self.candidates[index] = notes
        self._show_progress(index, progress)

    def _show_progress(self, index: int, progress: float) -> None:
        self.query_one("#ai-progress", ProgressBar).update(progress=progress)
        assert self.request is not None
        self.line = (
            f"{self.request.label.capitalize()} {index + 1}/{self.request.count}:"
            f" {len(self.candidates[index])} notes · escape stops"
        )
        self.post_message(self.Streamed(self))

    def _end(self, cancel: threading.Event, outcome: str, shortfall: str | None, scores: list[float]) -> None:
        if cancel is not self._cancel:
            return
        self.generating = False
        request = self.request
        seeds = request.seeds if request else []
        scored = scores + [float("-inf")] * (len(self.candidates) - len(scores))
        kept = [(c, s, p) for c, s, p in zip(self.candidates, seeds, scored, strict=False) if c]
        if scores:  # infill: the likeliest fill first
            kept.sort(key=lambda k: -k[2])
            self.scores = [p for _, _, p in kept]
        self.candidates = [c for c, _, _ in kept]
        self.current = 0
        self.shortfall = shortfall
        if request is not None:
            request.seeds = [s for _, s, _ in kept]
        if not self.candidates:
            self.request = None
            self.show_idle()
            if outcome == "done":
                outcome = shortfall or "The model sampled no notes; try again (another seed) or raise the temperature"
        else:
            self.line = self.describe_candidate() + "  ·  enter keeps · escape discards · r again · a listen"
        self.post_message(self.Streamed(self))
        self.post_message(self.Finished(self, outcome))


class _Sink:
    """A job's notes to the panel on the UI thread, in batches of BATCH_NOTES or every BATCH_S."""

    def __init__(self, panel: AIPanel, cancel: threading.Event) -> None:
        self.panel, self.cancel = panel, cancel
        self.index, self.progress = 0, 0.0
        self.batch: list[Note] = []
        self.last_post = time.monotonic()
        self.begun = False  # nothing to post before the first candidate begins

    def begin(self, index: int) -> None:
        self.flush()
        self.index, self.begun = index, True
        self.panel.app.call_from_thread(self.panel._begin, self.cancel, index)

    def add(self, index: int, notes: list[Note], progress: float) -> None:
        if index != self.index:
            self.flush()
        self.index, self.progress = index, progress
        self.batch += notes
        if len(self.batch) >= BATCH_NOTES or time.monotonic() - self.last_post >= BATCH_S:
            self.flush()

    def replace(self, index: int, notes: list[Note], progress: float) -> None:
        self.batch = []
        self.index, self.progress = index, progress
        self.panel.app.call_from_thread(self.panel._replaced, self.cancel, index, list(notes), progress)
        self.last_post = time.monotonic()

    def flush(self, progress: float | None = None) -> None:
        if progress is not None:
            self.progress = progress
        if not self.begun:
            return
        batch, self.batch = self.batch, []
        self.panel.app.call_from_thread(self.panel._arrived, self.cancel, self.index, batch, self.progress)
        self.last_post = time.monotonic()

"""What the AI panel's worker thread runs: filled continuations, accompaniment, infill.

Each job calls the same public functions as the command line (composer.model.sample.stream,
composer.model.accompany.accompany, composer.model.infill.infill) and hands its notes to a `Sink` as
they come; the panel (tui/widgets/ai_panel.py) turns those calls into messages on the UI thread.
Nothing here imports Textual, and torch only inside the jobs (the app must start fast).

    reason = sample_filled(model, job, sink, index, cancel)   # None, or why the bars are not all filled
    accompany_bars(model, job, sink, cancel)                   # bar by bar, each primed with the last
    infill_candidates(model, job, sink, cancel)                # one fill per seed, best (log p) first

Filled: a stream can stop short of the bars it was asked for (the model loops at one instant until the
token guard ends it, or samples silence to the end): a 2-note stub. `first_hole` finds where the music
stops (a note counts as music for at most a bar after its onset); the notes from there on are dropped
and sampling goes on from that point with the next seed, up to FILL_ROUNDS times.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

from composer.model.candidates import NoteAssembler, primer_before
from composer.song import Note, Track
from composer.tokens import STEP_S

FILL_ROUNDS = 8  # samplings of one candidate (the first and its continuations) before it says why not
STALL_TOKENS = 64  # tokens at one instant and the round is stuck (composer.model.constrained.MAX_TOKENS_PER_STEP)
ROUND_SEED_STEP = 7919  # round r of a candidate samples with seed + r * this
ACCOMPANIMENT_NAME = "Accompaniment"  # as composer.model.accompany.ACCOMPANIMENT_TRACK (not imported: torch)
STRINGS, PIANO = 48, 0  # GM String Ensemble 1, Acoustic Grand Piano


class Cancelled(Exception):
    """Raised from a progress callback to stop a constrained sampler between two tokens."""


class Sink(Protocol):
    """Where a job's notes go (called from the worker thread)."""

    def begin(self, index: int) -> None: ...

    def add(self, index: int, notes: list[Note], progress: float) -> None: ...

    def replace(self, index: int, notes: list[Note], progress: float) -> None: ...


@dataclass
class Job:
    """What one press asks for. Times in seconds, absolute in the song."""

    kind: str  # "continue", "generate", "variations", "accompany", "infill"
    at_s: float  # where the new notes start
    seconds: float  # how long they go on
    seeds: list[int]
    options: object  # composer.model.sample.SampleOptions (seed and seconds set per candidate)
    primer: list[Note] = field(default_factory=list)  # continue / variations: primer_before(track, at_s)
    context: list[Note] = field(default_factory=list)  # the notes the model may hear before at_s
    melody: list[Note] = field(default_factory=list)  # accompany: the track it plays along with
    bar_s: float = 2.0
    beat_s: float = 0.5
    pitch_range: tuple[int, int] = (21, 108)

    @property
    def end_s(self) -> float:
        return self.at_s + self.seconds


# ----- filled continuations -----


def first_hole(notes: Sequence[Note], start_s: float, end_s: float, bar_s: float, beat_s: float) -> float | None:
    """Where the music in [start_s, end_s) stops: the start of the first silence of a bar or more, or of a
    silence of more than a beat at the end; None when it is all filled. A note counts as sounding for at
    most a bar after its onset (one long note is not a bar of music after bar of music)."""
    reached = start_s
    for n in sorted(notes, key=lambda n: n.start_s):
        if n.start_s - reached >= bar_s - 1e-9:
            return reached
        reached = max(reached, min(n.end_s, n.start_s + bar_s))
    return reached if end_s - reached > beat_s + 1e-9 else None


def cut_at(notes: Sequence[Note], hole_s: float) -> list[Note]:
    """The notes that start before `hole_s`, ending by it."""
    return [Note(n.pitch, n.velocity, n.start_s, min(n.end_s, hole_s)) for n in notes if n.start_s < hole_s]


def bars_with_music(notes: Sequence[Note], job: Job) -> float:
    hole = first_hole(notes, job.at_s, job.end_s, job.bar_s, job.beat_s)
    filled_s = job.seconds if hole is None else hole - job.at_s
    return round(filled_s / job.bar_s * 2) / 2  # to the half bar: "2.5 of 4 bars"


def sample_filled(
    model, job: Job, sink: Sink, index: int, cancel: threading.Event, on_round: Callable[[int], None] | None = None
) -> str | None:
    """Candidate `index` of a continue / generate / variations job, sampled until its bars are filled.

    Returns None when they are, else one line saying how far it got and why (the notes it has stay).
    `on_round(r)` is told when round r begins (0, then one per refill: benchmarks/notes_per_bar.py counts them)."""
    from composer.model.register import stream_in_register  # the track's instrument's register (by octaves)

    count = len(job.seeds)
    notes: list[Note] = []
    resume_s = job.at_s
    stuck = False
    for round_ in range(FILL_ROUNDS):
        if on_round is not None:
            on_round(round_)
        seconds = job.end_s - resume_s
        options = replace(job.options, seconds=seconds, seed=(job.seeds[index] + round_ * ROUND_SEED_STEP) % 2**31)
        primer = job.primer if round_ == 0 else primer_before(Track(notes=[*job.context, *notes]), resume_s)
        assembler = NoteAssembler(resume_s)
        same_instant, last_progress = 0, -1.0
        stuck = False
        for item in stream_in_register(model, primer, options, cancel):
            new = assembler.feed(item.events)
            notes += new
            done_s = resume_s - job.at_s + item.progress * seconds
            sink.add(index, new, (index + done_s / job.seconds) / count)
            same_instant = same_instant + 1 if item.progress == last_progress else 0
            last_progress = item.progress
            if same_instant >= STALL_TOKENS:
                stuck = True
                break
        if cancel.is_set():
            return None
        hole_s = first_hole(notes, job.at_s, job.end_s, job.bar_s, job.beat_s)
        if hole_s is None:
            return None
        kept = cut_at(notes, hole_s)
        if kept != notes:
            notes = kept
            sink.replace(index, notes, (index + (hole_s - job.at_s) / job.seconds) / count)
        resume_s = hole_s
    filled = f"{bars_with_music(notes, job):g} of {job.seconds / job.bar_s:g} bars"
    why = "got stuck at one instant" if stuck else "kept choosing silence"
    return f"{job.kind.capitalize()} filled {filled}: the model {why} · r tries new seeds"


# ----- accompaniment -----


def accompaniment_program(melody: Track) -> int:
    """An instrument that suits an accompaniment: the piano, unless the melody is on a keyboard (piano,
    chromatic percussion, organ), then strings."""
    return STRINGS if melody.program < 24 else PIANO


def accompaniment_range(melody: Sequence[Note]) -> tuple[int, int]:
    """Pitches for the accompaniment: from two octaves under the melody's lowest note up to its highest, so
    the tune stays on top (within MIDI 21..108, the piano's keys)."""
    high = min(108, max(21, max(n.pitch for n in melody)))
    low = min(max(21, min(n.pitch for n in melody) - 24), high)
    return low, high


def bar_chunks(melody: Sequence[Note], start_s: float, end_s: float, bar_s: float) -> list[tuple[float, float]]:
    """[start_s, end_s) cut at bar lines into spans that each have a melody onset (a bar without one joins
    the span before it, or the first one); [] when the melody has no onset in the whole span."""
    onsets = sorted(n.start_s for n in melody if start_s <= n.start_s < end_s)
    if not onsets:
        return []
    lines = [start_s]
    t = (int(start_s / bar_s + 1e-9) + 1) * bar_s
    while t < end_s - 1e-9:
        lines.append(t)
        t += bar_s
    lines.append(end_s)

    def onset_in(a: float, b: float) -> bool:  # on the tokens' 10 ms grid, as accompany() counts them
        return any(round(a / STEP_S) <= round(o / STEP_S) < round(b / STEP_S) for o in onsets)

    chunks: list[list[float]] = []
    for a, b in zip(lines, lines[1:], strict=False):
        if chunks and (not onset_in(a, b) or not onset_in(*chunks[-1])):
            chunks[-1][1] = b  # no onset here (or none yet before): one span with the previous bars
        else:
            chunks.append([a, b])
    return [(a, b) for a, b in chunks]


def accompany_bars(model, job: Job, sink: Sink, cancel: threading.Event) -> None:
    """Accompany job.melody over [at_s, end_s) span by span (bar lines), each span primed with the song and
    the accompaniment so far, so its notes reach the screen bar by bar."""
    from composer.errors import ComposerError
    from composer.model.accompany import accompany

    chunks = bar_chunks(job.melody, job.at_s, job.end_s, job.bar_s)
    if not chunks:
        raise ComposerError("accompany", "the track has no notes starting there to accompany")
    sink.begin(0)
    played: list[Note] = []
    style = job.options.style
    for k, (a, b) in enumerate(chunks):

        def progress(fraction: float, a: float = a, b: float = b) -> None:
            if cancel.is_set():
                raise Cancelled
            sink.add(0, [], (a - job.at_s + fraction * (b - a)) / job.seconds)

        options = replace(job.options, seed=(job.seeds[0] + k * ROUND_SEED_STEP) % 2**31, style=style)
        result = accompany(model, [*job.context, *played], job.melody, a, b, options, job.pitch_range, progress)
        style = result.style  # the first span's (given or guessed) for all: one piece, and no guess per bar
        played += result.notes
        sink.add(0, result.notes, (b - job.at_s) / job.seconds)


# ----- infill -----


def infill_candidates(model, job: Job, sink: Sink, cancel: threading.Event) -> list[float]:
    """One fill of [at_s, end_s) per seed (composer.model.infill.infill, one candidate each, so each shows
    as soon as it is sampled); returns their scores (log p of what follows, nats)."""
    from composer.model.infill import infill

    count = len(job.seeds)
    scores: list[float] = []
    for i, seed in enumerate(job.seeds):
        sink.begin(i)

        def progress(fraction: float, i: int = i) -> None:
            if cancel.is_set():
                raise Cancelled
            sink.add(i, [], (i + fraction) / count)

        result = infill(model, job.context, job.at_s, job.end_s, replace(job.options, seed=seed), 1, progress=progress)
        best = result.candidates[result.best]
        scores.append(best.score)
        sink.add(i, best.notes, (i + 1) / count)
    return scores

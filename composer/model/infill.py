"""Infilling a gap by sample-and-rerank with the left-to-right co-composer.

    result = infill(model, notes, start_s, end_s, SampleOptions(seed=1), candidates=8)
    result.notes                    # the chosen fill, absolute seconds, all inside [start_s, end_s]
    result.candidates[i].score      # log p(what follows | prefix + fill i), nats
    song, result = infill_song(model, song, start_s, end_s, options, candidates=8)

Method: K candidate fills continue the prefix (the notes before the gap), each
limited to the gap's length, so each leads out of what precedes. Each is then
scored by the model's log-likelihood of the following passage (its first
`suffix_s` seconds, at most `suffix_tokens` tokens) given prefix + fill, and
the likeliest is kept, so the fill also leads into what follows. A model trained on
infilling examples (`cfg.fim`, composer.train.fim) also reads what follows, and
the gap's length, before it writes each candidate: [STYLE, FUTURE, shifts,
what follows, BOS, prefix]; the candidates are still ranked by the same
left-to-right score. With a plain model, K=1 is plain continuation: the same
notes as `composer.model.sample.stream` for the same seed.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from composer.errors import ComposerError
from composer.model.constrained import (
    choose_style,
    context_ids,
    encode_after,
    last_velocity_bin,
    log_likelihood,
    new_generator,
    sample_span,
    span_prefix,
    to_steps,
)
from composer.model.sample import SampleOptions
from composer.song import Note, Song, Track
from composer.tokens import STEP_S, encode
from composer.train.fim import future_head

MAX_CANDIDATES = 64
DEFAULT_SUFFIX_S = 4.0
INFILL_TRACK = "Infill"


@dataclass
class Candidate:
    notes: list[Note]  # absolute seconds, inside the gap
    tokens: list[int]  # the fill as the model saw it, then NOTE_OFFs for notes held to the gap's end
    suffix: list[int]  # the following passage's tokens in this candidate's stream
    score: float  # log p(suffix | style, BOS, prefix, tokens), nats
    seed: int


@dataclass
class Infill:
    candidates: list[Candidate]
    best: int  # index of the highest score (the first on ties)
    style: str
    prefix: list[int]  # tokens before the gap, ending exactly at its start
    start_s: float
    end_s: float

    @property
    def notes(self) -> list[Note]:
        return self.candidates[self.best].notes


def in_gap(note: Note, start_s: float, end_s: float) -> bool:
    return start_s <= note.start_s < end_s


def suffix_notes(notes: Sequence[Note], end_s: float, suffix_s: float) -> list[Note]:
    """Notes starting in [end_s, end_s + suffix_s), cut at the window's end, seconds from end_s."""
    stop_s = end_s + suffix_s
    return [
        Note(n.pitch, n.velocity, n.start_s - end_s, min(n.end_s, stop_s) - end_s)
        for n in notes
        if end_s <= n.start_s < stop_s
    ]


def infill(
    model,
    notes: Sequence[Note],
    start_s: float,
    end_s: float,
    options: SampleOptions | None = None,
    candidates: int = 8,
    suffix_s: float = DEFAULT_SUFFIX_S,
    suffix_tokens: int | None = None,
    progress: Callable[[float], None] | None = None,
) -> Infill:
    """Fill [start_s, end_s) of `notes` (pitched notes, absolute seconds; those
    starting inside the gap are ignored). Candidate i uses seed `options.seed + i`."""
    options = replace(options or SampleOptions(), seconds=max(end_s - start_s, STEP_S))
    options.validate()
    if not 1 <= candidates <= MAX_CANDIDATES:
        raise ComposerError("--candidates", f"must be 1..{MAX_CANDIDATES}, got {candidates}")
    if not 0 <= start_s < end_s or to_steps(end_s) <= to_steps(start_s):
        raise ComposerError("gap", f"need 0 <= start < end seconds, got {start_s:g}..{end_s:g}")
    if not 0 < suffix_s <= 60:
        raise ComposerError("--suffix-seconds", f"must be in (0, 60], got {suffix_s}")
    max_suffix = model.cfg.max_len // 4 if suffix_tokens is None else suffix_tokens
    if not 1 <= max_suffix <= model.cfg.max_len // 2:
        raise ComposerError("suffix_tokens", f"must be 1..{model.cfg.max_len // 2}, got {max_suffix}")
    kept = [n for n in notes if not in_gap(n, start_s, end_s)]
    prefix = span_prefix(kept, start_s, options.max_note_s)
    after = suffix_notes(kept, end_s, suffix_s)
    base_seed = options.seed if options.seed is not None else secrets.randbits(31)
    steps = to_steps(end_s) - to_steps(start_s)
    first_gen = new_generator(base_seed)
    style = choose_style(model, prefix, options, first_gen)  # as stream() does, so K=1 is plain continuation
    context = context_ids(model, style, prefix)
    # a model trained on infilling examples reads what follows first (composer.train.fim)
    head = future_head(steps, encode(after, options.max_note_s)) if model.cfg.fim else []
    out: list[Candidate] = []
    for i in range(candidates):
        gen = first_gen if i == 0 else new_generator(base_seed + i)

        def report(fraction: float, i: int = i) -> None:
            if progress is not None:
                progress((i + fraction) / candidates)

        span = sample_span(
            model, style, prefix, steps, replace(options, seed=base_seed + i), gen, progress=report, head=head
        )
        tokens = span.tokens + span.closing
        velocity_now = last_velocity_bin(prefix + tokens)
        suffix = encode_after(after, velocity_now, options.max_note_s)[:max_suffix]
        score = log_likelihood(model, context + tokens, suffix)
        fill = [Note(n.pitch, n.velocity, n.start_s + start_s, n.end_s + start_s) for n in span.free_notes]
        out.append(Candidate(fill, tokens, suffix, score, base_seed + i))
    best = max(range(len(out)), key=lambda i: (out[i].score, -i))
    return Infill(out, best, style, prefix, start_s, end_s)


def infill_song(
    model,
    song: Song,
    start_s: float,
    end_s: float,
    options: SampleOptions | None = None,
    candidates: int = 8,
    suffix_s: float = DEFAULT_SUFFIX_S,
    progress: Callable[[float], None] | None = None,
) -> tuple[Song, Infill]:
    """A copy of `song` whose pitched notes starting in the gap are replaced by the fill.

    All pitched tracks are merged into one stream for the model; drums stay as
    they are. The fill goes back into the track it replaces when the removed
    notes came from one track (or the song has one pitched track), else into a
    new "Infill" track."""
    result = infill(model, song.all_notes(), start_s, end_s, options, candidates, suffix_s, progress=progress)
    out = copy.deepcopy(song)
    pitched = [t for t in out.tracks if not t.is_drum]
    removed: dict[int, int] = {}
    for i, track in enumerate(pitched):
        before = len(track.notes)
        track.notes = [n for n in track.notes if not in_gap(n, start_s, end_s)]
        if len(track.notes) < before:
            removed[i] = before - len(track.notes)
    if len(pitched) == 1 or len(removed) == 1:
        target = pitched[0] if len(pitched) == 1 else pitched[next(iter(removed))]
        target.notes.extend(result.notes)
        target.sort()
    else:
        source = max(removed, key=removed.get) if removed else 0
        program = pitched[source].program if pitched else 0
        out.tracks.append(Track(name=INFILL_TRACK, program=program, notes=list(result.notes)))
    return out, result

"""Constrained sampling from the left-to-right co-composer: forced events, spans, scores.

The model only ever continues to the right. Accompaniment and infilling get
their constraints at decoding time instead of from retraining:

    prefix = span_prefix(notes, start_s, max_note_s)       # tokens up to the span start
    span = sample_span(model, style, prefix, steps, options, gen, forced)
    span.tokens        # forced and sampled ids of the span, in the order the model saw them
    span.free_notes    # what the model added (seconds from the span start)
    log_likelihood(model, context_ids, target_ids)        # sum of log p(target | context)

`sample_span` walks a span of `steps` x 10 ms. Forced events (e.g. a melody)
are fed to the model at their step instead of sampled; a TIME_SHIFT that
would cross the next forced event, or the span end, is cut to land on it.
With no forced events it samples exactly what `composer.model.sample.stream` does
for the same seed (same RNG use, same masks), only starting at a given
instant rather than at the primer's last event.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from composer.errors import ComposerError
from composer.model.context import TokenContext
from composer.model.harmony import COMING_S, ConsonancePrior
from composer.model.sample import SampleOptions, guess_style, sample_next, token_mask
from composer.song import Note, Song
from composer.tokens import (
    BOS,
    NOTE_OFF_OFFSET,
    NOTE_ON_OFFSET,
    STEP_S,
    STYLES,
    TIME_SHIFT_OFFSET,
    VELOCITY_END,
    VELOCITY_OFFSET,
    NoteEvent,
    StreamDecoder,
    bin_to_velocity,
    encode,
    events_to_notes,
    note_off,
    note_on,
    quantize,
    shift_tokens,
    style_token,
    time_shift,
    velocity_to_bin,
)

# More tokens than this at one instant and only TIME_SHIFTs may follow: sampling always ends.
MAX_TOKENS_PER_STEP = 64
PRIMER_WINDOW_S = 30.0  # the model's context is a few hundred tokens; older notes would be cut anyway


@dataclass(frozen=True)
class ForcedEvent:
    """A note-on or note-off fed to the model at `step` (10 ms steps from the span start)."""

    step: int
    on: bool
    pitch: int
    velocity_bin: int = 0


@dataclass
class Span:
    tokens: list[int]  # the span's ids as fed to the model, forced and sampled
    forced_positions: list[int]  # indexes into `tokens` of the forced ids (velocity ids included)
    free_notes: list[Note]  # the sampled notes, seconds from the span start, all ending by the span end
    closing: list[int]  # NOTE_OFFs for the sampled notes still sounding at the end (not in `tokens`)


def to_steps(seconds: float) -> int:
    return round(seconds / STEP_S)


def tokens_steps(ids: Sequence[int]) -> int:
    """How many 10 ms steps the TIME_SHIFTs in `ids` add up to."""
    return sum(t - TIME_SHIFT_OFFSET + 1 for t in ids if TIME_SHIFT_OFFSET <= t < VELOCITY_OFFSET)


def last_velocity_bin(ids: Sequence[int]) -> int | None:
    bins = [t - VELOCITY_OFFSET for t in ids if VELOCITY_OFFSET <= t < VELOCITY_END]
    return bins[-1] if bins else None


def clip_before(notes: Sequence[Note], start_s: float, window_s: float = PRIMER_WINDOW_S) -> list[Note]:
    """Notes that start in [start_s - window_s, start_s), ending by start_s, shifted so the window starts at 0."""
    origin_s = max(0.0, start_s - window_s)
    out = []
    for n in notes:
        if origin_s <= n.start_s < start_s and to_steps(n.start_s) < to_steps(start_s):
            out.append(Note(n.pitch, n.velocity, n.start_s - origin_s, min(n.end_s, start_s) - origin_s))
    return out


def span_prefix(notes: Sequence[Note], start_s: float, max_note_s: float) -> list[int]:
    """The tokens the model sees before a span that starts at `start_s`: the notes
    before it (cut at `start_s`), then TIME_SHIFTs up to `start_s` exactly."""
    origin_s = max(0.0, start_s - PRIMER_WINDOW_S)
    ids = encode(clip_before(notes, start_s), max_note_s)
    return ids + shift_tokens(to_steps(start_s) - to_steps(origin_s) - tokens_steps(ids))


def drop_final_offs(ids: Sequence[int], pitches: Sequence[int]) -> list[int]:
    """`ids` without the NOTE_OFFs of `pitches` at its last instant: those notes go on sounding."""
    out = list(ids)
    end = len(out)
    while end > 0 and not TIME_SHIFT_OFFSET <= out[end - 1] < VELOCITY_OFFSET:
        end -= 1
    offs = {note_off(p) for p in pitches}
    return out[:end] + [t for t in out[end:] if t not in offs]


def encode_after(notes: Sequence[Note], velocity_bin_now: int | None, max_note_s: float) -> list[int]:
    """encode(notes), without the leading velocity token when the stream already has that velocity."""
    ids = encode(notes, max_note_s)
    if ids and velocity_bin_now is not None and ids[0] == VELOCITY_OFFSET + velocity_bin_now:
        return ids[1:]
    return ids


def forced_events(notes: Sequence[Note], max_note_s: float) -> list[ForcedEvent]:
    """Notes (seconds from the span start) as forced events on the 10 ms grid, offs before ons at a step."""
    events = []
    for n in quantize(notes, max_note_s):
        events.append(ForcedEvent(to_steps(n.start_s), True, n.pitch, velocity_to_bin(n.velocity)))
        events.append(ForcedEvent(to_steps(n.end_s), False, n.pitch))
    return sorted(events, key=lambda e: (e.step, e.on, e.pitch))


def choose_style(model, primer_ids: Sequence[int], options: SampleOptions, gen: torch.Generator) -> str:
    """As `composer.model.sample.stream` chooses: the given style, the primer's likeliest, or one drawn by the seed."""
    if options.style is not None:
        return options.style
    if primer_ids:
        return guess_style(model, primer_ids)
    return STYLES[int(torch.randint(0, len(STYLES) - 1, (1,), generator=gen))]


def new_generator(seed: int | None) -> torch.Generator:
    return torch.Generator().manual_seed(seed if seed is not None else secrets.randbits(31))


def context_ids(model, style: str, prefix: Sequence[int], head: Sequence[int] = ()) -> list[int]:
    """[STYLE, head..., BOS, the prefix's end that fits]; `head` is an infilling model's FUTURE part."""
    room = model.cfg.max_len - 2 - len(head)
    return [style_token(style), *head, BOS, *list(prefix)[-room:]]


@torch.no_grad()
def sample_span(
    model,
    style: str,
    prefix: Sequence[int],
    steps: int,
    options: SampleOptions,
    gen: torch.Generator,
    forced: Sequence[ForcedEvent] = (),
    pitch_range: tuple[int, int] = (0, 127),
    progress: Callable[[float], None] | None = None,
    held_at_start: Sequence[int] = (),
    head: Sequence[int] = (),
    prior: ConsonancePrior | None = None,
) -> Span:
    """Sample `steps` x 10 ms after `prefix` (under `style`), feeding `forced` at their steps.

    Masks, besides the key of `options`: NOTE_ONs outside `pitch_range` or of a
    forced pitch that is sounding; NOTE_OFFs of forced pitches (the model may
    only end notes it started). A sampled note still sounding when a forced
    note-on of its pitch comes is ended there first. `prior` biases the sampled
    NOTE_ONs toward consonance with the forced notes sounding and about to come
    (composer/model/harmony.py).
    """
    model.eval()
    ctx = TokenContext(model, context_ids(model, style, prefix, head))
    decoder = StreamDecoder(start_s=0.0, max_note_s=options.max_note_s)
    velocity_now = last_velocity_bin(prefix)
    if velocity_now is not None:  # as in training: a NOTE_ON before any SET_VELOCITY keeps the last one
        decoder.velocity = bin_to_velocity(velocity_now)
    base = token_mask(options.key, options.pitch_range)
    low, high = pitch_range
    base[NOTE_ON_OFFSET : NOTE_ON_OFFSET + low] = False
    base[NOTE_ON_OFFSET + high + 1 : NOTE_OFF_OFFSET] = False
    forced = sorted(forced, key=lambda e: (e.step, e.on, e.pitch))
    tokens: list[int] = []
    forced_positions: list[int] = []
    events: list[NoteEvent] = []  # of the sampled notes only
    owner_forced: dict[int, bool] = dict.fromkeys(held_at_start, True)  # pitch -> was its latest NOTE_ON forced
    free: set[int] = set()  # pitches the model started and has not ended
    held: set[int] = set(held_at_start)  # forced pitches sounding
    next_forced = 0
    per_step = 0

    def push(token: int, is_forced: bool) -> None:
        nonlocal per_step
        if NOTE_ON_OFFSET <= token < NOTE_OFF_OFFSET:
            owner_forced[token - NOTE_ON_OFFSET] = is_forced
        releasing = set(decoder.releasing)
        fed = decoder.feed(token)
        events.extend(e for e in fed if not owner_forced.get(e.pitch, True))
        tokens.append(token)
        if is_forced:
            forced_positions.append(len(tokens) - 1)
        ctx.push(token)
        per_step += 1
        if NOTE_ON_OFFSET <= token < NOTE_OFF_OFFSET:
            (held if is_forced else free).add(token - NOTE_ON_OFFSET)
        elif NOTE_OFF_OFFSET <= token < TIME_SHIFT_OFFSET:
            (held if is_forced else free).discard(token - NOTE_OFF_OFFSET)
        elif TIME_SHIFT_OFFSET <= token < VELOCITY_OFFSET:
            per_step = 0
            for event in fed:
                if event.pitch in free and event.pitch not in releasing:  # closed by the cap: tell the model, once
                    free.discard(event.pitch)
                    tokens.append(note_off(event.pitch))
                    ctx.push(note_off(event.pitch))

    while True:
        step = decoder.step
        while next_forced < len(forced) and forced[next_forced].step <= step:
            event = forced[next_forced]
            next_forced += 1
            if event.on:
                if event.pitch in free:  # the melody takes the pitch over: the sampled note ends here
                    push(note_off(event.pitch), False)
                if event.velocity_bin != velocity_to_bin(decoder.velocity):
                    push(VELOCITY_OFFSET + event.velocity_bin, True)
                push(note_on(event.pitch), True)
            elif event.pitch in held:
                push(note_off(event.pitch), True)
        if step >= steps:
            break
        allowed = base.clone()
        for pitch in held:
            allowed[NOTE_ON_OFFSET + pitch] = False
            allowed[NOTE_OFF_OFFSET + pitch] = False
        if per_step >= MAX_TOKENS_PER_STEP:
            allowed[:TIME_SHIFT_OFFSET] = False
            allowed[VELOCITY_OFFSET:] = False
        logits = ctx.logits
        if prior is not None and (held or next_forced < len(forced)):
            horizon, coming = step + round(COMING_S / STEP_S), []
            for event in forced[next_forced:]:
                if event.step > horizon:
                    break
                if event.on:
                    coming.append(event.pitch)
            logits = prior.apply(logits, allowed, held, coming)
        token = sample_next(logits, options, allowed, gen)
        if TIME_SHIFT_OFFSET <= token < VELOCITY_OFFSET:
            limit = steps if next_forced >= len(forced) else min(steps, forced[next_forced].step)
            token = time_shift(min(token - TIME_SHIFT_OFFSET + 1, limit - step))
        push(token, False)
        if progress is not None and decoder.step > step:
            progress(decoder.step / steps)
    events.extend(e for e in decoder.finish_at(steps * STEP_S) if not owner_forced.get(e.pitch, True))
    return Span(tokens, forced_positions, events_to_notes(events), [note_off(p) for p in sorted(free)])


@torch.no_grad()
def log_likelihood(model, context: Sequence[int], target: Sequence[int]) -> float:
    """Sum of log p(target[i] | context, target[:i]) in nats, in one pass.

    `context` starts with the style token; when the whole does not fit the
    model's window, the style token is kept and the oldest context dropped.
    `target` must fit in half the window."""
    max_len = model.cfg.max_len
    target = list(target)
    if not target:
        return 0.0
    if len(target) > max_len // 2:
        raise ValueError(f"{len(target)} target tokens, at most {max_len // 2} fit")
    context = list(context)
    seq = context + target
    if len(seq) > max_len + 1:
        seq = [context[0], *seq[-max_len:]]
    ids = torch.tensor([seq])
    logits, _ = model(ids[:, :-1])  # (1, T-1, V)
    logp = torch.log_softmax(logits[0].float(), dim=-1)  # (T-1, V)
    n = len(target)
    picked = logp[-n:].gather(1, ids[0, -n:].unsqueeze(1))  # (n, 1)
    return float(picked.sum())


def bar_span_s(song: Song, from_bar: int, to_bar: int) -> tuple[float, float]:
    """Seconds from the start of bar `from_bar` to the start of bar `to_bar` (bars from 1,
    at the song's tempo and meter). ComposerError unless 1 <= from < to and the span
    starts inside the song and ends at most at the end of its last bar."""
    bar_s = song.beats_to_s(song.beats_per_bar)
    n_bars = max(1, math.ceil(song.duration_s / bar_s - 1e-9))
    if from_bar < 1:
        raise ComposerError("--from", f"bars count from 1, got {from_bar}")
    if to_bar <= from_bar:
        raise ComposerError("--to", f"must be after --from {from_bar}, got {to_bar}")
    if from_bar > n_bars or to_bar > n_bars + 1:
        raise ComposerError("--to" if from_bar <= n_bars else "--from",
                            f"bars {from_bar}..{to_bar} go past the song's {n_bars} bars")  # fmt: skip
    return (from_bar - 1) * bar_s, (to_bar - 1) * bar_s

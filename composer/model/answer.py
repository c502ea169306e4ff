"""The model's side of call and response: a context primed token by token, and an answer sampled from it.

    ctx = TokenContext.for_style(model, "folk")   # [STYLE, BOS] primed
    ctx.push(tokenizer.note_on(60, 90, t))   # while the player plays: a step per event, not a re-prime
    branch = ctx.fork()                      # free: KV tensors are never written in place
    for step in answer_steps(branch, options, seconds=4.0):
        step.events                          # NoteEvents, time_s from the answer's start
        step.fed                             # the ids this step added to `branch`

The answer starts with a note (its first token is a NOTE_ON: the player's
gap is the rest between call and response), may be constrained to
`options.key`, and ends after `seconds` with every note closed.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch

from composer.model.context import TokenContext
from composer.model.sample import SampleOptions, sample_next, token_mask
from composer.tokens import (
    NOTE_OFF_OFFSET,
    NOTE_ON_OFFSET,
    STEP_S,
    TIME_SHIFT_OFFSET,
    VELOCITY_OFFSET,
    NoteEvent,
    StreamDecoder,
    bin_to_velocity,
    note_off,
    shift_tokens,
)


@dataclass
class AnswerStep:
    token: int  # the sampled id
    fed: list[int]  # ids added to the context by this step (the token, and NOTE_OFFs for capped notes)
    events: list[NoteEvent]  # times in seconds from the answer's start
    time_s: float  # where the answer's clock stands after this step


@torch.no_grad()
def answer_steps(
    ctx: TokenContext,
    options: SampleOptions,
    seconds: float,
    generator: torch.Generator | None = None,
) -> Iterator[AnswerStep]:
    """Sample an answer of `seconds` from `ctx` (which it extends), one token per step.

    The first token is a NOTE_ON (in `options.key` when set); notes play at
    the context's last velocity until the model sets one. The last step closes
    every note still sounding at `seconds`.
    """
    options.validate()
    gen = generator or torch.Generator().manual_seed(options.seed if options.seed is not None else secrets.randbits(31))
    allowed = token_mask(options.key, options.pitch_range)
    first = torch.zeros_like(allowed)
    first[NOTE_ON_OFFSET:NOTE_OFF_OFFSET] = allowed[NOTE_ON_OFFSET:NOTE_OFF_OFFSET]
    decoder = StreamDecoder(start_s=0.0, max_note_s=options.max_note_s)
    if ctx.velocity_bin is not None:
        decoder.velocity = bin_to_velocity(ctx.velocity_bin)
    logits = ctx.logits
    max_tokens = int(seconds * 400) + 1000  # a guard far above any real density
    for index in range(max_tokens):
        token = sample_next(logits, options, first if index == 0 else allowed, gen)
        if decoder.time_s >= seconds and not NOTE_OFF_OFFSET <= token < TIME_SHIFT_OFFSET:
            break
        releasing = set(decoder.releasing)
        before_s = decoder.time_s
        events = decoder.feed(token)
        if decoder.time_s > seconds:  # a shift past the end: close everything at the end
            events = [e if e.time_s <= seconds else NoteEvent(False, e.pitch, 0, seconds) for e in events]
            events += decoder.finish_at(seconds)
            closed = [note_off(e.pitch) for e in events if not e.on and e.pitch not in releasing]
            fed = shift_tokens(round((seconds - before_s) / STEP_S)) + closed
            ctx.push(fed)
            yield AnswerStep(token, fed, events, seconds)
            return
        fed = [token]
        if TIME_SHIFT_OFFSET <= token < VELOCITY_OFFSET:  # notes closed by the cap: tell the model
            fed += [note_off(e.pitch) for e in events if not e.on and e.pitch not in releasing]
        logits = ctx.push(fed)
        yield AnswerStep(token, fed, events, decoder.time_s)
    events = decoder.finish()
    fed = [note_off(e.pitch) for e in events]
    ctx.push(fed)
    yield AnswerStep(-1, fed, events, decoder.time_s)


def sounding_after(ids: Sequence[int]) -> set[int]:
    """Pitches a token sequence leaves sounding (NOTE_ONs not yet followed by their NOTE_OFF)."""
    sounding: set[int] = set()
    for token in ids:
        if NOTE_ON_OFFSET <= token < NOTE_OFF_OFFSET:
            sounding.add(token - NOTE_ON_OFFSET)
        elif NOTE_OFF_OFFSET <= token < TIME_SHIFT_OFFSET:
            sounding.discard(token - NOTE_OFF_OFFSET)
    return sounding

"""Infilling examples: the model learns to write a gap that leads into what follows it.

A left-to-right model writing a gap sees only what came before. An infilling
example puts what follows the gap in front of the stream, after a FUTURE token
(the "fill in the middle" reordering of Bavarian et al. 2022; Thickstun et al.'s
anticipation interleaves the future instead):

    [STYLE, FUTURE, TIME_SHIFTs (the gap's length), what follows..., BOS, before the gap..., the gap]

so the gap is ordinary continuation of what precedes it, written by a model that
has just read what it must lead into and how long it has to get there. What
follows is encoded as it would be on its own: a NOTE_OFF whose NOTE_ON lies in
the gap is dropped (at inference the gap is empty). composer.model.infill builds
the same head for a model trained with these (`TransformerConfig.fim`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from composer.tokens import (
    BOS,
    FUTURE,
    NOTE_OFF_OFFSET,
    NOTE_ON_OFFSET,
    TIME_SHIFT_OFFSET,
    VELOCITY_OFFSET,
    shift_tokens,
)

SUFFIX_TOKENS = 64  # what follows the gap: at most this many tokens
MIN_GAP_STEPS = 50  # 0.5 s
MAX_GAP_STEPS = 800  # 8 s
MIN_PREFIX_TOKENS = 16


def future_head(gap_steps: int, following: Sequence[int], suffix_tokens: int = SUFFIX_TOKENS) -> list[int]:
    """[FUTURE, shifts of the gap's length, what follows (its first `suffix_tokens`)], for after the style token."""
    return [FUTURE, *shift_tokens(gap_steps), *without_orphan_offs(following)[:suffix_tokens]]


def without_orphan_offs(ids: Sequence[int]) -> list[int]:
    """`ids` without the NOTE_OFFs of pitches it never turned on (notes begun before it)."""
    on: set[int] = set()
    out = []
    for t in ids:
        t = int(t)
        if NOTE_ON_OFFSET <= t < NOTE_OFF_OFFSET:
            on.add(t - NOTE_ON_OFFSET)
        elif NOTE_OFF_OFFSET <= t < TIME_SHIFT_OFFSET and t - NOTE_OFF_OFFSET not in on:
            continue
        out.append(t)
    return out


def instants(window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indices, steps): where each instant's first event token is, and its time in 10 ms steps."""
    is_shift = (window >= TIME_SHIFT_OFFSET) & (window < VELOCITY_OFFSET)
    shift_steps = np.where(is_shift, window - TIME_SHIFT_OFFSET + 1, 0)
    steps_before = np.concatenate([[0], np.cumsum(shift_steps)[:-1]])
    first = ~is_shift & np.concatenate([[True], is_shift[:-1]])
    index = np.flatnonzero(first)
    return index, steps_before[index]


def fim_example(window: np.ndarray, rng: np.random.Generator, room: int) -> np.ndarray | None:
    """An infilling example of at most `room` tokens (the style token not counted) from a window of a piece's
    tokens, or None when the window has no gap of 0.5-8 s with room around it."""
    index, steps = instants(window)
    if len(index) < 3:
        return None
    a = int(rng.integers(1, len(index) - 1))  # the gap starts at an instant, never the window's first
    ends = np.flatnonzero((steps > steps[a] + MIN_GAP_STEPS - 1) & (steps <= steps[a] + MAX_GAP_STEPS))
    if len(ends) == 0:
        return None
    b = int(rng.choice(ends))
    start, end = int(index[a]), int(index[b])
    head = [*future_head(int(steps[b] - steps[a]), window[end:]), BOS]
    middle = window[start:end]
    keep = room - len(head) - len(middle)
    if keep < MIN_PREFIX_TOKENS:
        return None
    return np.concatenate([np.asarray(head, dtype=np.int64), window[max(0, start - keep) : start], middle])

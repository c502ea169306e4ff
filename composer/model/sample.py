"""Sampling from the Music Transformer, streaming notes as they come.

    model = load_model()                         # shipped weights, lazily
    for item in stream(model, primer_notes, SampleOptions(seconds=20, style="folk")):
        item.events   # NoteEvents (on/off, pitch, velocity, time_s from the continuation start)
    notes = generate_notes(model, primer_notes, options)   # the continuation only

The KV cache makes one step O(L*D) per layer; past the context a sliding
window re-primes the cache (style token kept first), so generation never
fails at the context length. Notes held past `max_note_s` are closed and a
NOTE_OFF is fed back to the model.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from composer.errors import ComposerError
from composer.keys import scale_pitch_classes
from composer.model.checkpoint import load_transformer
from composer.model.context import TokenContext
from composer.model.model import MusicTransformer
from composer.song import Note
from composer.tokens import (
    BOS,
    DEFAULT_MAX_NOTE_S,
    NOTE_OFF_OFFSET,
    NOTE_ON_OFFSET,
    STEP_S,
    STYLES,
    TIME_SHIFT_OFFSET,
    VELOCITY_END,
    VELOCITY_OFFSET,
    VOCAB_SIZE,
    NoteEvent,
    StreamDecoder,
    bin_to_velocity,
    encode,
    events_to_notes,
    note_off,
    style_token,
)

DEFAULT_MODEL_PATH = Path(__file__).resolve().parents[2] / "models" / "transformer" / "model.safetensors"
MAX_SECONDS = 600.0


@dataclass
class SampleOptions:
    seconds: float = 30.0  # length of the continuation
    style: str | None = None  # None: guessed from the primer, or drawn by the seed
    temperature: float = 1.0
    top_k: int = 0  # 0 = off
    top_p: float = 0.95  # 1.0 = off
    seed: int | None = None
    key: str | None = None  # e.g. "C:major": NOTE_ONs outside the scale are masked
    pitch_range: tuple[int, int] | None = None  # (low, high): NOTE_ONs outside are masked (an instrument's range)
    max_note_s: float = DEFAULT_MAX_NOTE_S

    def validate(self) -> None:
        if not (math.isfinite(self.seconds) and 0 < self.seconds <= MAX_SECONDS):
            raise ComposerError("--seconds", f"must be in (0, {MAX_SECONDS:g}], got {self.seconds}")
        if not (math.isfinite(self.temperature) and 0 < self.temperature <= 10):
            raise ComposerError("--temperature", f"must be in (0, 10], got {self.temperature}")
        if self.top_k < 0:
            raise ComposerError("--top-k", f"must be 0 (off) or positive, got {self.top_k}")
        if not (math.isfinite(self.top_p) and 0 < self.top_p <= 1):
            raise ComposerError("--top-p", f"must be in (0, 1], got {self.top_p}")
        if self.style is not None and self.style not in STYLES:
            raise ComposerError("--style", f"unknown style {self.style!r}; expected one of {', '.join(STYLES)}")
        if self.key is not None:
            scale_pitch_classes(self.key)
        if self.pitch_range is not None:
            low, high = self.pitch_range
            if not 0 <= low <= high <= 127:
                raise ComposerError("pitch_range", f"must be 0 <= low <= high <= 127, got {low}..{high}")
            if self.key is not None and not any(p % 12 in scale_pitch_classes(self.key) for p in range(low, high + 1)):
                raise ComposerError("--key", f"{self.key} has no note in {low}..{high}")
        if not (math.isfinite(self.max_note_s) and STEP_S <= self.max_note_s <= MAX_SECONDS):
            raise ComposerError("max_note_s", f"must be in [{STEP_S}, {MAX_SECONDS:g}] seconds, got {self.max_note_s}")


@dataclass
class StreamItem:
    token: int
    events: list[NoteEvent]  # times in seconds from the continuation start
    progress: float  # 0..1 of the requested seconds


def load_model(path: str | Path | None = None, device: str = "cpu") -> MusicTransformer:
    """The shipped co-composer (or `path`); ComposerError when missing or mismatched."""
    path = Path(path) if path is not None else DEFAULT_MODEL_PATH
    if not path.exists():
        raise ComposerError(path, "transformer weights not found; train with `composer train transformer --export`")
    model, _ = load_transformer(path, device)
    model.decode_int8 = torch.device(device).type == "cpu"  # ~2x the cached step on CPU; see composer/model/step.py
    return model


def token_mask(key: str | None, pitch_range: tuple[int, int] | None = None) -> torch.Tensor:
    """(VOCAB_SIZE,) bool: True where a token may be sampled (NOTE_ONs in the key and the range)."""
    allowed = torch.zeros(VOCAB_SIZE, dtype=torch.bool)
    allowed[NOTE_ON_OFFSET:VELOCITY_END] = True  # specials, style tokens and FUTURE are never sampled
    if pitch_range is not None:
        low, high = pitch_range
        allowed[NOTE_ON_OFFSET : NOTE_ON_OFFSET + low] = False
        allowed[NOTE_ON_OFFSET + high + 1 : NOTE_OFF_OFFSET] = False
    if key is not None:
        pitch_classes = scale_pitch_classes(key)
        for pitch in range(128):
            if pitch % 12 not in pitch_classes:
                allowed[NOTE_ON_OFFSET + pitch] = False
    return allowed


NUCLEUS_CANDIDATES = 48  # top-p looks at the likeliest 48 first; the full sort only when they are not enough
_NUCLEUS_MARGIN = 1e-6  # far above the float rounding of a cumulative sum of probabilities


def sample_next(logits: torch.Tensor, options: SampleOptions, allowed: torch.Tensor, gen: torch.Generator) -> int:
    """One id from logits (VOCAB_SIZE,) with temperature, top-k and top-p.

    The same id for the same generator state as the plain recipe (divide,
    mask, top-k, softmax, full descending sort, keep while the mass before a
    token is below top_p, torch.multinomial), in fewer ops: see _nucleus and
    _draw.
    """
    logits = logits.float()
    if options.temperature != 1.0:  # x / 1.0 is x exactly
        logits = logits / options.temperature
    logits = torch.where(allowed, logits, -math.inf)
    if options.top_k > 0:
        kth = torch.topk(logits, min(options.top_k, logits.numel())).values[-1]
        logits = logits.masked_fill(logits < kth, -math.inf)
    probs = torch.softmax(logits, dim=-1)
    if options.top_p < 1.0:
        probs = _nucleus(probs, options.top_p)
    return _draw(probs, gen)


def _nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    """probs with everything outside the top-p nucleus zeroed.

    The nucleus is the first tokens of the descending order whose mass before
    them is below top_p. The likeliest NUCLEUS_CANDIDATES (torch.topk: the
    sort's first values, so the same cumulative sums) settle it when their
    mass passes top_p, the kept ones are a prefix, and the last kept is
    strictly above the first dropped (a tie across the edge would make the
    kept ids depend on the sort's order of equal values): then the nucleus is
    every token at least as likely as the last kept. Otherwise the full sort.
    """
    k = min(NUCLEUS_CANDIDATES, probs.numel())
    values = torch.topk(probs, k, sorted=True).values
    cum = torch.cumsum(values, 0)
    keep = (cum - values < top_p).tolist()
    m = keep.index(False) if False in keep else k
    if m < k and cum[-1].item() >= top_p + _NUCLEUS_MARGIN and not any(keep[m:]):
        edge = values[m - 1 : m + 1].tolist()
        if edge[0] > edge[1]:
            return torch.where(probs >= edge[0], probs, 0.0)
    sorted_probs, order = torch.sort(probs, descending=True)
    keep = torch.cumsum(sorted_probs, 0) - sorted_probs < top_p  # always keeps the top one
    return torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])


def _draw(probs: torch.Tensor, gen: torch.Generator) -> int:
    """torch.multinomial(probs, 1, generator=gen) without its input checks:
    the same exponential race (argmax of probs / Exp(1) draws, as ATen does
    for one sample), so the same id and the same generator state after."""
    race = torch.empty_like(probs).exponential_(1, generator=gen)
    return int(torch.div(probs, race, out=race).argmax())


@torch.no_grad()
def guess_style(model: MusicTransformer, primer_ids: Sequence[int]) -> str:
    """The style under which the model finds the primer most likely."""
    ids = list(primer_ids)[-(model.cfg.max_len - 2) :]
    best, best_nll = STYLES[0], float("inf")
    for style in STYLES:
        seq = torch.tensor([[style_token(style), BOS, *ids]])
        logits, _ = model(seq[:, :-1])
        nll = torch.nn.functional.cross_entropy(logits[0].float(), seq[0, 1:]).item()
        if nll < best_nll:
            best, best_nll = style, nll
    return best


@torch.no_grad()
def stream(
    model: MusicTransformer,
    primer: Sequence[Note] = (),
    options: SampleOptions | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[StreamItem]:
    """Yield sampled tokens with the note events they complete, until
    `options.seconds` of continuation exist (or `cancel` is set)."""
    options = options or SampleOptions()
    options.validate()
    model.eval()
    # torch.seed() would reseed the global generator: draw a fresh seed without touching it.
    seed = options.seed if options.seed is not None else secrets.randbits(31)
    gen = torch.Generator().manual_seed(seed)
    primer_ids = encode(primer, options.max_note_s)
    if options.style is not None:
        style = options.style
    elif primer_ids:
        style = guess_style(model, primer_ids)
    else:
        style = STYLES[int(torch.randint(0, len(STYLES) - 1, (1,), generator=gen))]  # any but "other"
    max_primer = model.cfg.max_len - 2  # room for style, BOS
    ctx = TokenContext(model, [style_token(style), BOS, *primer_ids[-max_primer:]])

    decoder = StreamDecoder(start_s=0.0, max_note_s=options.max_note_s)
    velocities = [t for t in primer_ids if VELOCITY_OFFSET <= t < VELOCITY_END]
    if velocities:  # a NOTE_ON before any SET_VELOCITY plays at the primer's last velocity, as in training
        decoder.velocity = bin_to_velocity(velocities[-1] - VELOCITY_OFFSET)
    allowed = token_mask(options.key, options.pitch_range)
    logits = ctx.logits
    max_tokens = int(options.seconds * 400) + 1000  # a guard far above any real density
    for _ in range(max_tokens):
        if cancel is not None and cancel.is_set():
            break
        token = sample_next(logits, options, allowed, gen)
        if decoder.time_s >= options.seconds and not NOTE_OFF_OFFSET <= token < NOTE_OFF_OFFSET + 128:
            break  # length reached: only the offs at this instant still count
        releasing = set(decoder.releasing)  # closed by the model's own NOTE_OFFs
        events = decoder.feed(token)
        if decoder.time_s > options.seconds:
            events = [
                e if e.time_s <= options.seconds else NoteEvent(False, e.pitch, 0, options.seconds) for e in events
            ]
            events += decoder.finish_at(options.seconds)
            yield StreamItem(token, events, 1.0)
            return
        logits = ctx.push(token)
        if TIME_SHIFT_OFFSET <= token < VELOCITY_OFFSET:
            for event in events:  # a note closed by the cap: tell the model, once
                if not event.on and event.pitch not in releasing:
                    logits = ctx.push(note_off(event.pitch))
        yield StreamItem(token, events, min(decoder.time_s / options.seconds, 1.0))
    yield StreamItem(-1, decoder.finish(), 1.0)


def generate_notes(
    model: MusicTransformer,
    primer: Sequence[Note] = (),
    options: SampleOptions | None = None,
    cancel: threading.Event | None = None,
    progress=None,
) -> list[Note]:
    """The continuation as notes, placed after the primer's end (absolute seconds)."""
    options = options or SampleOptions()
    offset_s = round(max((n.end_s for n in primer), default=0.0) / 0.01) * 0.01
    events: list[NoteEvent] = []
    reported = None
    for item in stream(model, primer, options, cancel):
        events.extend(item.events)
        if progress is not None and item.progress != reported:  # it moves only on TIME_SHIFTs: a third of the ids
            progress(reported := item.progress)
    notes = events_to_notes(events)
    return [Note(n.pitch, n.velocity, n.start_s + offset_s, n.end_s + offset_s) for n in notes]

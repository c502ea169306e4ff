"""Sampling from the co-composer: determinism, key mask, streaming, length, caps, sliding window, options."""

from __future__ import annotations

import itertools
import math
import threading

import pytest
import torch

from composer.errors import ComposerError
from composer.keys import scale_pitch_classes
from composer.model.context import TokenContext
from composer.model.model import MusicTransformer, TransformerConfig
from composer.model.sample import SampleOptions, generate_notes, guess_style, stream, token_mask
from composer.song import Note
from composer.tokens import (
    BOS,
    FUTURE,
    NOTE_OFF_OFFSET,
    NOTE_ON_OFFSET,
    STEP_S,
    STYLES,
    TIME_SHIFT_OFFSET,
    VELOCITY_END,
    VELOCITY_OFFSET,
    VOCAB_SIZE,
    encode,
    events_to_notes,
    note_off,
    note_on,
    style_token,
    time_shift,
)


def tiny_model(max_len: int = 64, seed: int = 0) -> MusicTransformer:
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=max_len, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0)
    return MusicTransformer(cfg).eval()


class RecordingTransformer(MusicTransformer):
    """The real model, remembering every input it is given (to see what the sampler feeds it),
    with an optional fixed logit bias that steers it towards chosen tokens."""

    def __init__(self, cfg: TransformerConfig, favoured: dict[int, float] | None = None) -> None:
        super().__init__(cfg)
        self.calls: list[tuple[list[int], bool]] = []  # (ids of row 0, had a cache)
        self.bias = torch.zeros(cfg.vocab_size)
        for token, logit in (favoured or {}).items():
            self.bias[token] = logit

    def forward(self, ids, cache=None):
        self.calls.append((ids[0].tolist(), cache is not None))
        logits, cache = super().forward(ids, cache)
        return logits + self.bias, cache

    def fed_after_prime(self) -> list[int]:
        """The tokens pushed one at a time after the first prime (a re-prime ends with the pushed one)."""
        return [ids[0] if cached else ids[-1] for ids, cached in self.calls[1:]]


def recording_model(max_len: int = 64, favoured: dict[int, float] | None = None) -> RecordingTransformer:
    base = tiny_model(max_len)
    model = RecordingTransformer(base.cfg, favoured).eval()
    model.load_state_dict(base.state_dict())
    return model


@pytest.fixture(scope="module")
def model() -> MusicTransformer:
    torch.set_num_threads(1)
    return tiny_model()


def primer_notes(n: int = 24) -> list[Note]:
    return [Note(60 + (i * 5) % 12, 90, i * 0.25, i * 0.25 + 0.2) for i in range(n)]


def items_of(model, primer=(), cancel=None, **options):
    return list(stream(model, primer, SampleOptions(**options), cancel))


def sampled_tokens(items) -> list[int]:
    return [item.token for item in items if item.token >= 0]


def test_same_seed_same_notes_other_seed_differs(model):
    a = generate_notes(model, (), SampleOptions(seconds=6, style="folk", seed=7))
    b = generate_notes(model, (), SampleOptions(seconds=6, style="folk", seed=7))
    c = generate_notes(model, (), SampleOptions(seconds=6, style="folk", seed=8))
    assert a and a == b
    assert a != c


def test_seedless_sampling_leaves_the_global_generator_alone(model):
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    generate_notes(model, (), SampleOptions(seconds=1, style="folk"))
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("key", ["C:major", "F#:minor", "Bb:dorian", "e:harmonic-minor"])
def test_key_masks_every_note_on_outside_the_scale(model, key):
    allowed = token_mask(key)
    scale = scale_pitch_classes(key)
    assert allowed[NOTE_ON_OFFSET : NOTE_ON_OFFSET + 128].sum() == sum(1 for p in range(128) if p % 12 in scale)
    assert allowed[NOTE_OFF_OFFSET:VELOCITY_END].all() and not allowed[FUTURE] and not allowed[:NOTE_ON_OFFSET].any()
    ons = []
    for seed in range(3):
        tokens = sampled_tokens(items_of(model, seconds=12, style="chorale", seed=seed, key=key))
        ons += [t - NOTE_ON_OFFSET for t in tokens if NOTE_ON_OFFSET <= t < NOTE_OFF_OFFSET]
    assert len(ons) > 20
    assert {p % 12 for p in ons} <= scale


def test_pitch_range_masks_every_note_on_outside_it_and_holds_with_a_key(model):
    allowed = token_mask(None, (28, 67))  # a bass guitar's range
    assert allowed[NOTE_ON_OFFSET : NOTE_ON_OFFSET + 128].nonzero().flatten().tolist() == list(range(28, 68))
    assert allowed[NOTE_OFF_OFFSET:VELOCITY_END].all() and not allowed[FUTURE]
    both = token_mask("C:major", (28, 67))[NOTE_ON_OFFSET : NOTE_ON_OFFSET + 128].nonzero().flatten().tolist()
    assert both == [p for p in range(28, 68) if p % 12 in scale_pitch_classes("C:major")]
    ons = []
    for seed in range(6):  # an untrained model: 13 allowed NOTE_ONs are a small part of its mass
        tokens = sampled_tokens(items_of(model, seconds=12, style="folk", seed=seed, pitch_range=(28, 40)))
        ons += [t - NOTE_ON_OFFSET for t in tokens if NOTE_ON_OFFSET <= t < NOTE_OFF_OFFSET]
    assert len(ons) >= 8 and min(ons) >= 28 and max(ons) <= 40


def test_stream_is_time_ordered_and_equals_generate_notes(model):
    primer = primer_notes()
    options = dict(seconds=5, style="renaissance", seed=3)
    items = items_of(model, primer, **options)
    events = [e for item in items for e in item.events]
    times = [e.time_s for e in events]
    assert times == sorted(times) and times[0] >= 0
    offset_s = 24 * 0.25 - 0.05  # the primer's last note ends at 5.95 s
    notes = generate_notes(model, primer, SampleOptions(**options))
    shifted = [Note(n.pitch, n.velocity, n.start_s - offset_s, n.end_s - offset_s) for n in notes]
    expected = events_to_notes(events)
    assert len(shifted) == len(expected) > 0
    for got, want in zip(shifted, expected, strict=True):
        assert (got.pitch, got.velocity) == (want.pitch, want.velocity)
        assert got.start_s == pytest.approx(want.start_s, abs=1e-9)
        assert got.end_s == pytest.approx(want.end_s, abs=1e-9)


def test_progress_is_monotone_and_ends_at_one(model):
    reported: list[float] = []
    generate_notes(model, (), SampleOptions(seconds=4, style="folk", seed=1), progress=reported.append)
    assert len(reported) > 5
    assert all(0 <= p <= 1 for p in reported)
    assert reported == sorted(reported) and reported[-1] == 1.0
    assert reported[0] < 0.5


@pytest.mark.parametrize("seconds", [0.35, 1.0, 2.57, 7.0])
def test_continuation_never_runs_past_the_requested_seconds(model, seconds):
    for seed in range(4):
        notes = generate_notes(model, (), SampleOptions(seconds=seconds, style="medieval", seed=seed))
        assert all(n.end_s <= seconds + 1e-9 for n in notes)
        assert all(n.duration_s >= STEP_S - 1e-9 for n in notes)  # no zero-length notes at the cut
    primer = primer_notes(8)
    end_s = max(n.end_s for n in primer)
    notes = generate_notes(model, primer, SampleOptions(seconds=seconds, style="medieval", seed=0))
    assert all(end_s - 1e-9 <= n.start_s and n.end_s <= end_s + seconds + 1e-9 for n in notes)


def test_notes_are_never_held_past_max_note_s(model):
    cap_s = 0.3
    durations = []
    for seed in range(4):
        notes = generate_notes(model, (), SampleOptions(seconds=6, style="folk", seed=seed, max_note_s=cap_s))
        durations += [n.duration_s for n in notes]
    assert max(durations) <= cap_s + 1e-9
    assert sum(d >= cap_s - 1e-9 for d in durations) > 5  # a random model rarely closes a note itself


def test_the_model_is_told_about_cap_closed_notes_and_nothing_else():
    """Each note the cap closes is fed back as one NOTE_OFF; a note the model closed itself is not,
    even when it closed it in its onset step (the decoder releases such a note one step later)."""
    favoured = {note_on(60): 5.0, note_off(60): 6.0, note_on(64): 4.0, time_shift(1): 4.0, time_shift(50): 4.0}
    model = recording_model(favoured=favoured)
    cap_s = 0.3
    items = items_of(model, seconds=12, style="folk", seed=5, max_note_s=cap_s)
    sampled = sampled_tokens(items)
    same_step_releases = sum(
        1 for a, b in zip(sampled, sampled[1:], strict=False) if a == note_on(60) and b == note_off(60)
    )
    assert same_step_releases > 3
    fed = model.fed_after_prime()
    extra = list(fed)
    for token in sampled[:-1]:  # the last sampled token ends the piece and is never fed
        extra.remove(token)
    notes = events_to_notes(e for item in items for e in item.events)
    # a note the cap closes inside the last TIME_SHIFT (the one that reaches 12 s) is never told: sampling ends
    told_until_s = STEP_S * sum(
        t - TIME_SHIFT_OFFSET + 1 for t in sampled[:-1] if TIME_SHIFT_OFFSET <= t < VELOCITY_OFFSET
    )
    capped = [n for n in notes if n.duration_s >= cap_s - 1e-9 and n.end_s <= told_until_s + 1e-9]
    assert len(capped) > 3
    assert all(NOTE_OFF_OFFSET <= t < TIME_SHIFT_OFFSET for t in extra)
    assert sorted(t - NOTE_OFF_OFFSET for t in extra) == sorted(n.pitch for n in capped)


def test_generation_runs_past_the_context_and_reprimes_exactly():
    model = tiny_model(max_len=32)
    items = items_of(model, seconds=30, style="classical", seed=2)
    assert len(sampled_tokens(items)) > 100
    assert items[-1].progress == 1.0

    prefix = [style_token("classical"), BOS]
    ctx = TokenContext(model, prefix)
    history = list(prefix)
    gen = torch.Generator().manual_seed(0)
    reprimes = 0
    for _ in range(120):
        token = int(torch.randint(NOTE_ON_OFFSET, VOCAB_SIZE, (1,), generator=gen))
        history.append(token)
        logits = ctx.push(token)
        if len(ctx.tokens) < len(history) and ctx.tokens[1:] == history[-15:]:
            reprimes += 1  # a fresh window: the style token, then the most recent 32 // 2 - 1 tokens
        assert ctx.tokens[0] == style_token("classical")
        assert ctx.tokens[1:] == history[-(len(ctx.tokens) - 1) :]
        assert len(ctx.tokens) <= 32 and ctx.cache.length == len(ctx.tokens)
        full, _ = model(torch.tensor([ctx.tokens]))
        assert torch.allclose(logits, full[0, -1], atol=1e-5)
    assert reprimes >= 6


def test_a_primer_longer_than_the_context_is_cut_to_its_end():
    model = recording_model(max_len=32)
    primer = primer_notes(40)
    primer_ids = encode(primer)
    assert len(primer_ids) > 100
    notes = generate_notes(model, primer, SampleOptions(seconds=2, style="folk", seed=0))
    first_input, had_cache = model.calls[0]
    assert not had_cache
    assert first_input == [style_token("folk"), BOS, *primer_ids[-30:]]
    assert all(n.start_s >= max(p.end_s for p in primer) - 1e-9 for n in notes)


def test_the_primer_velocity_carries_into_the_continuation(model):
    """A NOTE_ON before any SET_VELOCITY plays at the primer's last velocity."""
    loud = [Note(60, 120, 0.0, 0.5), Note(62, 120, 0.5, 1.0)]
    checked = 0
    for seed in range(8):
        items = items_of(model, loud, seconds=3, style="folk", seed=seed)
        tokens = sampled_tokens(items)
        first_on = next(i for i, t in enumerate(tokens) if NOTE_ON_OFFSET <= t < NOTE_OFF_OFFSET)
        if any(t >= VELOCITY_OFFSET for t in tokens[:first_on]):
            continue  # the model set its own velocity first
        first_event = next(e for item in items for e in item.events if e.on)
        assert first_event.velocity == 122  # the middle of 120's velocity bin
        checked += 1
    assert checked >= 3


def test_cancel_stops_the_stream(model):
    cancel = threading.Event()
    seen = []
    for item in stream(model, (), SampleOptions(seconds=600, style="folk", seed=0), cancel):
        seen.append(item)
        if len(seen) == 5:
            cancel.set()
    assert len(seen) == 6  # five, then the one that closes what still sounds
    assert seen[-1].token == -1
    uncancelled = list(itertools.islice(stream(model, (), SampleOptions(seconds=600, style="folk", seed=0)), 50))
    assert [item.token for item in uncancelled[:5]] == [item.token for item in seen[:5]]
    assert uncancelled[5].token >= 0


def test_top_k_one_is_greedy_whatever_the_seed(model):
    runs = [sampled_tokens(items_of(model, seconds=2, style="folk", seed=s, top_k=1, top_p=1.0)) for s in (1, 2)]
    assert runs[0] == runs[1]
    ctx = TokenContext(model, [style_token("folk"), BOS])
    logits = ctx.logits.masked_fill(~token_mask(None), float("-inf"))
    assert runs[0][0] == int(torch.argmax(logits))
    tiny_p = sampled_tokens(items_of(model, seconds=2, style="folk", seed=3, top_p=1e-6))
    assert tiny_p == runs[0]


def test_top_p_tiny_keeps_only_the_top_token(model):
    from composer.model.sample import sample_next

    logits = torch.randn(VOCAB_SIZE, generator=torch.Generator().manual_seed(0))
    allowed = token_mask(None)
    top = int(torch.argmax(logits.masked_fill(~allowed, float("-inf"))))
    gen = torch.Generator().manual_seed(0)
    draws = {sample_next(logits, SampleOptions(top_p=1e-4), allowed, gen) for _ in range(50)}
    assert draws == {top}
    wide = {sample_next(logits, SampleOptions(top_p=1.0), allowed, gen) for _ in range(50)}
    assert len(wide) > 10


@pytest.mark.parametrize(
    ("overrides", "option"),
    [
        (dict(seconds=-1.0), "--seconds"),
        (dict(seconds=0.0), "--seconds"),
        (dict(seconds=math.inf), "--seconds"),
        (dict(top_p=0.0), "--top-p"),
        (dict(top_p=1.5), "--top-p"),
        (dict(temperature=math.nan), "--temperature"),
        (dict(temperature=0.0), "--temperature"),
        (dict(top_k=-1), "--top-k"),
        (dict(style="jazz"), "--style"),
        (dict(key="H:major"), "--key"),
        (dict(key="C:lydian-ish"), "--key"),
        (dict(key="Cx:major"), "--key"),
        (dict(key=""), "--key"),
        (dict(max_note_s=0.0), "max_note_s"),
        (dict(max_note_s=math.nan), "max_note_s"),
        (dict(pitch_range=(60, 50)), "pitch_range"),
        (dict(pitch_range=(-1, 50)), "pitch_range"),
        (dict(pitch_range=(61, 61), key="C:major"), "--key"),  # C# only: no note of C major
    ],
)
def test_bad_options_raise_composer_error(model, overrides, option):
    with pytest.raises(ComposerError) as info:
        SampleOptions(**overrides).validate()
    assert info.value.path == option
    with pytest.raises(ComposerError):
        next(stream(model, (), SampleOptions(**overrides)))


def test_guess_style_returns_a_known_style(model):
    assert guess_style(model, encode(primer_notes())) in STYLES
    items = items_of(model, primer_notes(), seconds=1, seed=0)  # style guessed from the primer
    assert items[-1].progress == 1.0


def test_a_continuation_is_not_an_echo_of_its_primer(model):
    primer = primer_notes()
    notes = generate_notes(model, primer, SampleOptions(seconds=6, style="folk", seed=0))
    offset_s = max(n.end_s for n in primer)
    shifted = [Note(n.pitch, n.velocity, n.start_s - offset_s, n.end_s - offset_s) for n in notes]
    assert encode(shifted)[:20] != encode(primer)[:20]

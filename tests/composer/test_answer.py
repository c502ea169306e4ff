"""The incremental context gives the full pass's logits; answers start with a note, keep the key, end closed."""

import pytest
import torch

from composer.keys import scale_pitch_classes
from composer.model.answer import answer_steps, sounding_after
from composer.model.context import TokenContext
from composer.model.model import MusicTransformer, TransformerConfig
from composer.model.sample import SampleOptions
from composer.tokens import (
    BOS,
    NOTE_OFF_OFFSET,
    NOTE_ON_OFFSET,
    VELOCITY_OFFSET,
    VOCAB_SIZE,
    events_to_notes,
    note_off,
    note_on,
    style_token,
    time_shift,
)


@pytest.fixture(scope="module")
def model() -> MusicTransformer:
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=64, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    return MusicTransformer(cfg).eval()


PHRASE = [VELOCITY_OFFSET + 20, note_on(60), time_shift(30), note_off(60), note_on(64), time_shift(20)]


def test_pushing_a_few_at_a_time_matches_one_full_pass(model):
    ctx = TokenContext.for_style(model, "folk")
    ctx.push(PHRASE[:1])
    ctx.push(PHRASE[1:4])
    ctx.push(PHRASE[4:])
    with torch.no_grad():
        full, _ = model(torch.tensor([[style_token("folk"), BOS, *PHRASE]]))
    assert ctx.tokens == [style_token("folk"), BOS, *PHRASE]
    assert torch.allclose(ctx.logits, full[0, -1], atol=1e-5)
    assert ctx.velocity_bin == 20


def test_fork_leaves_the_original_alone(model):
    ctx = TokenContext.for_style(model, "folk")
    ctx.push(PHRASE)
    before = (list(ctx.tokens), ctx.logits.clone(), ctx.length)
    branch = ctx.fork()
    branch.push([note_on(67), time_shift(5)])
    assert (ctx.tokens, ctx.length) == (before[0], before[2])
    assert torch.equal(ctx.logits, before[1])
    assert branch.length == ctx.length + 2


def test_context_re_primes_past_its_length(model):
    ctx = TokenContext.for_style(model, "chorale")
    for _ in range(40):
        ctx.push([note_on(60), time_shift(10)])
    assert ctx.length <= model.cfg.max_len
    assert ctx.tokens[0] == style_token("chorale")
    ctx.make_room(40)
    assert ctx.length + 40 <= model.cfg.max_len


@pytest.mark.parametrize("key", [None, "D:major", "F#:minor"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_answer_starts_with_a_note_keeps_the_key_and_ends_closed(model, key, seed):
    ctx = TokenContext.for_style(model, "folk")
    ctx.push(PHRASE)
    start = len(ctx.tokens)
    steps = list(answer_steps(ctx, SampleOptions(key=key, seed=seed), seconds=2.0))
    assert NOTE_ON_OFFSET <= steps[0].token < NOTE_OFF_OFFSET
    assert steps[0].events[0].on and steps[0].events[0].time_s == 0.0
    assert steps[0].events[0].velocity == 82  # the phrase's last velocity (bin 20) carries on
    events = [e for s in steps for e in s.events]
    notes = events_to_notes(events)
    assert len(notes) == sum(e.on for e in events)  # every note closed
    assert all(0 <= n.start_s < n.end_s <= 2.0 for n in notes)
    if key is not None:
        assert {n.pitch % 12 for n in notes} <= scale_pitch_classes(key)
    times = [s.time_s for s in steps]
    assert times == sorted(times) and times[-1] <= 2.0
    assert ctx.tokens[start:] == [i for s in steps for i in s.fed]  # the context holds what was fed
    assert sounding_after(ctx.tokens[start:]) == set()


def test_same_seed_same_answer(model):
    def run():
        ctx = TokenContext.for_style(model, "folk")
        ctx.push(PHRASE)
        return [s.token for s in answer_steps(ctx, SampleOptions(seed=7), seconds=1.0)]

    assert run() == run()


def test_sounding_after():
    assert sounding_after([note_on(60), note_on(62), note_off(60), time_shift(3)]) == {62}

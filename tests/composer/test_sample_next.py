"""sample_next's fast top-p and draw give the id the plain recipe gives, for the same generator state."""

from __future__ import annotations

import pytest
import torch

from composer.model.sample import NUCLEUS_CANDIDATES, SampleOptions, _draw, _nucleus, sample_next, token_mask
from composer.tokens import VOCAB_SIZE


def plain_sample_next(logits: torch.Tensor, options: SampleOptions, allowed: torch.Tensor, gen: torch.Generator) -> int:
    """The recipe written out: divide, mask, top-k, softmax, full sort, cumulative mass, multinomial."""
    logits = logits.float() / options.temperature
    logits = logits.masked_fill(~allowed, float("-inf"))
    if options.top_k > 0:
        kth = torch.topk(logits, min(options.top_k, VOCAB_SIZE)).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if options.top_p < 1.0:
        probs = plain_nucleus(probs, options.top_p)
    return int(torch.multinomial(probs, 1, generator=gen).item())


def plain_nucleus(probs: torch.Tensor, top_p: float) -> torch.Tensor:
    sorted_probs, order = torch.sort(probs, descending=True)
    keep = torch.cumsum(sorted_probs, 0) - sorted_probs < top_p
    return torch.zeros_like(probs).scatter(0, order[keep], sorted_probs[keep])


def random_logits(i: int, gen: torch.Generator) -> torch.Tensor:
    logits = torch.randn(VOCAB_SIZE, generator=gen) * (0.5, 1.0, 2.0, 4.0, 8.0)[i % 5]
    if i % 2:  # the int8 head's products are bf16: equal logits are common
        logits = logits.to(torch.bfloat16).float()
    if i % 7 == 0:  # many equal logits
        logits = torch.round(logits)
    return logits


OPTIONS = [
    SampleOptions(),
    SampleOptions(top_p=0.9, temperature=0.8),
    SampleOptions(top_p=0.5),
    SampleOptions(top_p=0.999),
    SampleOptions(top_p=1e-6),
    SampleOptions(top_k=20),
    SampleOptions(top_k=5, top_p=0.9),
    SampleOptions(top_p=1.0, temperature=1.3),
    SampleOptions(temperature=3.0),
]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: f"T{o.temperature}-k{o.top_k}-p{o.top_p}")
@pytest.mark.parametrize("masked", [False, True])
def test_the_same_id_and_generator_state_as_the_plain_recipe(options, masked):
    allowed = token_mask("C:major", (40, 80)) if masked else token_mask(None)
    data = torch.Generator().manual_seed(7)
    fast_gen, plain_gen = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    for i in range(400):
        logits = random_logits(i, data)
        assert sample_next(logits, options, allowed, fast_gen) == plain_sample_next(logits, options, allowed, plain_gen)
    assert torch.equal(fast_gen.get_state(), plain_gen.get_state())


def test_the_nucleus_is_the_full_sorts_nucleus_value_for_value():
    data = torch.Generator().manual_seed(3)
    for i in range(3000):
        logits = random_logits(i, data) * (1.0, 2.0, 4.0)[i % 3]
        logits[:9] = float("-inf")
        probs = torch.softmax(logits, 0)
        top_p = (0.95, 0.9, 0.5, 0.99, 1e-6, 0.3)[i % 6]
        assert torch.equal(_nucleus(probs, top_p), plain_nucleus(probs, top_p))


def test_a_tie_across_the_edge_and_a_flat_distribution_take_the_full_sort():
    # one likely token, then 20 equal ones: the nucleus edge (0.95) falls inside the tie
    probs = torch.zeros(VOCAB_SIZE)
    probs[100] = 0.5
    probs[200:220] = 0.5 / 20
    kept = _nucleus(probs, 0.95)
    assert torch.equal(kept, plain_nucleus(probs, 0.95))
    assert kept[100] == 0.5 and 0 < int((kept[200:220] > 0).sum()) < 20  # part of the tie, as the sort ordered it
    flat = torch.full((VOCAB_SIZE,), 1.0 / VOCAB_SIZE)  # the nucleus is far more than the candidates
    kept = _nucleus(flat, 0.95)
    assert torch.equal(kept, plain_nucleus(flat, 0.95))
    assert int((kept > 0).sum()) > NUCLEUS_CANDIDATES


def test_the_draw_is_torch_multinomial():
    data = torch.Generator().manual_seed(5)
    fast_gen, plain_gen = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    for i in range(2000):
        probs = torch.softmax(random_logits(i, data), 0)
        if i % 3 == 0:
            probs = plain_nucleus(probs, 0.9)
        assert _draw(probs, fast_gen) == int(torch.multinomial(probs, 1, generator=plain_gen))
    assert torch.equal(fast_gen.get_state(), plain_gen.get_state())

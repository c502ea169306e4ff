"""The fused single-token step gives the full pass's logits, and forks stay independent."""

from __future__ import annotations

import pytest
import torch

from composer.model.context import TokenContext
from composer.model.model import MusicTransformer, TransformerConfig
from composer.model.step import StepCache


@pytest.mark.parametrize("relative", [True, False])
def test_steps_match_the_full_pass(relative):
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=50, max_len=24, n_layer=2, n_head=2, d_model=16, d_ff=32, relative=relative)
    model = MusicTransformer(cfg).eval()
    ids = torch.randint(0, 50, (24,)).tolist()
    with torch.inference_mode():
        full, _ = model(torch.tensor([ids]))
        cache, logits = StepCache.from_prefix(model, ids[:3])
        assert torch.allclose(logits, full[0, 2], atol=1e-5)
        for i in range(3, 20):
            assert torch.allclose(cache.step(ids[i]), full[0, i], atol=1e-5)
        assert torch.allclose(cache.extend(ids[20:]), full[0, -1], atol=1e-5)
        assert cache.length == 24
        with pytest.raises(ValueError):
            cache.step(1)


def test_a_fork_is_not_written_by_its_parent():
    torch.manual_seed(1)
    cfg = TransformerConfig(vocab_size=50, max_len=32, n_layer=1, n_head=2, d_model=16, d_ff=32)
    model = MusicTransformer(cfg).eval()
    ctx = TokenContext(model, [1, 2, 3])
    branch = ctx.fork()
    a = ctx.push(7).clone()
    b = branch.push(9).clone()
    assert torch.allclose(TokenContext(model, [1, 2, 3, 7]).logits, a, atol=1e-5)
    assert torch.allclose(TokenContext(model, [1, 2, 3, 9]).logits, b, atol=1e-5)
    assert torch.allclose(ctx.push(5), TokenContext(model, [1, 2, 3, 7, 5]).logits, atol=1e-5)


def test_the_int8_step_stays_close_to_fp32():
    torch.manual_seed(2)
    cfg = TransformerConfig(vocab_size=50, max_len=32, n_layer=2, n_head=2, d_model=32, d_ff=64)
    model = MusicTransformer(cfg).eval()
    ids = torch.randint(0, 50, (32,)).tolist()
    with torch.inference_mode():
        full, _ = model(torch.tensor([ids]))
        quant = StepCache(model, int8=True)
        quant.extend(ids[:1])
        for i in range(1, 32):
            got = quant.step(ids[i])
            assert (got - full[0, i]).abs().max() < 0.05 * full[0, i].abs().max()

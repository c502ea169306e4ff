"""Music Transformer: skewed relative attention, KV cache, checkpoints."""

import pytest
import torch

from composer.errors import ComposerError
from composer.model.checkpoint import load_transformer, save_transformer
from composer.model.model import KVCache, MusicTransformer, TransformerConfig, relative_logits_direct, skew


def tiny_config(**overrides) -> TransformerConfig:
    base = dict(vocab_size=40, max_len=32, n_layer=2, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    return TransformerConfig(**(base | overrides))


def direct_relative(q: torch.Tensor, rel_emb: torch.Tensor) -> torch.Tensor:
    """q_i . r_(j-i) for j <= i by plain loops (the definition)."""
    B, H, L, _ = q.shape
    max_len = rel_emb.shape[1]
    out = torch.zeros(B, H, L, L)
    for i in range(L):
        for j in range(i + 1):
            out[:, :, i, j] = (q[:, :, i] * rel_emb[:, max_len - 1 + (j - i)]).sum(-1)
    return out


@pytest.mark.parametrize("length", [1, 5, 17, 32])
def test_skew_equals_direct_relative_scores(length):
    torch.manual_seed(length)
    q = torch.randn(3, 2, length, 8)
    rel_emb = torch.randn(2, 32, 8)
    skewed = skew(torch.einsum("bhqd,hkd->bhqk", q, rel_emb[:, 32 - length :]))
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    expected = direct_relative(q, rel_emb)
    assert torch.allclose(skewed[..., causal], expected[..., causal], atol=1e-5)
    gathered = relative_logits_direct(q, rel_emb, 0, length)
    assert torch.allclose(gathered[..., causal], expected[..., causal], atol=1e-5)


@pytest.mark.parametrize("relative", [True, False])
def test_token_by_token_decoding_matches_full_pass(relative):
    torch.manual_seed(0)
    model = MusicTransformer(tiny_config(relative=relative)).eval()
    ids = torch.randint(0, 40, (2, 24))
    full, _ = model(ids)
    cache: KVCache | None = None
    steps = []
    for t in range(ids.shape[1]):
        logits, cache = model(ids[:, t : t + 1], cache)
        steps.append(logits)
    assert torch.allclose(full, torch.cat(steps, dim=1), atol=1e-5)
    first, cache = model(ids[:, :9])
    rest, _ = model(ids[:, 9:], cache)  # a chunk after a cache
    assert torch.allclose(full, torch.cat([first, rest], dim=1), atol=1e-5)


def test_context_overflow_is_refused():
    model = MusicTransformer(tiny_config()).eval()
    with pytest.raises(ValueError, match="exceed the context"):
        model(torch.zeros(1, 33, dtype=torch.long))


def test_relative_attention_is_translation_invariant():
    """The same tokens give the same logits wherever the window starts (no absolute position)."""
    torch.manual_seed(1)
    model = MusicTransformer(tiny_config()).eval()
    ids = torch.randint(0, 40, (1, 12))
    a, _ = model(ids)
    _, cache = model(torch.randint(0, 40, (1, 1)))
    b, _ = model(ids, cache)
    assert not torch.allclose(a, b, atol=1e-4)  # it does attend to the extra token...
    assert torch.allclose(a[:, 0], model(ids[:, :1])[0][:, 0])


def test_checkpoint_round_trip_and_refusals(tmp_path):
    torch.manual_seed(2)
    model = MusicTransformer(tiny_config()).eval()
    path = tmp_path / "m.safetensors"
    save_transformer(model, path, extra={"step": 3})
    loaded, extra = load_transformer(path)
    ids = torch.randint(0, 40, (1, 10))
    assert torch.equal(model(ids)[0], loaded(ids)[0])
    assert extra == {"step": 3}
    assert loaded.head.weight.data_ptr() == loaded.tok_emb.weight.data_ptr()

    other = MusicTransformer(tiny_config(d_model=32, n_head=2, d_ff=32))
    bad = tmp_path / "bad.safetensors"
    save_transformer(other, bad)
    data = bad.read_bytes()
    # Same tensors, config claiming a different width: shapes must be refused.
    import json

    from safetensors.torch import load_file, save_file

    tensors = load_file(str(bad))
    save_file(tensors, str(bad), metadata={"kind": "music-transformer", "config": json.dumps(tiny_config().to_dict())})
    with pytest.raises(ComposerError, match="shape"):
        load_transformer(bad)
    (tmp_path / "junk.safetensors").write_bytes(data[:50])
    with pytest.raises(ComposerError, match="junk.safetensors"):
        load_transformer(tmp_path / "junk.safetensors")
    with pytest.raises(ComposerError, match="no such model file"):
        load_transformer(tmp_path / "missing.safetensors")
    save_file(tensors, str(bad), metadata={"kind": "vocoder", "config": "{}"})
    with pytest.raises(ComposerError, match="not a music-transformer"):
        load_transformer(bad)


def test_fp16_export_loads_as_float32(tmp_path):
    model = MusicTransformer(tiny_config()).eval()
    path = tmp_path / "half.safetensors"
    save_transformer(model, path, dtype=torch.float16)
    loaded, _ = load_transformer(path)
    assert loaded.tok_emb.weight.dtype == torch.float32
    ids = torch.randint(0, 40, (1, 8))
    assert torch.allclose(model(ids)[0], loaded(ids)[0], atol=2e-2)

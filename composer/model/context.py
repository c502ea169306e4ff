"""The token history and KV cache of one model, fed a few ids at a time.

    ctx = TokenContext(model, [style_token("folk"), BOS, *primer_ids])
    logits = ctx.push(token)          # (VOCAB_SIZE,) logits for the next id; one O(L*D) step
    branch = ctx.fork()               # free: the cache is copied on the first write after a fork

When the cache would pass the model's context, it is re-primed from the style
token (always first) and the most recent half context in one full pass, so
sampling never fails at the context length. One id is a StepCache.step (the
fused single-token step over preallocated KV buffers, composer/model/step.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from composer.model.model import MusicTransformer
from composer.model.step import StepCache
from composer.tokens import BOS, VELOCITY_END, VELOCITY_OFFSET, style_token


class TokenContext:
    def __init__(self, model: MusicTransformer, prefix: Sequence[int]) -> None:
        self.model = model
        self.tokens: list[int] = []
        self.cache: StepCache | None = None
        self._owns_cache = True  # False after a fork: copy before writing
        self.logits: torch.Tensor | None = None  # (VOCAB_SIZE,) for the next id
        self.velocity_bin: int | None = None  # the last SET_VELOCITY in the history
        self.push(prefix)

    @classmethod
    def for_style(cls, model: MusicTransformer, style: str) -> TokenContext:
        """A context primed with [STYLE, BOS]."""
        return cls(model, [style_token(style), BOS])

    def fork(self) -> TokenContext:
        other = TokenContext.__new__(TokenContext)
        other.model, other.tokens, other.cache = self.model, list(self.tokens), self.cache
        other.logits, other.velocity_bin = self.logits, self.velocity_bin
        self._owns_cache = other._owns_cache = False
        return other

    @property
    def length(self) -> int:
        return self.cache.length if self.cache is not None else 0

    @torch.inference_mode()
    def push(self, ids: int | Sequence[int]) -> torch.Tensor | None:
        """Append one id or several in one forward pass; returns the logits for the next id."""
        ids = [int(ids)] if isinstance(ids, int) else [int(i) for i in ids]
        if not ids:
            return self.logits
        for token in ids:
            if VELOCITY_OFFSET <= token < VELOCITY_END:
                self.velocity_bin = token - VELOCITY_OFFSET
        self.tokens.extend(ids)
        if self.cache is None or self.cache.length + len(ids) > self.model.cfg.max_len:
            self._reprime()
        else:
            if not self._owns_cache:
                self.cache, self._owns_cache = self.cache.clone(), True
            self.logits = self.cache.step(ids[0]) if len(ids) == 1 else self.cache.extend(ids)
        return self.logits

    def make_room(self, n_tokens: int) -> None:
        """Re-prime now (while there is time) if `n_tokens` more would not fit."""
        if self.length + n_tokens > self.model.cfg.max_len:
            self._reprime(keep=self.model.cfg.max_len - n_tokens - 1)

    @torch.inference_mode()
    def _reprime(self, keep: int | None = None) -> None:
        max_len = self.model.cfg.max_len
        if keep is not None or len(self.tokens) > max_len:
            keep = max_len // 2 - 1 if keep is None else max(min(keep, max_len - 1), 1)
            if len(self.tokens) > keep + 1:
                self.tokens = [self.tokens[0], *self.tokens[-keep:]]  # the style token, then the most recent
        self.cache, self.logits = StepCache.from_prefix(self.model, self.tokens)
        self._owns_cache = True

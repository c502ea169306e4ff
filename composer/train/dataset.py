"""Training windows from the corpus shards, with augmentation at load time.

A training example is `[STYLE] + piece[s : s + max_len]` (the style token of
the piece first, so any crop knows its style), padded with PAD past the end of
a piece. Augmentation: transposition within the MIDI range and a tempo
stretch of +-5% applied to the TIME_SHIFT tokens (stochastic rounding).

Which piece a window comes from: by default in proportion to its length (every
token equally likely). The corpus is 88 % folk tunes by piece, so `style_alpha`
below 1 flattens the styles the way multilingual models balance languages
(Conneau et al. 2020): a style's share is its tokens**alpha, normalized; within
a style, pieces still by length. alpha 1 = by tokens, 0 = every style alike.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.errors import ComposerError
from composer.tokens import (
    N_TIME_SHIFTS,
    NOTE_OFF_OFFSET,
    NOTE_ON_OFFSET,
    PAD,
    TIME_SHIFT_OFFSET,
    VELOCITY_OFFSET,
    style_token,
)
from composer.train.fim import fim_example


@dataclass
class PieceIndex:
    offsets: np.ndarray  # (N,) int64 start of each piece in the flat array
    lengths: np.ndarray  # (N,) int64 token count
    styles: np.ndarray  # (N,) int64 style token id


class TokenCorpus:
    """One split of a built corpus: the flat uint16 tokens and where pieces are."""

    def __init__(self, data_dir: Path, split: str) -> None:
        data_dir = Path(data_dir)
        path = data_dir / f"{split}.npy"
        if not path.exists():
            raise ComposerError(path, "corpus not built; run `composer corpus build` first")
        self.tokens = np.load(path, allow_pickle=False)  # (N_tokens,) uint16
        rows = [json.loads(line) for line in (data_dir / "manifest.jsonl").read_text().splitlines() if line]
        rows = [r for r in rows if r["split"] == split]
        self.index = PieceIndex(
            offsets=np.array([r["offset"] for r in rows], dtype=np.int64),
            lengths=np.array([r["tokens"] for r in rows], dtype=np.int64),
            styles=np.array([style_token(r["style"]) for r in rows], dtype=np.int64),
        )
        self.piece_ids = [r["piece_id"] for r in rows]

    def __len__(self) -> int:
        return len(self.index.lengths)

    def piece(self, i: int) -> np.ndarray:
        start = self.index.offsets[i]
        return self.tokens[start : start + self.index.lengths[i]]

    def piece_weights(self, style_alpha: float = 1.0) -> np.ndarray:
        """(N,) float64 summing to 1: the chance each piece is drawn (see the module's note on alpha)."""
        lengths = self.index.lengths.astype(np.float64)
        styles, per_piece_style = np.unique(self.index.styles, return_inverse=True)
        style_tokens = np.bincount(per_piece_style, weights=lengths, minlength=len(styles))
        style_share = style_tokens**style_alpha
        style_share /= style_share.sum()
        return style_share[per_piece_style] * lengths / style_tokens[per_piece_style]

    def random_batch(
        self,
        rng: np.random.Generator,
        batch_size: int,
        max_len: int,
        augment: bool = True,
        weights: np.ndarray | None = None,
        fim_rate: float = 0.0,
    ) -> np.ndarray:
        """(batch_size, max_len + 1) int64: inputs are [:, :-1], targets [:, 1:]; pieces drawn by `weights`
        (from `piece_weights`; None = by length); a `fim_rate` share of the rows are infilling examples
        (composer.train.fim) where the window has a gap to make."""
        if weights is None:
            weights = self.index.lengths / self.index.lengths.sum()
        out = np.full((batch_size, max_len + 1), PAD, dtype=np.int64)
        for row, i in enumerate(rng.choice(len(self), size=batch_size, p=weights)):
            piece = self.piece(i)
            start = int(rng.integers(0, max(1, len(piece) - max_len + 1)))
            window = piece[start : start + max_len].astype(np.int64)
            if augment:
                window = transpose(window, int(rng.integers(-5, 7)))
                window = stretch_time(window, float(rng.uniform(0.95, 1.05)), rng)
            if fim_rate > 0 and rng.random() < fim_rate:
                example = fim_example(window, rng, max_len)
                window = window if example is None else example
            out[row, 0] = self.index.styles[i]
            out[row, 1 : 1 + len(window)] = window
        return out

    def eval_windows(self, max_len: int, max_tokens: int, per_style: bool = False) -> list[np.ndarray]:
        """Deterministic, non-overlapping windows over the split (no augmentation): the split's first
        `max_tokens` tokens, or with `per_style` an equal share of them from each style's first pieces (the
        split's order is the corpus's, so its first 20,000 valid tokens are all folk tunes)."""
        if per_style:
            styles = np.unique(self.index.styles)
            share = max(1, max_tokens // len(styles))
            of_style = [np.flatnonzero(self.index.styles == s) for s in styles]
            return [w for pieces in of_style for w in self.windows_over(max_len, share, pieces)]
        return self.windows_over(max_len, max_tokens, range(len(self)))

    def windows_over(self, max_len: int, max_tokens: int, pieces) -> list[np.ndarray]:
        """eval_windows over the given pieces (indices into this split), in that order."""
        windows, total = [], 0
        for i in pieces:
            piece = self.piece(i).astype(np.int64)
            for start in range(0, max(1, len(piece) - 1), max_len):
                chunk = piece[start : start + max_len]
                if len(chunk) < 2:
                    continue
                windows.append(np.concatenate([[self.index.styles[i]], chunk]))
                total += len(chunk)
                if total >= max_tokens:
                    return windows
        return windows


def transpose(window: np.ndarray, semitones: int) -> np.ndarray:
    """Shift NOTE_ON/NOTE_OFF pitches, clamped so every pitch stays in 0..127."""
    is_note = (window >= NOTE_ON_OFFSET) & (window < TIME_SHIFT_OFFSET)
    if not is_note.any() or semitones == 0:
        return window
    pitches = (window[is_note] - NOTE_ON_OFFSET) % 128
    semitones = int(np.clip(semitones, -pitches.min(), 127 - pitches.max()))
    out = window.copy()
    out[is_note] += semitones
    return out


def stretch_time(window: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    """Scale every TIME_SHIFT by `factor`, with stochastic rounding, within 1..100 steps."""
    is_shift = (window >= TIME_SHIFT_OFFSET) & (window < VELOCITY_OFFSET)
    if not is_shift.any():
        return window
    steps = (window[is_shift] - TIME_SHIFT_OFFSET + 1) * factor
    steps = np.floor(steps + rng.random(steps.shape)).clip(1, N_TIME_SHIFTS).astype(np.int64)
    out = window.copy()
    out[is_shift] = TIME_SHIFT_OFFSET + steps - 1
    return out


assert NOTE_OFF_OFFSET == NOTE_ON_OFFSET + 128  # transpose() relies on ON and OFF being adjacent

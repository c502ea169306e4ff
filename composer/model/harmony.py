"""A consonance prior for accompaniment: what is known about intervals, added to the model's logits.

    prior = ConsonancePrior(strength_nats=1.5)
    prior.bias(sounding={67}, coming={69})                # (VOCAB_SIZE,): on the NOTE_ONs only
    logits = prior.apply(logits, allowed, {67}, {69})      # moved among the allowed NOTE_ONs, their mass kept

The accompaniment is sampled knowing the melody (its events are forced at their times), yet the shipped
model's accompaniments sit at chance against it (benchmarks/accompany_harmony.py: consonance 0.51 against
0.80 for real accompaniments, chance 0.5). Counterpoint says which intervals against a melody note sound
consonant: unison/octave, 3rds, the 5th and 6ths (mod 12: 0, 3, 4, 7, 8, 9; the 4th above the bass
counts as dissonant, as in the benchmark). Each NOTE_ON gets strength * (2 * share - 1) nats, share being
the fraction of the melody pitches it would sound against (those sounding now and the next one, when it
comes within COMING_S) with which it is consonant: +strength when consonant with all, -strength with none,
nothing when no melody note sounds. `apply` then rescales the NOTE_ONs so that their total probability is
the model's: the model still chooses when and how many notes to play (rhythm, density) and the voicing.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from composer.tokens import NOTE_OFF_OFFSET, NOTE_ON_OFFSET, VOCAB_SIZE

CONSONANT_INTERVALS = (0, 3, 4, 7, 8, 9)
COMING_S = 0.25  # a melody note this close ahead is sounded against too (a note started now will meet it)


class ConsonancePrior:
    """Logit biases for NOTE_ONs by their consonance with a set of melody pitches, cached per set."""

    def __init__(self, strength_nats: float) -> None:
        self.strength_nats = float(strength_nats)
        consonant = torch.zeros(12)
        consonant[list(CONSONANT_INTERVALS)] = 1.0
        self._consonant = consonant
        self._pitches = torch.arange(NOTE_OFF_OFFSET - NOTE_ON_OFFSET)  # (128,)
        self._cache: dict[frozenset[int], torch.Tensor] = {}
        self._zero = torch.zeros(VOCAB_SIZE)

    def apply(
        self, logits: torch.Tensor, allowed: torch.Tensor, sounding: Iterable[int], coming: Iterable[int] = ()
    ) -> torch.Tensor:
        """logits (VOCAB_SIZE,) with the bias moved among the allowed NOTE_ONs only: their total probability is
        kept, so the prior changes which note is played, never how many (a plain bias makes playing likelier)."""
        bias = self.bias(sounding, coming)
        if bias is self._zero:
            return logits
        on = slice(NOTE_ON_OFFSET, NOTE_OFF_OFFSET)
        logits = logits.float().clone()
        ok = allowed[on]
        if not ok.any():
            return logits
        before = torch.logsumexp(logits[on][ok], dim=0)
        moved = logits[on] + bias[on]
        after = torch.logsumexp(moved[ok], dim=0)
        logits[on] = moved - (after - before)
        return logits

    def bias(self, sounding: Iterable[int], coming: Iterable[int] = ()) -> torch.Tensor:
        """(VOCAB_SIZE,) float32: the bias against the melody pitches `sounding` and `coming`."""
        melody = frozenset(int(p) for p in (*sounding, *coming))
        if not melody or self.strength_nats == 0.0:
            return self._zero
        cached = self._cache.get(melody)
        if cached is None:
            against = torch.tensor(sorted(melody))
            intervals = (self._pitches[:, None] - against[None, :]) % 12  # (128, M)
            share = self._consonant[intervals].mean(dim=1)  # (128,)
            cached = torch.zeros(VOCAB_SIZE)
            cached[NOTE_ON_OFFSET:NOTE_OFF_OFFSET] = self.strength_nats * (2.0 * share - 1.0)
            self._cache[melody] = cached
        return cached

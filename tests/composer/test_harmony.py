"""The consonance prior (composer/model/harmony.py) and accompaniment with it."""

from __future__ import annotations

import math

import pytest
import torch
from model_fixtures import fixed_model

from composer.model.accompany import accompany
from composer.model.harmony import CONSONANT_INTERVALS, ConsonancePrior
from composer.model.sample import SampleOptions, load_model
from composer.song import Note
from composer.tokens import NOTE_OFF_OFFSET, NOTE_ON_OFFSET, TIME_SHIFT_OFFSET, VOCAB_SIZE


def on(pitch: int) -> int:
    return NOTE_ON_OFFSET + pitch


def test_consonant_with_all_is_up_with_none_is_down_and_nothing_without_a_melody():
    prior = ConsonancePrior(2.0)
    bias = prior.bias({60})
    assert bias[on(64)] == pytest.approx(2.0) and bias[on(67)] == pytest.approx(2.0)  # 3rd, 5th above C
    assert bias[on(61)] == pytest.approx(-2.0) and bias[on(65)] == pytest.approx(-2.0)  # minor 2nd, 4th
    assert bias[on(48)] == pytest.approx(2.0)  # an octave below: unison mod 12
    both = prior.bias({60}, coming={62})  # E is a 3rd above C and a 2nd above D: half
    assert both[on(64)] == pytest.approx(0.0) and both[on(65)] == pytest.approx(0.0)  # F: 4th of C, 3rd of D
    assert both[on(57)] == pytest.approx(2.0)  # A: 6th above C, 5th above D
    assert not prior.bias(()).any() and not ConsonancePrior(0.0).bias({60}).any()
    outside = torch.ones(VOCAB_SIZE, dtype=torch.bool)
    outside[NOTE_ON_OFFSET:NOTE_OFF_OFFSET] = False
    assert not bias[outside].any()  # only NOTE_ONs move
    assert sorted({(p - 60) % 12 for p in range(128) if bias[on(p)] > 0}) == list(CONSONANT_INTERVALS)


def test_apply_moves_mass_among_the_note_ons_and_keeps_their_total():
    torch.manual_seed(0)
    logits = torch.randn(VOCAB_SIZE)
    allowed = torch.ones(VOCAB_SIZE, dtype=torch.bool)
    allowed[on(0) : on(40)] = False
    moved = ConsonancePrior(3.0).apply(logits, allowed, {60})
    p = torch.softmax(torch.where(allowed, logits, -math.inf), 0)
    q = torch.softmax(torch.where(allowed, moved, -math.inf), 0)
    notes = slice(NOTE_ON_OFFSET, NOTE_OFF_OFFSET)
    assert q[notes].sum() == pytest.approx(p[notes].sum().item(), rel=1e-5)  # as many notes as the model plays
    torch.testing.assert_close(q[TIME_SHIFT_OFFSET:], p[TIME_SHIFT_OFFSET:])  # its timing is its own
    assert q[on(67)] / q[on(66)] == pytest.approx(math.exp(6.0) * (p[on(67)] / p[on(66)]).item(), rel=1e-4)
    assert ConsonancePrior(3.0).apply(logits, allowed, ()) is logits  # no melody: untouched


def test_accompaniment_with_the_prior_sounds_consonant_against_the_melody(tmp_path):
    """The fixed model plays any of 60-71 alike; with the prior its notes agree with the melody note."""
    model = load_model(fixed_model(tmp_path / "m.safetensors", note_on=1.0, note_off=0.5, shift=0.5))
    melody = [Note(p, 90, i * 1.0, i * 1.0 + 0.95) for i, p in enumerate((72, 74, 76, 77, 79, 77, 76, 74))]

    def consonant_share(strength: float) -> tuple[float, int]:
        notes = accompany(model, melody, melody, 0.0, 8.0, SampleOptions(seed=3), consonance_nats=strength).notes
        against = [(n, m) for n in notes for m in melody if m.start_s <= n.start_s < m.end_s]
        good = sum((n.pitch - m.pitch) % 12 in CONSONANT_INTERVALS for n, m in against)
        return good / max(len(against), 1), len(against)

    plain, plain_n = consonant_share(0.0)
    guided, guided_n = consonant_share(4.0)
    assert plain_n >= 10 and guided_n >= 10
    assert guided >= 0.9 and guided > plain + 0.2, (plain, guided)

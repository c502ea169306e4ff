"""composer.model.register: the model writes where it is at home, the instrument hears it in its register."""

import sys
from pathlib import Path

import pytest
import torch

from composer.gm import playable_range
from composer.model.register import from_model, in_register, moved, register_shift, stream_in_register
from composer.model.sample import SampleOptions, stream
from composer.song import Note

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_sample import tiny_model  # noqa: E402


def test_the_shift_is_whole_octaves_towards_the_range():
    assert register_shift(None) == 0
    assert register_shift(playable_range(0)) == 0  # the piano's middle is the corpus's
    assert register_shift(playable_range(33)) == -24  # bass: its notes two octaves under the model's
    assert register_shift(playable_range(58)) == -24  # tuba
    assert register_shift(playable_range(42)) == -12  # cello
    assert register_shift(playable_range(72)) == 24  # piccolo
    assert all(register_shift(playable_range(p)) % 12 == 0 for p in range(128))


def test_in_register_moves_the_primer_and_the_mask_and_from_model_moves_back():
    primer = [Note(40, 80, 0.0, 0.5), Note(10, 80, 0.5, 1.0)]
    model_primer, options, shift = in_register(primer, SampleOptions(pitch_range=(28, 67)))
    assert shift == -24 and options.pitch_range == (52, 91)
    assert [n.pitch for n in model_primer] == [64, 34]
    assert [n.pitch for n in from_model(model_primer, shift)] == [40, 10]
    assert moved([Note(120, 80, 0.0, 1.0)], 12) == []  # out of MIDI's range: left out
    same_primer, same, zero = in_register(primer, SampleOptions(pitch_range=(21, 108)))
    assert zero == 0 and same.pitch_range == (21, 108) and same_primer == primer


@pytest.mark.parametrize("program", [33, 72])
def test_stream_in_register_is_the_model_s_own_stream_moved_by_octaves(program):
    torch.set_num_threads(1)
    model = tiny_model()
    low, high = playable_range(program)
    options = SampleOptions(seconds=6, style="folk", seed=4, pitch_range=(low, high))
    primer = [Note(p, 80, 0.25 * i, 0.25 * i + 0.2) for i, p in enumerate((low + 12, low + 14, low + 16, low + 17))]
    heard = [e for item in stream_in_register(model, primer, options) for e in item.events]
    model_primer, model_options, shift = in_register(primer, options)
    own = [e for item in stream(model, model_primer, model_options) for e in item.events]
    assert heard and [(e.on, e.pitch - shift, e.time_s) for e in heard] == [(e.on, e.pitch, e.time_s) for e in own]
    assert all(low <= e.pitch <= high for e in heard)

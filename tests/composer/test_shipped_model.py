"""The shipped co-composer: loads from its safetensors alone and makes music in every style."""

import pytest
import torch

from composer.keys import scale_pitch_classes
from composer.model.checkpoint import read_metadata
from composer.model.sample import DEFAULT_MODEL_PATH, SampleOptions, generate_notes, load_model
from composer.tokens import STYLES


@pytest.fixture(scope="module")
def shipped():
    torch.set_num_threads(1)
    return load_model()


def test_weights_are_fp16_safetensors_with_config_and_card():
    meta = read_metadata(DEFAULT_MODEL_PATH)
    assert meta["kind"] == "music-transformer" and '"relative": true' in meta["config"]
    assert DEFAULT_MODEL_PATH.stat().st_size < 20_000_000
    assert (DEFAULT_MODEL_PATH.parent / "README.md").exists()


@pytest.mark.slow
@pytest.mark.parametrize("style", [s for s in STYLES if s != "other"])
def test_each_style_gives_plausible_music(shipped, style):
    notes = generate_notes(shipped, [], SampleOptions(seconds=8, style=style, seed=3, key="D:major"))
    assert len(notes) >= 4  # the model does not fall silent
    assert all(n.pitch % 12 in scale_pitch_classes("D:major") for n in notes)
    assert max(n.end_s for n in notes) <= 8.0 + 1e-6
    span = max(n.pitch for n in notes) - min(n.pitch for n in notes)
    # not a random scatter over the keyboard: within four octaves, five for classical (its held-out pieces span a
    # median 47 semitones in 30 s: benchmarks/style_match.py)
    assert span <= (60 if style == "classical" else 48)

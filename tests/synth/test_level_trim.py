"""Level trims: measured per program, written into the renderer's metadata, applied by NeuralSynth."""

from __future__ import annotations

import numpy as np
import pytest
from neural_fixtures import save_tiny_models, write_dataset

from synth.instruments.neural.neural_synth import NeuralSynth, load_neural_models
from synth.train.level_trim import measure_level_trims, play, trained_programs, write_level_trims

pytest.importorskip("pyloudnorm")


def test_trims_are_written_and_applied(tmp_path):
    folder = save_tiny_models(tmp_path / "models")
    data = write_dataset(tmp_path / "data")
    models = load_neural_models(folder)
    trims = measure_level_trims(models, data, "valid", seconds_per_program=3)
    assert set(trims) == {0} and np.isfinite(trims[0])
    write_level_trims(folder / "renderer" / "model.safetensors", {0: 6.0206}, trained_programs(data))
    trimmed = load_neural_models(folder)
    assert trimmed.gain_db == {0: 6.0206} and trimmed.programs == (0,)
    notes = np.array([[60, 100, 0.0, 0.5]])
    plain = play(NeuralSynth(models, 0, 24000), notes, 12000)
    louder = play(NeuralSynth(trimmed, 0, 24000), notes, 12000)
    assert np.allclose(louder, 2.0 * plain, atol=1e-6)
    assert np.allclose(
        play(NeuralSynth(trimmed, 5, 24000), notes, 12000),
        2.0 * play(NeuralSynth(models, 0, 24000), notes, 12000),
        atol=1e-6,
    )  # program 5 plays as 0, with its trim  # noqa: E501


def test_after_its_trim_the_neural_level_is_the_dsp_level(tmp_path):
    folder = save_tiny_models(tmp_path / "models")
    data = write_dataset(tmp_path / "data", seconds=3.0)
    first = measure_level_trims(load_neural_models(folder), data, "valid", seconds_per_program=6)
    assert abs(first[0]) > 3.0  # the tiny random renderer is not at the DSP level to begin with
    write_level_trims(folder / "renderer" / "model.safetensors", first)
    left = measure_level_trims(load_neural_models(folder), data, "valid", seconds_per_program=6, with_trims=True)
    assert abs(left[0]) < 0.5

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


def test_level_curves_are_centred_smoothed_and_held_flat_beyond_the_grid():
    from synth.train.note_level import MAX_CURVE_DB, curve_of

    curve = np.array(curve_of({36: 10.0, 48: 12.0, 60: 14.0, 72: 40.0, 84: 18.0}))
    assert curve.shape == (128,)
    assert curve[60] == pytest.approx(0.0)  # centred on the median
    assert curve[72] == pytest.approx(4.0)  # the 40 dB outlier smoothed away: median(14, 40, 18) - 14
    assert curve[0] == curve[36] and curve[127] == curve[84]  # flat beyond the ends
    assert curve[54] == pytest.approx((curve[48] + curve[60]) / 2)  # linear between grid points
    assert np.abs(curve).max() <= MAX_CURVE_DB
    assert curve_of({60: 3.0, 72: 1.0}) == (0.0,) * 128  # too few points to draw a curve


def test_level_curves_are_measured_written_and_played(tmp_path):
    from synth.train.note_level import measure_note_curves, note_level_differences, velocity_level_differences

    folder = save_tiny_models(tmp_path / "models")
    models = load_neural_models(folder)
    pitches, velocities = (48, 60, 72, 84), (30, 60, 90, 120)
    by_pitch, by_velocity = measure_note_curves(models, [0, 128], pitches, velocities)
    assert set(by_pitch) == set(by_velocity) == {0} and len(by_pitch[0]) == len(by_velocity[0]) == 128  # no kit
    before = note_level_differences(models, 0, pitches), velocity_level_differences(models, 0, velocities)
    write_level_trims(folder / "renderer" / "model.safetensors", {0: 0.0}, [0], (by_pitch, by_velocity))
    curved = load_neural_models(folder)
    assert curved.pitch_gain_db == by_pitch and curved.velocity_gain_db == by_velocity
    after = (
        note_level_differences(curved, 0, pitches, with_curves=True),
        velocity_level_differences(curved, 0, velocities, with_curves=True),
    )
    spread = lambda d: np.ptp(list(d.values()))  # noqa: E731
    assert spread(after[0]) < spread(before[0]) and spread(after[1]) < spread(before[1])  # evened out
    notes = np.array([[72, 30, 0.0, 0.5]])
    gain = 10 ** ((by_pitch[0][72] + by_velocity[0][30]) / 20)
    expected = gain * play(NeuralSynth(models, 0, 24000), notes, 12000)
    heard = play(NeuralSynth(curved, 0, 24000), notes, 12000)
    assert abs(gain - 1) > 0.05 and np.abs(heard - expected).max() < 0.05 * np.abs(expected).max()  # partials scaled


def test_trims_are_measured_with_the_level_curves_playing(tmp_path):
    folder = save_tiny_models(tmp_path / "models")
    data = write_dataset(tmp_path / "data")
    models = load_neural_models(folder)
    plain = measure_level_trims(models, data, "valid", seconds_per_program=3)
    models.pitch_gain_db, models.velocity_gain_db = {0: (4.0,) * 128}, {0: (2.0,) * 128}  # +6 dB on every note
    curved = measure_level_trims(models, data, "valid", seconds_per_program=3)
    assert curved[0] == pytest.approx(plain[0] - 6.0, abs=1.0)  # the partials louder; the noise part is not


def test_trims_can_pool_the_pieces_of_several_splits(tmp_path):
    """--split valid,train: the valid pieces first, then train pieces, up to the budget."""
    folder = save_tiny_models(tmp_path / "models")
    data = write_dataset(tmp_path / "data", pieces_per_split=1, seconds=2.0)
    models = load_neural_models(folder)
    valid = measure_level_trims(models, data, "valid", seconds_per_program=10)
    pooled = measure_level_trims(models, data, "valid,train", seconds_per_program=10)
    within = measure_level_trims(models, data, "valid,train", seconds_per_program=2)  # the valid piece fills it
    train = measure_level_trims(models, data, "train", seconds_per_program=10)
    assert within == valid and valid != train
    assert pooled[0] == pytest.approx((valid[0] + train[0]) / 2, abs=0.011)  # the median of two pieces

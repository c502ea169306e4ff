"""Release curves: a released note fades by its program's curve; the curve is measured against FluidSynth."""

from __future__ import annotations

import numpy as np
import pytest
from neural_fixtures import save_tiny_models

from synth.data.fluid import fluidsynth_available
from synth.instruments.neural.neural_synth import RELEASE_BINS, NeuralSynth, load_neural_models
from synth.train.level_trim import play, write_level_trims

SR = 24000
MISSING = fluidsynth_available()


def levels_db(audio: np.ndarray, size: int = 240) -> np.ndarray:
    n = len(audio) // size
    return 10 * np.log10((audio[: n * size].reshape(n, size).astype(np.float64) ** 2).mean(axis=1) + 1e-20)


def test_a_released_note_fades_by_its_release_curve_and_a_held_one_does_not(tmp_path):
    folder = save_tiny_models(tmp_path / "models")
    plain = load_neural_models(folder)
    curve = tuple(np.linspace(-3.0, -30.0, RELEASE_BINS))
    write_level_trims(folder / "renderer" / "model.safetensors", {0: 0.0}, [0], release_db={0: curve})
    faded = load_neural_models(folder)
    assert faded.release_gain_db == {0: curve}
    notes = np.array([[60, 100, 0.0, 0.3], [67, 100, 0.0, 0.8]])  # the second still held at 0.3-0.6 s
    a, b = (play(NeuralSynth(m, 0, SR), notes, SR) for m in (plain, faded))
    before, lag = int(0.27 * SR), NeuralSynth(plain, 0, SR).latency_samples  # a hop before the note-off
    assert np.allclose(a[: before + lag], b[: before + lag], atol=1e-6)  # as it was up to the note-off
    alone = play(NeuralSynth(faded, 0, SR), notes[1:], SR)
    late = slice(int(0.55 * SR) + lag, int(0.75 * SR) + lag)  # 0.25 s after the first note's off: -25 dB or less
    rest_db = levels_db(b[late] - alone[late])
    assert np.all(rest_db < levels_db(a[late] - alone[late]) - 15)  # the released note is that much quieter
    assert np.abs(b[late] - alone[late]).max() < np.abs(alone[late]).max()


def test_a_bad_release_curve_in_the_file_is_one_clear_error(tmp_path):
    from composer.errors import ComposerError

    folder = save_tiny_models(tmp_path / "models")
    write_level_trims(folder / "renderer" / "model.safetensors", {0: 0.0}, [0], release_db={0: (0.0,) * 7})
    with pytest.raises(ComposerError, match="release_gain_db"):
        load_neural_models(folder)


@pytest.mark.skipif(MISSING is not None, reason=f"needs FluidSynth: {MISSING}")
def test_release_curves_only_shorten_a_release_and_never_rise(tmp_path):
    from synth.train.release_curve import measure_release_curves

    models = load_neural_models(save_tiny_models(tmp_path / "models"))
    curves = measure_release_curves(models, [71, 128], pitches=(60, 72))
    assert set(curves) == {71}  # the drum kit left out
    curve = np.array(curves[71])
    assert curve.shape == (RELEASE_BINS,) and np.all(curve <= 0) and np.all(np.diff(curve) <= 0)
    assert curve[-1] < -20  # the tiny renderer's notes ring on; FluidSynth's clarinet stops within 0.3 s

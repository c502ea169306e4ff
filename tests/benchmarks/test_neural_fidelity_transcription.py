"""benchmarks/transcribe.py and the listener's measures of benchmarks/neural_fidelity.py on known audio.

The transcriber (basic-pitch, `make setup-bench`) must find the notes of a render of known notes and not
those a semitone or 100 ms away; without basic-pitch those tests are skipped.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_RATE = 24000


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


transcribe = _load("transcribe", ROOT / "benchmarks" / "transcribe.py")
PROBLEM = transcribe.transcriber_problem()
needs_transcriber = pytest.mark.skipif(PROBLEM is not None, reason=f"no transcriber: {PROBLEM}")


@pytest.fixture(scope="module")
def transcriber():
    return transcribe.Transcriber(threads=1, minimum_note_length_ms=58.0)


# (pitch, velocity, start_s, end_s): a melody over two octaves, a repeated note, a fifth and a triad.
NOTES = np.array(
    [(p, 90, 0.4 * i, 0.4 * i + 0.3) for i, p in enumerate([48, 52, 55, 60, 64, 67, 72, 71, 69, 69, 65, 62])]
    + [(n, 80, 5.0, 5.6) for n in (57, 64)]
    + [(n, 80, 6.0, 6.8) for n in (60, 64, 67)],
    np.float64,
)


def sine_render(notes: np.ndarray, seconds: float) -> np.ndarray:
    """Each note a sine at its pitch, 5 ms attack, exponential decay, 50 ms release: float32 (n_samples,)."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    out = np.zeros_like(t)
    for pitch, velocity, start_s, end_s in notes:
        age = t - start_s
        envelope = np.clip(age / 0.005, 0, 1) * np.exp(-np.maximum(age, 0) / 0.6) * (age >= 0)
        envelope *= np.where(t > end_s, np.exp(-(t - end_s) / 0.05), 1.0)
        out += velocity / 127 * 0.1 * envelope * np.sin(2 * np.pi * 440.0 * 2 ** ((pitch - 69) / 12) * age)
    return out.astype(np.float32)


def shifted(notes: np.ndarray, semitones: int = 0, seconds: float = 0.0) -> np.ndarray:
    out = notes.copy()
    out[:, 0] += semitones
    out[:, 2:4] += seconds
    return out


@needs_transcriber
def test_a_sine_render_of_known_notes_scores_high_and_wrong_notes_score_low(transcriber):
    found = transcriber.transcribe(sine_render(NOTES, 7.5), SAMPLE_RATE)
    assert found.shape[1] == 3 and np.all(np.diff(found[:, 0]) >= 0)
    right = transcribe.note_scores(NOTES, found)
    assert right["n_ref"] == len(NOTES) and right["f1"] >= 0.9, right
    assert transcribe.note_scores(shifted(NOTES, seconds=0.02), found)["f1"] >= 0.85  # within 50 ms
    assert transcribe.note_scores(shifted(NOTES, semitones=1), found)["f1"] <= 0.1
    assert transcribe.note_scores(shifted(NOTES, semitones=-12), found)["f1"] <= 0.2  # an octave is wrong too
    assert transcribe.note_scores(shifted(NOTES, seconds=0.1), found)["f1"] <= 0.1  # onsets 100 ms late
    assert transcribe.note_scores(NOTES, found[:0])["f1"] == 0.0


@needs_transcriber
def test_silence_and_noise_have_no_notes(transcriber):
    assert len(transcriber.transcribe(np.zeros(3 * SAMPLE_RATE, np.float32), SAMPLE_RATE)) == 0
    noise = np.random.default_rng(0).normal(0, 0.05, 3 * SAMPLE_RATE).astype(np.float32)
    assert transcribe.note_scores(NOTES[:7], transcriber.transcribe(noise, SAMPLE_RATE))["f1"] <= 0.1


@needs_transcriber
def test_a_fluidsynth_piano_render_of_known_notes_scores_high(transcriber):
    from synth.data.fluid import fluidsynth_available, render_notes_fluid

    problem = fluidsynth_available()
    if problem is not None:
        pytest.skip(problem)
    from composer.song import Note

    audio = render_notes_fluid({0: [Note(int(p), int(v), s, e) for p, v, s, e in NOTES]}, SAMPLE_RATE)
    found = transcriber.transcribe(audio, SAMPLE_RATE)
    score = transcribe.note_scores(NOTES, found)
    # every note is found; the piano's partials add a few short ghost notes (measured: F1 0.85, recall 1.0)
    assert score["recall"] >= 0.9 and score["f1"] >= 0.8, score
    assert transcribe.note_scores(shifted(NOTES, semitones=1), found)["f1"] <= 0.1


def test_note_scores_are_mir_evals_with_offsets_not_judged_and_pool_by_counts():
    mir_eval = pytest.importorskip("mir_eval")
    played = np.array([[60, 90, 0.0, 0.5], [64, 90, 0.5, 1.0], [67, 90, 1.0, 1.5], [72, 90, 2.0, 2.1]])
    found = np.array(
        [
            [0.03, 0.1, 60],  # onset 30 ms late, offset far off: a match
            [0.56, 1.0, 64],  # 60 ms late: no match
            [1.0, 1.5, 68],  # a semitone high: no match
            [2.0, 2.1, 72],
            [3.0, 3.5, 50],  # nothing played there
        ]
    )
    score = transcribe.note_scores(played, found)
    assert (score["n_ref"], score["n_est"], score["n_match"]) == (4, 5, 2)
    hz = transcribe._hz
    reference = mir_eval.transcription.precision_recall_f1_overlap(
        played[:, 2:4], hz(played[:, 0]), found[:, :2], hz(found[:, 2]),
        onset_tolerance=0.05, pitch_tolerance=50.0, offset_ratio=None,
    )  # fmt: skip
    assert (score["precision"], score["recall"], score["f1"]) == pytest.approx(reference[:3])
    total = transcribe.pooled([score, transcribe.note_scores(played[:1], found[:1])])
    assert (total["n_ref"], total["n_est"], total["n_match"]) == (5, 6, 3)
    assert total["f1"] == pytest.approx(2 * 3 / 11)
    assert transcribe.pooled([])["f1"] == 0.0


def test_loudness_is_bs1770_lufs_floored_at_silence():
    pytest.importorskip("pyloudnorm")
    bench = _load("neural_fidelity", ROOT / "benchmarks" / "neural_fidelity.py")
    loudness = bench.Loudness(SAMPLE_RATE)
    t = np.arange(3 * SAMPLE_RATE) / SAMPLE_RATE
    sine = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    assert loudness(sine) == pytest.approx(-3.01, abs=0.1)  # BS.1770: a full-scale 1 kHz sine, one channel
    assert loudness(sine) - loudness(0.5 * sine) == pytest.approx(6.02, abs=0.01)
    assert loudness(np.zeros_like(sine)) == bench.LOUDNESS_FLOOR_LUFS
    # K-weighting: a 100 Hz sine reads quieter than a 1 kHz one at the same RMS level
    assert loudness(np.sin(2 * np.pi * 100 * t)) < loudness(sine) - 0.5


@needs_transcriber
def test_fidelity_benchmark_reports_note_f1_loudness_and_families(tmp_path, capsys):
    pytest.importorskip("pyloudnorm")
    fixtures = _load("neural_fixtures", ROOT / "tests" / "synth" / "neural_fixtures.py")
    bench = _load("neural_fidelity", ROOT / "benchmarks" / "neural_fidelity.py")
    models = fixtures.save_tiny_models(tmp_path / "models")
    data = fixtures.write_dataset(tmp_path / "audio", seconds=3.0, splits=("test",))
    argv = ["--data", str(data), "--models", str(models), "--pictures", str(tmp_path / "pictures")]
    assert bench.main([*argv, "--seconds-per-program", "10", "--programs", "0"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    program = result["per_program"]["0"]
    assert program["family"] == "Piano" and result["by_family"]["Piano"]["program"] == 0
    assert set(program["note_f1"]) == {"reference", "neural", "dsp", "vocoder"}
    assert program["notes"] > 10 and program["note_f1"]["reference"] >= 0.5
    assert program["note_f1"]["neural"] < program["note_f1"]["reference"]  # tiny random weights play no notes
    assert program["neural_f1_over_reference"] < 0.9 and program["goals"]["f1"] is False
    assert set(program["loudness_db"]) == {
        "neural_minus_dsp", "abs_neural_minus_dsp", "neural_minus_reference", "abs_neural_minus_reference"
    }  # fmt: skip
    assert result["transcriber"]["name"] == "basic-pitch" and result["met"] is False
    assert (tmp_path / "pictures" / "program-000.png").stat().st_size > 1000

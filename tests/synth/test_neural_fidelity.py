"""benchmarks/neural_fidelity.py end to end on tiny random weights and a tiny synthetic audio-data build."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
from neural_fixtures import save_tiny_models, write_dataset

from synth.instruments.dsp.dsp import DspSynth

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark():
    spec = importlib.util.spec_from_file_location("neural_fidelity", ROOT / "benchmarks" / "neural_fidelity.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["neural_fidelity"] = module
    spec.loader.exec_module(module)
    return module


def test_fidelity_benchmark_measures_every_way_and_draws_pictures(tmp_path, capsys):
    bench = load_benchmark()
    models = save_tiny_models(tmp_path / "models")
    data = write_dataset(tmp_path / "audio", seconds=1.0, splits=("test",))
    argv = ["--data", str(data), "--models", str(models), "--pictures", str(tmp_path / "pictures")]
    assert bench.main([*argv, "--seconds-per-program", "5"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["benchmark"] == "neural_fidelity" and list(result["per_program"]) == ["0"]
    program = result["per_program"]["0"]
    assert program["seconds"] == 2.0
    for way in ("neural", "dsp", "vocoder"):
        assert all(np.isfinite(v) and v > 0 for v in program[way].values())
    assert result["met"] is False  # random weights are nowhere near half the DSP synth's distance
    assert (tmp_path / "pictures" / "program-000.png").stat().st_size > 1000
    assert result["weights"] == {"renderer_step": None, "vocoder_step": None}


def test_play_is_sample_exact():
    bench = load_benchmark()
    audio = bench.play(DspSynth(0, sample_rate=24000), np.array([[60, 100, 0.5, 0.7]]), 24000)
    assert int(np.flatnonzero(audio)[0]) in (12000, 12001)  # mid-block; a sine starts at 0


def test_missing_weights_is_one_line_and_status_2(tmp_path, capsys):
    bench = load_benchmark()
    data = write_dataset(tmp_path / "audio", seconds=1.0, splits=("test",))
    assert bench.main(["--data", str(data), "--models", str(tmp_path / "none")]) == 2
    assert "no renderer weights" in capsys.readouterr().err

"""benchmarks/prompt_loop_seam.py's measure: a seamless loop's wrap is an ordinary step, a cut one is a click."""

import importlib.util
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def load_benchmark(name: str):
    """The benchmark script as a module, by file path (as the other benchmark tests load theirs)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


seam_percentile = load_benchmark("prompt_loop_seam").seam_percentile


def test_whole_periods_wrap_like_any_other_step_and_a_cut_is_the_largest():
    t = np.arange(2400) / 24000
    whole = np.cos(2 * np.pi * 100 * t)  # 10 whole periods: x[-1] runs into x[0] (at a peak: a small step)
    assert seam_percentile(whole) < 60
    cut = np.sin(2 * np.pi * 100 * t[:2340] + 0.3)  # stops mid-period
    cut[-1] = 1.0
    cut[0] = -1.0
    assert seam_percentile(cut) == 100.0

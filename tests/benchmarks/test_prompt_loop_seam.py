"""benchmarks/prompt_loop_seam.py's measure: a seamless loop's wrap is an ordinary step, a cut one is a click."""

import numpy as np
from bench_loader import load_benchmark

seam_percentile = load_benchmark("prompt_loop_seam").seam_percentile


def test_whole_periods_wrap_like_any_other_step_and_a_cut_is_the_largest():
    t = np.arange(2400) / 24000
    whole = np.cos(2 * np.pi * 100 * t)  # 10 whole periods: x[-1] runs into x[0] (at a peak: a small step)
    assert seam_percentile(whole) < 60
    cut = np.sin(2 * np.pi * 100 * t[:2340] + 0.3)  # stops mid-period
    cut[-1] = 1.0
    cut[0] = -1.0
    assert seam_percentile(cut) == 100.0

"""benchmarks/prompt_key.py: its grades, its outside judge on a known chord progression, one tiny run, bad input."""

from __future__ import annotations

import json

import numpy as np
import pytest
from bench_loader import load_benchmark

pk = load_benchmark("prompt_key")
SR = 24000


def test_grades():
    assert pk.grade((2, "minor"), 2, "minor") == {"exact": 1.0, "same_notes": 1.0, "mirex": 1.0}
    assert pk.grade((5, "major"), 2, "minor") == {"exact": 0.0, "same_notes": 1.0, "mirex": 0.3}  # relative
    assert pk.grade((9, "minor"), 2, "minor")["mirex"] == 0.5  # a fifth up
    assert pk.grade((2, "major"), 2, "minor")["mirex"] == 0.2  # parallel
    assert pk.grade((3, "minor"), 2, "minor") == {"exact": 0.0, "same_notes": 0.0, "mirex": 0.0}


def chords(roots_and_thirds: list[tuple[int, int]], seconds_each: float = 1.0) -> np.ndarray:
    t = np.arange(int(seconds_each * SR)) / SR
    parts = []
    for root, third in roots_and_thirds:
        pitches = (root, root + third, root + 7)
        parts.append(sum(np.sin(2 * np.pi * 440 * 2 ** ((p - 69) / 12) * t) for p in pitches) / 3)
    return np.concatenate(parts)


def test_the_judge_hears_a_cadence_in_its_key():
    g_major = chords([(67, 4), (72, 4), (74, 4), (67, 4)])  # I IV V I in G
    assert pk.judge_key(g_major, SR) == (7, "major")
    d_minor = chords([(62, 3), (67, 3), (69, 4), (62, 3)])  # i iv V i in D minor
    assert pk.judge_key(d_minor, SR) == (2, "minor")


def test_one_tiny_run_prints_one_json_line(capsys):
    assert pk.main(["--keys", "D:minor", "--seeds", "1", "--seconds", "2"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["clips"] == 1 and set(result["held"]) >= {"exact", "same_notes", "mirex", "seconds_per_clip"}
    assert 0.0 <= result["held"]["mirex"] <= 1.0 and result["moved_share"] in (0.0, 1.0)
    assert result["key_guidance"] == 0.0  # composer prompt's default


@pytest.mark.parametrize(("extra", "expected"), [
        (["--keys", "H:major"], "--keys"), (["--seeds", "0"], "--seeds"), (["--key-guidance", "-1"], "key guidance"),
    ])  # fmt: skip
def test_bad_input_exits_2_with_one_line(capsys, extra, expected):
    assert pk.main(extra) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and expected in err

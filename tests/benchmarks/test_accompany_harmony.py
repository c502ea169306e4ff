"""benchmarks/accompany_harmony.py: its harmony figures on hand-made notes, and end-to-end runs on held-out pieces."""

from __future__ import annotations

import json

import pytest
import torch
from bench_loader import load_benchmark
from model_fixtures import fixed_model

from composer.song import Note
from composer.train.corpus import split_of

ah = load_benchmark("accompany_harmony")

# C5 and E5 in turn, a quarter second each, over 1 s: C major (Krumhansl-Kessler), both classes always local
MELODY = [Note(p, 80, 0.25 * i, 0.25 * i + 0.25) for i, p in enumerate((72, 76, 72, 76))]


def held(*pitches: int, start_s: float = 0.0, end_s: float = 1.0) -> list[Note]:
    return [Note(p, 70, start_s, end_s) for p in pitches]


def test_chord_tones_of_the_melody_fit_fully():
    fit = ah.harmony_fit(held(48, 52), MELODY, 2.0)  # C3 and E3: an octave/6th/3rd/unison under C5, E5
    assert fit.shares() == {"harmony_fit": 1.0, "melody_pc_fit": 1.0, "consonance": 1.0}
    assert fit.notes == 2 and fit.note_s == pytest.approx(2.0) and fit.pair_s == pytest.approx(2.0)
    # at random, a note would land in C major (7 of 12 classes) or on C or E (2 of 12); an interval consonant 6/12
    assert fit.chance() == {"harmony_fit": round(7 / 12, 4), "melody_pc_fit": round(2 / 12, 4), "consonance": 0.5}


def test_a_chromatic_cluster_fits_badly():
    assert ah.key_classes(MELODY) == frozenset({0, 2, 4, 5, 7, 9, 11})
    fit = ah.harmony_fit(held(61, 62, 63), MELODY, 2.0)  # C#4 D4 D#4: only D is in C major, none in the melody
    shares = fit.shares()
    assert shares["harmony_fit"] == pytest.approx(1 / 3, abs=1e-4) and shares["melody_pc_fit"] == 0.0
    # consonant pairs: D#4 a major 6th under C5, C#4 a minor 3rd under E5; each half of the time, of 3 notes x 2
    assert shares["consonance"] == pytest.approx(1 / 3, abs=1e-4)


def test_the_fourth_is_dissonant_and_the_minor_key_admits_its_leading_tone():
    assert ah.harmony_fit(held(67), held(72), 1.0).shares()["consonance"] == 0.0  # G4 under C5
    a_minor = [Note(p, 80, 0.5 * i, 0.5 * i + 0.5) for i, p in enumerate((69, 72, 76, 69, 71, 69, 64, 69))]
    assert ah.key_classes(a_minor) == frozenset({9, 11, 0, 2, 4, 5, 7, 8})  # A natural minor + G#


def test_the_local_harmony_is_the_melody_within_half_a_window():
    far = [Note(72, 80, 0.0, 0.5), Note(74, 80, 1.2, 1.7)]  # the D5 starts 0.7 s after the D3 ends
    assert ah.harmony_fit(held(50, end_s=0.5), far, 2.0).melody_pc_s == 0.0
    near = [Note(72, 80, 0.0, 0.5), Note(74, 80, 0.8, 1.3)]  # within 0.5 s of the D3's last 0.2 s
    assert ah.harmony_fit(held(50, end_s=0.5), near, 2.0).shares()["melody_pc_fit"] == pytest.approx(0.4)


def test_nothing_to_measure_is_none_and_the_window_cuts():
    assert ah.harmony_fit([], MELODY, 2.0).shares() == {"harmony_fit": None, "melody_pc_fit": None, "consonance": None}
    alone = ah.harmony_fit(held(60, start_s=1.5, end_s=2.5), MELODY, 2.0)  # sounds after the melody, cut at 2 s
    assert alone.note_s == pytest.approx(0.5) and alone.shares()["consonance"] is None
    assert ah.in_window([Note(60, 80, 1.0, 3.0), Note(62, 80, 2.0, 2.5)], 2.0) == [Note(60, 80, 1.0, 2.0)]


def test_the_melody_is_the_highest_part_that_sounds_half_the_window():
    low, high = held(48, 52), held(76)
    melody, rest = ah.split_melody([low, high, held(60)], 2.0)
    assert melody == high and sorted(n.pitch for n in rest) == [48, 52, 60]
    late = held(84, start_s=1.5, end_s=2.0)  # a voice that enters late is accompaniment, however high
    assert ah.split_melody([low, late], 2.0) == (low, late)
    assert ah.split_melody([late, held(40, start_s=1.8, end_s=2.0)], 2.0) is None


def test_sounding_time_is_the_union_of_the_notes():
    notes = [Note(60, 80, 0.0, 1.0), Note(64, 80, 0.5, 1.5), Note(67, 80, 2.0, 2.25)]
    assert ah.sounding_s(notes) == pytest.approx(1.75) and ah.sounding_s([]) == 0.0


def test_held_out_sources_are_the_test_split_round_robin():
    sources = ah.held_out_sources()
    assert sources and all(split_of(rel) == "test" and style != "folk" for _, rel, style in sources)
    first_round = [rel.split("/")[0] for _, rel, _ in sources[:3]]
    assert len(set(first_round)) == 3


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("accompany_harmony")
    return {
        "dense": fixed_model(root / "dense.safetensors", note_on=-1.0),
        "silent": fixed_model(root / "silent.safetensors", note_on=-30.0),
    }


def run_json(capsys, model: str) -> dict:
    assert ah.main(["--model", model, "--pieces", "1", "--seconds", "4", "--seed", "5", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    return json.loads(out)


def test_end_to_end_on_a_held_out_piece(models, capsys):
    result = run_json(capsys, models["dense"])
    assert result["benchmark"] == "accompany_harmony" and result["pieces"] == 1 and result["seed"] == 5
    assert split_of(result["piece_ids"][0]) == "test" and result["melody_notes"] > 0
    for side in ("real", "generated"):
        entry = result[side]
        assert entry["notes"] > 0 and entry["notes_per_s"] == pytest.approx(entry["notes"] / 4, abs=1e-3)
        assert all(0.0 <= entry[m] <= 1.0 and 0.0 < entry["chance"][m] <= 1.0 for m in ah.MEASURES)
    assert result["real"]["harmony_fit"] > 0.8  # a real piece's other parts fit its top part
    ratio = result["ratio_generated_to_real"]
    assert ratio["harmony_fit"] == pytest.approx(result["generated"]["harmony_fit"] / result["real"]["harmony_fit"],
                                                 abs=1e-3)  # fmt: skip
    assert result["generation_s"] >= 0 and result["cpu_threads"] == 1 and result["torch"] == torch.__version__


def test_a_silent_accompanist_scores_none_not_perfect(models, capsys):
    result = run_json(capsys, models["silent"])
    assert result["generated"]["notes"] == 0 and result["generated"]["notes_per_s"] == 0.0
    for m in ah.MEASURES:
        assert result["generated"][m] is None and result["generated"]["chance"][m] is None
        assert result["ratio_generated_to_real"][m] is None
    assert result["ratio_generated_to_real"]["notes_per_s"] == 0.0


@pytest.mark.parametrize(
    ("extra", "expected"),
    [(["--pieces", "0"], "--pieces"), (["--seconds", "nan"], "--seconds"), (["--model", "/no/such"], "--model")],
)
def test_bad_input_exits_2_with_one_line(capsys, extra, expected):
    assert ah.main(extra) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and expected in err

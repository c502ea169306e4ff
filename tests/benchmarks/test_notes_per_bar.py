"""benchmarks/notes_per_bar.py: its counts on known notes, and end-to-end runs on tiny models and a tiny corpus.

The models ignore their context (final layer norm's gain zero, its bias picking one embedding column): a
fixed distribution over tokens, so each run knows whether the bars fill at the first pass, or never."""

from __future__ import annotations

import json

import pytest
import torch
from bench_loader import load_benchmark
from model_fixtures import fixed_model

from composer.files.midi_io import write_midi
from composer.song import Note, Song, Track
from composer.train.corpus import build_corpus

npb = load_benchmark("notes_per_bar")


def test_notes_per_bar_counts_onsets_bar_by_bar():
    notes = [Note(60, 90, t, t + 3.0) for t in (0.0, 0.5, 1.99, 2.0, 6.5, 8.0)]  # a long note counts once
    assert npb.notes_per_bar(notes, 0.0, 2.0, 4) == [3, 1, 0, 1], "8.0 is past the fourth bar"
    assert npb.notes_per_bar(notes, 2.0, 2.0, 2) == [1, 0]
    assert npb.describe([0, 2, 4, 6, 8]) == {"mean": 4.0, "p10": 0.8, "p90": 7.2, "bars": 5}
    assert npb.describe([]) is None


def test_piece_bar_counts_take_whole_windows_only():
    notes = [Note(60, 90, k * 0.5, k * 0.5 + 0.4) for k in range(9)]  # 9 notes up to 4.4 s: two whole bars
    assert npb.piece_bar_counts(notes, 2.0) == [4, 4]
    assert npb.spread(list(range(10)), 3) == [0, 4, 9] and npb.spread([1, 2], 5) == [1, 2]


def test_the_request_is_what_g_asks_for():
    request = npb.generate_request("folk", 7, bars=4, bpm=120.0)
    assert (request.label, request.at_s, request.seconds, request.bar_s, request.beat_s) == ("generate", 0, 8, 2, 0.5)
    assert request.seeds == [7] and request.primer == [] and request.count == 1
    options = request.sample_options()
    assert options.style == "folk" and options.temperature == 1.0 and options.top_p == 0.95 and options.key is None


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("notes_per_bar")
    midi_dir = root / "midi"
    midi_dir.mkdir()
    for i in range(12):  # 4 notes in every 2 s, 30 notes: 7 whole bars of 4 each
        notes = [Note(60 + (i + k) % 12, 80, k * 0.5, k * 0.5 + 0.4) for k in range(30)]
        write_midi(Song(tempo_bpm=120.0, tracks=[Track(notes=notes)]), midi_dir / f"p{i:02d}.mid")
    build_corpus(root / "corpus", midi_dir=midi_dir, include_music21=False, workers=1)
    manifest = root / "corpus" / "manifest.jsonl"  # label the pieces with two styles, alternately
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line]
    for i, row in enumerate(rows):
        row["style"] = ("chorale", "folk")[i % 2]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    fixed_model(root / "dense.safetensors", note_on=-1.0)
    fixed_model(root / "silent.safetensors", note_on=-30.0)
    return root


def run_json(capsys, *args: str) -> dict:
    assert npb.main([*args, "--threads", "1", "--styles", "chorale,folk"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    return json.loads(out)


def test_a_model_that_fills_its_bars_needs_no_retry_and_the_corpus_sits_beside_it(setup, capsys):
    corpus = str(setup / "corpus")
    result = run_json(capsys, "--model", str(setup / "dense.safetensors"), "--data", corpus, "--seeds", "2")
    assert result["benchmark"] == "notes_per_bar" and result["corpus_source"] == corpus
    assert sorted(result["styles"]) == ["chorale", "folk"] and result["bars"] == 4 and result["bpm"] == 120.0
    for entry in result["styles"].values():
        assert entry["notes_per_bar"]["bars"] == 2 * 4 and entry["notes_per_bar"]["mean"] > 0
        assert entry["retry_share"] == 0.0 and entry["short_share"] == 0.0 and entry["retry_or_short_share"] == 0.0
        assert entry["corpus"]["notes_per_bar"] == {"mean": 4.0, "p10": 4.0, "p90": 4.0, "bars": 6 * 7}
        assert entry["corpus"]["pieces"] == entry["corpus"]["pieces_of_style"] == 6
    assert result["cpu_threads"] == 1 and result["device"] == "cpu" and result["torch"] == torch.__version__


def test_a_model_that_never_plays_is_retried_and_short_and_no_corpus_is_null(setup, capsys):
    args = ["--model", str(setup / "silent.safetensors"), "--data", str(setup / "nowhere"), "--seeds", "1"]
    result = run_json(capsys, *args, "--bars", "1")
    assert result["corpus_source"] is None
    for entry in result["styles"].values():
        assert entry["notes_per_bar"] == {"mean": 0.0, "p10": 0.0, "p90": 0.0, "bars": 1}
        assert entry["empty_bar_share"] == 1.0
        assert entry["retry_share"] == 1.0 and entry["short_share"] == 1.0 and entry["corpus"] is None


@pytest.mark.parametrize(
    ("extra", "expected"), [(["--seeds", "0"], "--seeds"), (["--styles", "jazz"], "jazz"), (["--bars", "65"], "--bars")]
)
def test_bad_input_exits_2_with_one_line(setup, capsys, extra, expected):
    assert npb.main(["--model", str(setup / "dense.safetensors"), "--data", str(setup / "nowhere"), *extra]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and expected in err

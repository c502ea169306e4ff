"""benchmarks/style_match.py: its per-piece statistics and overlap on known inputs, and one end-to-end run."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch
from bench_loader import load_benchmark

from composer.files.midi_io import write_midi
from composer.model.checkpoint import save_transformer
from composer.model.model import MusicTransformer, TransformerConfig
from composer.song import Note, Song, Track
from composer.tokens import VOCAB_SIZE
from composer.train.corpus import build_corpus

sm = load_benchmark("style_match")


def test_piece_statistics_of_a_known_piece():
    # a C-major triad held 1 s, then a scale of quarter notes at 0.5 s: 3 + 8 notes in 5 s
    chord = [Note(p, 80, 0.0, 1.0) for p in (60, 64, 67)]
    scale = [Note(p, 80, 1.0 + 0.5 * i, 1.4 + 0.5 * i) for i, p in enumerate((60, 62, 64, 65, 67, 69, 71, 72))]
    stats = sm.piece_statistics(chord + scale, 5.0)
    assert stats["pitch_range"] == 12 and stats["notes_per_s"] == pytest.approx(11 / 5)
    assert stats["ioi_s"] == pytest.approx(0.5) and stats["duration_s"] == pytest.approx(0.4)
    assert stats["polyphony"] == pytest.approx((3 + 8) / 9)  # 3 notes at the first onset, 1 at the 8 others
    classes = np.bincount(np.array([60, 64, 67, 60, 62, 64, 65, 67, 69, 71, 72]) % 12, minlength=12) / 11
    nonzero = classes[classes > 0]
    assert stats["pc_entropy"] == pytest.approx(float(-(nonzero * np.log2(nonzero)).sum()))


def test_overlap_is_one_for_the_same_values_and_near_zero_for_far_ones():
    rng = np.random.default_rng(0)
    a = rng.normal(0, 1, 200)
    assert sm.overlap(a, a) == pytest.approx(1.0, abs=0.01)
    assert sm.overlap(a, rng.normal(0, 1, 200)) > 0.8
    assert sm.overlap(a, a + 10) < 0.01
    assert 0.3 < sm.overlap(a, a + 1) < 0.75  # two unit normals a standard deviation apart share ~0.62


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("style_match")
    midi_dir = root / "midi"
    midi_dir.mkdir()
    for i in range(80):
        rng = random.Random(i)
        notes = [Note(rng.randrange(55, 75), 80, k * 0.3, k * 0.3 + 0.25) for k in range(30)]
        write_midi(Song(tracks=[Track(notes=notes)]), midi_dir / f"p{i:02d}.mid")
    build_corpus(root / "corpus", midi_dir=midi_dir, include_music21=False, workers=1)
    manifest = root / "corpus" / "manifest.jsonl"  # label the pieces with two styles, alternately
    rows = [json.loads(line) for line in manifest.read_text().splitlines() if line]
    for i, row in enumerate(rows):
        row["style"] = ("chorale", "folk")[i % 2]
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=64, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    save_transformer(MusicTransformer(cfg), root / "tiny.safetensors")
    return root


def test_end_to_end_prints_one_json_line_per_style(tiny_setup, capsys):
    args = ["--model", str(tiny_setup / "tiny.safetensors"), "--data", str(tiny_setup / "corpus")]
    assert sm.main([*args, "--pieces", "3", "--seconds", "3", "--threads", "1", "--styles", "chorale,folk"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    result = json.loads(out)
    assert sorted(result["styles"]) == ["chorale", "folk"]
    for style in ("chorale", "folk"):
        entry = result["styles"][style]
        if "skipped" in entry:  # the hash split put fewer than 4 of this style's pieces in valid + test
            assert entry["held_out_pieces"] < 4
            continue
        assert entry["generated_pieces"] <= 3 and entry["held_out_pieces"] >= 4
        if entry["overlap_mean"] is not None:
            assert 0.0 <= entry["overlap_mean"] <= 1.0 and set(entry["overlap"]) == set(sm.STATISTICS)
    assert result["goal_met"] is False  # 40 pieces a style: under the goal's 100, nothing is graded
    assert result["cpu_threads"] == 1 and result["torch"] == torch.__version__


@pytest.mark.parametrize(
    ("extra", "expected"),
    [(["--pieces", "1"], "--pieces"), (["--styles", "jazz"], "jazz"), (["--data", "{root}/nowhere"], "nowhere")],
)
def test_bad_input_exits_2_with_one_line(tiny_setup, capsys, extra, expected):
    args = ["--model", str(tiny_setup / "tiny.safetensors"), "--data", str(tiny_setup / "corpus")]
    extra = [e.replace("{root}", str(tiny_setup)) for e in extra]
    assert sm.main([*args, "--pieces", "2", "--seconds", "2", *extra]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and expected in err

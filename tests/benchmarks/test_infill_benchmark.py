"""benchmarks/infill.py: its seam measures and true-middle tokens on known inputs, one end-to-end run."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from composer.files.midi_io import write_midi
from composer.model.checkpoint import save_transformer
from composer.model.constrained import tokens_steps
from composer.model.model import MusicTransformer, TransformerConfig
from composer.song import Note, Song, Track
from composer.tokens import VOCAB_SIZE, decode
from composer.train.corpus import build_corpus

ROOT = Path(__file__).resolve().parents[2]


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("infill_benchmark", ROOT / "benchmarks" / "infill.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["infill_benchmark"] = module
    spec.loader.exec_module(module)
    return module


bench = _load_benchmark()


def test_seam_measures_pitch_classes_and_the_interval_across_the_gap_end():
    fill = [Note(48, 80, 1.0, 1.5), Note(60, 80, 3.2, 3.9), Note(64, 80, 3.5, 4.0)]  # gap ends at 4 s
    after = [Note(67, 80, 0.0, 0.5), Note(52, 80, 0.0, 0.5), Note(71, 80, 1.5, 2.0)]  # seconds from the gap end
    figures = bench.seam(fill, after, end_s=4.0, gap_s=4.0)
    assert figures["pc_jaccard"] == pytest.approx(1 / 3)  # {0, 4} vs {7, 4}
    assert figures["interval_semitones"] == 3  # 64 (last onset) to 67 (highest of the first onset)
    assert figures["notes_per_s"] == pytest.approx(0.75)
    empty = bench.seam([], after, end_s=4.0, gap_s=4.0)
    assert empty["pc_jaccard"] == 0.0 and empty["interval_semitones"] is None


def test_the_true_middle_spans_the_gap_exactly():
    notes = [Note(60, 80, 0.5, 1.0), Note(62, 90, 2.0, 2.5), Note(64, 90, 2.9, 4.5), Note(65, 80, 4.0, 4.2)]
    ids = bench.gap_tokens(notes, 2.0, 4.0)
    assert tokens_steps(ids) == 200
    assert [(n.pitch, round(n.start_s, 2), round(n.end_s, 2)) for n in decode(ids)] == [(62, 0.0, 0.5), (64, 0.9, 2.0)]


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory) -> Path:
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("infill_bench")
    (root / "midi").mkdir()
    for seed in range(40):
        tonic = 48 + seed % 12
        notes = [Note(tonic + (i * 7) % 12, 80, i * 0.25, i * 0.25 + 0.2) for i in range(96)]
        write_midi(Song(tracks=[Track(notes=notes)]), root / "midi" / f"p{seed:02d}.mid")
    summary = build_corpus(root / "corpus", midi_dir=root / "midi", include_music21=False, workers=1)
    assert summary["pieces_per_split"]["test"] >= 2
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=64, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0)
    save_transformer(MusicTransformer(cfg), root / "tiny.safetensors")
    return root


def test_end_to_end_prints_one_json_line(tiny_setup, capsys):
    args = ["--model", str(tiny_setup / "tiny.safetensors"), "--data", str(tiny_setup / "corpus")]
    assert bench.main([*args, "--pieces", "2", "--gap-seconds", "2", "--suffix-seconds", "2", "--threads", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["benchmark"] == "infill" and result["pieces"] == 2
    for table in ("suffix_nll", "later_nll", "seam"):
        assert set(result[table]) == {"k1", "k8", "truth"}
    # the rerank keeps the likeliest suffix of K fills, candidate 0 (K=1) among them; per token, the count of
    # suffix tokens may differ by a velocity token between fills, hence the slack
    assert result["suffix_nll"]["k8"] <= result["suffix_nll"]["k1"] + 0.05
    assert 0 < result["middle_nll_given_prefix"] < 10


@pytest.mark.parametrize(
    ("extra", "expected"), [(["--candidates", "1"], "--candidates"), (["--data", "/nonexistent"], "nonexistent")]
)
def test_bad_input_exits_2_with_one_line(tiny_setup, capsys, extra, expected):
    args = ["--model", str(tiny_setup / "tiny.safetensors"), "--data", str(tiny_setup / "corpus"), "--pieces", "1"]
    assert bench.main([*args, *extra]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and expected in err

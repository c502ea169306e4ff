"""benchmarks/music_stats.py: its measures on known inputs, and one end-to-end run on a tiny model and corpus."""

from __future__ import annotations

import importlib.util
import json
import random
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from composer.files.midi_io import write_midi
from composer.model.checkpoint import save_transformer
from composer.model.model import MusicTransformer, TransformerConfig
from composer.song import Note, Song, Track
from composer.tokens import VOCAB_SIZE
from composer.train.corpus import build_corpus

ROOT = Path(__file__).resolve().parents[2]


def _load_benchmark():
    spec = importlib.util.spec_from_file_location("music_stats", ROOT / "benchmarks" / "music_stats.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["music_stats"] = module
    spec.loader.exec_module(module)
    return module


ms = _load_benchmark()


def bar_of(pitches: list[int], bar: int) -> list[Note]:
    """Four quarter notes (120 BPM: 0.5 s each) in bar `bar` (2 s per bar)."""
    return [Note(p, 80, bar * 2.0 + i * 0.5, bar * 2.0 + i * 0.5 + 0.4) for i, p in enumerate(pitches)]


def test_loop_share_counts_windows_that_repeat_the_previous_four_bars():
    pattern = [[60, 62, 64, 65], [67, 65, 64, 62], [60, 64, 67, 72], [71, 67, 62, 59]]
    looped = [n for bar in range(16) for n in bar_of(pattern[bar % 4], bar)]
    assert ms.loop_share([looped]) == 1.0
    changed = [n for bar in range(16) for n in bar_of([61, 61, 61, 61] if bar == 9 else pattern[bar % 4], bar)]
    # windows start at bars 4..12; those holding bar 9 or bar 13 (which no longer matches bar 9) differ
    assert ms.loop_share([changed]) == pytest.approx(2 / 9)
    shifted = [Note(n.pitch, 80, n.start_s + 0.02, n.end_s) for n in looped]  # within a sixteenth: same grid
    assert ms.loop_share([shifted]) == 1.0
    rng = random.Random(0)
    random_piece = [n for bar in range(16) for n in bar_of([rng.randrange(48, 72) for _ in range(4)], bar)]
    assert ms.loop_share([random_piece]) == 0.0
    assert ms.loop_share([[]]) == 0.0


def test_stuck_share_counts_notes_closed_by_the_cap():
    notes = [Note(60, 80, 0.0, 8.0), Note(62, 80, 1.0, 8.995), Note(64, 80, 0.0, 7.5), Note(65, 80, 0.0, 0.3)]
    assert ms.stuck_share(notes) == 0.5
    assert ms.stuck_share([]) == 0.0


def test_histograms_are_normalized_and_overlap_is_the_shared_area():
    piece = [Note(60 + i % 12, 80, i * 0.25, i * 0.25 + 0.2) for i in range(48)]
    other = [Note(61, 80, i * 1.0, i * 1.0 + 3.0) for i in range(10)]
    a, b = ms.features([piece]), ms.features([other])
    for feats in (a, b):
        for name, hist in feats.items():
            assert hist.sum() == pytest.approx(1.0), name
    assert np.allclose(a["pitch_class"], 1 / 12)
    assert ms.overlap_area(a["pitch_class"], a["pitch_class"]) == pytest.approx(1.0)
    assert ms.overlap_area(a["pitch_class"], b["pitch_class"]) == pytest.approx(1 / 12)
    assert ms.overlap_area(a["ioi"], b["ioi"]) == 0.0  # 0.25 s vs 1 s, in different log bins
    assert ms.overlap_area(a["pitch_range"], b["pitch_range"]) == 0.0  # 11 vs 0 semitones


def test_crop_keeps_what_starts_before_the_end_and_cuts_it_there():
    notes = [Note(60, 80, 0.0, 1.0), Note(62, 80, 2.5, 4.0), Note(64, 80, 3.0, 3.5)]
    assert ms.crop(notes, 3.0) == [Note(60, 80, 0.0, 1.0), Note(62, 80, 2.5, 3.0)]


@pytest.fixture(scope="module")
def tiny_setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("music_stats")
    midi_dir = root / "midi"
    midi_dir.mkdir()
    for i in range(60):
        rng = random.Random(i)
        notes = [Note(rng.randrange(55, 75), 80, k * 0.3, k * 0.3 + 0.25) for k in range(30)]
        write_midi(Song(tracks=[Track(notes=notes)]), midi_dir / f"p{i:02d}.mid")
    summary = build_corpus(root / "corpus", midi_dir=midi_dir, include_music21=False, workers=1)
    assert summary["pieces_per_split"]["test"] >= 2
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=64, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    save_transformer(MusicTransformer(cfg), root / "tiny.safetensors")
    return root


def test_end_to_end_prints_one_json_line(tiny_setup, capsys):
    torch.set_num_threads(1)
    args = ["--model", str(tiny_setup / "tiny.safetensors"), "--data", str(tiny_setup / "corpus")]
    assert ms.main([*args, "--pieces", "5", "--seconds", "4", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert len(out.splitlines()) == 1
    result = json.loads(out)
    for name in ("pitch_class", "pitch_range", "ioi", "note_length"):
        assert 0.0 <= result[f"overlap_{name}"] <= 1.0
    assert result["generated_pieces"] == 5 and 2 <= result["reference_pieces"] <= 5
    assert 0.0 <= result["generated_stuck_share"] <= 1.0 and 0.0 <= result["generated_loop_share"] <= 1.0
    assert result["generated_tokens"] > 0 and result["cpu_threads"] == 1 and result["torch"] == torch.__version__
    assert sum(result["pitch_class_generated"]) == pytest.approx(1.0, abs=1e-3)
    assert ms.main([*args, "--pieces", "5", "--seconds", "4", "--threads", "1"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert {k: v for k, v in again.items() if "wall" not in k and "per_s" not in k} == {
        k: v for k, v in result.items() if "wall" not in k and "per_s" not in k
    }  # fixed seeds: the same figures


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (["--pieces", "0"], "--pieces"),
        (["--seconds", "-3"], "--seconds"),
        (["--model", "{root}/missing.safetensors"], "missing.safetensors"),
        (["--data", "{root}/nowhere"], "nowhere"),
    ],
)
def test_bad_input_exits_2_with_one_line(tiny_setup, capsys, extra, expected):
    args = ["--model", str(tiny_setup / "tiny.safetensors"), "--data", str(tiny_setup / "corpus")]
    extra = [e.replace("{root}", str(tiny_setup)) for e in extra]
    assert ms.main([*args, "--pieces", "2", "--seconds", "2", *extra]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and expected in err


def test_yang_lerch_overlap_is_high_for_alike_sets_and_low_for_unlike_ones():
    rng = random.Random(1)

    def piece(low: int, high: int, step_s: float) -> list[Note]:
        return [Note(rng.randrange(low, high), 80, k * step_s, k * step_s + step_s * 0.9) for k in range(40)]

    real = [piece(55, 75, 0.25) for _ in range(12)]
    alike = [piece(55, 75, 0.25) for _ in range(12)]
    unlike = [piece(30, 100, 1.5) for _ in range(12)]
    same = ms.yang_lerch_overlap(alike, real)
    other = ms.yang_lerch_overlap(unlike, real)
    assert set(same) == {"pitch_class", "pitch_range", "ioi", "note_length"}
    for name in same:
        assert 0.0 <= other[name] <= 1.0 and 0.0 <= same[name] <= 1.0
        assert same[name] > 0.6, name
    for name in ("pitch_range", "ioi", "note_length"):
        assert other[name] < 0.3, name
    assert ms.yang_lerch_overlap(alike[:1], real)["ioi"] is None  # one piece has no intra-set distances

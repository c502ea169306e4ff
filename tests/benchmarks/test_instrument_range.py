"""benchmarks/instrument_range.py: one end-to-end run on a tiny model, its melodic step, and bad input."""

from __future__ import annotations

import json

import pytest
import torch
from bench_loader import load_benchmark

from composer.model.checkpoint import save_transformer
from composer.model.model import MusicTransformer, TransformerConfig
from composer.song import Note
from composer.tokens import VOCAB_SIZE

ir = load_benchmark("instrument_range")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    torch.manual_seed(0)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=64, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    path = tmp_path_factory.mktemp("ir") / "tiny.safetensors"
    save_transformer(MusicTransformer(cfg), path)
    return path


def test_melodic_step_follows_the_top_note_of_each_onset():
    notes = [Note(60, 80, 0.0, 0.5), Note(48, 80, 0.0, 0.5), Note(64, 80, 0.5, 1.0), Note(62, 80, 1.0, 1.5)]
    assert ir.melodic_step(notes) == pytest.approx((4 + 2) / 2)
    assert ir.melodic_step(notes[:1]) is None


def test_end_to_end_the_range_holds(tiny, capsys):
    args = ["--model", str(tiny), "--programs", "33,72", "--pieces", "2", "--seconds", "4", "--threads", "1"]
    assert ir.main(args) == 0
    result = json.loads(capsys.readouterr().out)
    for program in ("33", "72"):
        for way in ("masked", "registered"):
            ranged = result["programs"][program][way]
            assert ranged["notes"] == 0 or ranged["in_range"] == 1.0
    assert result["programs"]["33"]["range"] == [28, 67] and result["cpu_threads"] == 1
    assert result["programs"]["33"]["register_shift"] == -24 and result["programs"]["72"]["register_shift"] == 24


@pytest.mark.parametrize(
    ("extra", "expected"),
    [(["--programs", "200"], "--programs"), (["--programs", "x"], "--programs"), (["--style", "jazz"], "jazz")],
)
def test_bad_input_exits_2_with_one_line(tiny, capsys, extra, expected):
    assert ir.main(["--model", str(tiny), "--pieces", "1", "--seconds", "1", *extra]) == 2
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1 and expected in err

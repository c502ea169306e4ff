"""Training: loss goes down, checkpoints, resume, export, and DDP under torchrun."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from torchrun_helpers import assert_ranks_agree, torchrun_train

from composer.model.checkpoint import load_transformer
from composer.model.model import TransformerConfig
from composer.tokens import FUTURE, NOTE_ON_OFFSET, TIME_SHIFT_OFFSET, VOCAB_SIZE, note_on, style_token, time_shift
from composer.train.dataset import TokenCorpus, stretch_time, transpose
from composer.train.train import TrainConfig, train

TINY = dict(vocab_size=VOCAB_SIZE, max_len=64, n_layer=2, n_head=2, d_model=32, d_ff=64, dropout=0.0)


def read_log(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_splits_are_by_piece_and_batches_are_well_formed(tiny_corpus):
    summary = json.loads((tiny_corpus / "summary.json").read_text())
    assert sum(summary["pieces_per_split"].values()) == 40
    corpus = TokenCorpus(tiny_corpus, "train")
    batch = corpus.random_batch(np.random.default_rng(0), 8, 64)
    assert batch.shape == (8, 65) and batch.max() < VOCAB_SIZE
    style_ids = set(batch[:, 0].tolist())
    assert all(s < NOTE_ON_OFFSET for s in style_ids)


def test_augmentation_keeps_tokens_valid():
    window = np.array([note_on(120), time_shift(100), note_on(3), time_shift(10)])
    assert transpose(window, 6)[0] == note_on(126)
    up = transpose(window, 10)  # clamped to +7, the most that keeps pitch 120 in range
    assert up[0] == note_on(127) and up[2] == note_on(10)
    down = transpose(window, -5)
    assert down[2] == note_on(0)
    stretched = stretch_time(window, 1.05, np.random.default_rng(0))
    shifts = stretched[[1, 3]] - TIME_SHIFT_OFFSET + 1
    assert shifts[0] == 100 and shifts[1] in (10, 11)


def test_training_learns_checkpoints_and_resumes(tiny_corpus, tmp_path):
    torch.set_num_threads(1)
    out = tmp_path / "run"
    tc = TrainConfig(
        data_dir=str(tiny_corpus),
        out_dir=str(out),
        steps=60,
        batch_size=8,
        lr=3e-3,
        warmup_steps=5,
        eval_every=30,
        eval_tokens=3000,
        progress=False,
    )
    summary = train(tc, TransformerConfig(**TINY))
    log = read_log(out / "log.jsonl")
    valid = [e["valid_nll"] for e in log if "valid_nll" in e]
    assert valid[-1] < np.log(VOCAB_SIZE) - 2.0  # far below the uniform 5.98 nats
    assert summary["best_valid_nll"] == pytest.approx(min(valid), abs=1e-3)
    assert (out / "best.safetensors").exists()
    model, extra = load_transformer(out / "last.safetensors")
    assert extra["step"] == 60

    resumed = train(TrainConfig(**{**tc.__dict__, "steps": 70, "resume": True}), TransformerConfig(**TINY))
    assert resumed["step"] == 70
    steps = [e["step"] for e in read_log(out / "log.jsonl") if "loss" in e]
    assert steps[-1] == 70 and 60 not in steps[steps.index(60) + 1 :]


@pytest.mark.slow
def test_torchrun_two_gloo_ranks_end_with_identical_weights(tiny_corpus, tmp_path):
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29533",
        "-m",
        "tui.cli",
        "train",
        "transformer",
        "--data",
        str(tiny_corpus),
        "--out",
        str(out),
        "--steps",
        "8",
        "--batch-size",
        "4",
        "--context",
        "32",
        "--layers",
        "1",
        "--heads",
        "2",
        "--d-model",
        "16",
        "--d-ff",
        "32",
        "--eval-every",
        "4",
        "--eval-tokens",
        "500",
        "--threads",
        "1",
    ]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    end = [e for e in read_log(out / "log.jsonl") if e.get("event") == "end"][-1]
    start = [e for e in read_log(out / "log.jsonl") if e.get("event") == "start"][-1]
    assert start["world"] == 2
    checksums = end["rank_checksums"]
    assert len(checksums) == 2 and checksums[0] == checksums[1]


@pytest.mark.slow
def test_torchrun_ranks_stop_together_under_a_budget(tiny_corpus, tmp_path):
    sizes = ["--context", "32", "--layers", "1", "--heads", "2", "--d-model", "16", "--d-ff", "32", "--batch-size", "4"]
    budget = ["--steps", "100000", "--max-minutes", "0.04", "--eval-every", "1", "--eval-tokens", "500"]  # see
    # tests/synth/test_train_ddp.py: rank 0 validates after every step, so the ranks' own clocks differ
    start, end = torchrun_train("transformer", tmp_path / "ddp", "--data", str(tiny_corpus), *sizes, *budget)
    assert_ranks_agree(start, end)
    assert 0 < end["step"] < 100000


def corpus_of(tmp_path, pieces):
    """A built-corpus folder by hand: `pieces` is [(style, tokens)], every piece in the train split."""
    rows, offset = [], 0
    for i, (style, length) in enumerate(pieces):
        rows.append({"piece_id": f"p{i}", "split": "train", "offset": offset, "tokens": length, "style": style})
        offset += length
    np.save(tmp_path / "train.npy", np.full(offset, NOTE_ON_OFFSET + 60, dtype=np.uint16))
    (tmp_path / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return TokenCorpus(tmp_path, "train")


def test_style_alpha_balances_the_styles_and_keeps_length_within_a_style(tmp_path):
    # 9,000 folk tokens in 3 pieces against 1,000 chorale tokens in 2: the corpus's imbalance, small.
    corpus = corpus_of(tmp_path, [("folk", 3000)] * 3 + [("chorale", 400), ("chorale", 600)])
    by_tokens = corpus.piece_weights(1.0)
    assert by_tokens == pytest.approx(corpus.index.lengths / 10_000)
    alike = corpus.piece_weights(0.0)
    assert alike.sum() == pytest.approx(1.0)
    assert alike[:3].sum() == pytest.approx(0.5) and alike[3:].sum() == pytest.approx(0.5)
    assert alike[4] / alike[3] == pytest.approx(1.5)  # within a style still by length
    half = corpus.piece_weights(0.5)
    assert half[3:].sum() == pytest.approx(1 / (1 + 3))  # sqrt(1000) : sqrt(9000) = 1 : 3
    batch = corpus.random_batch(np.random.default_rng(0), 400, 16, augment=False, weights=alike)
    chorale = int((batch[:, 0] == style_token("chorale")).sum())
    assert 150 < chorale < 250  # about half the windows, against a tenth by tokens


def test_init_starts_from_a_model_file(tiny_corpus, tmp_path):
    torch.set_num_threads(1)
    base = dict(data_dir=str(tiny_corpus), batch_size=8, lr=3e-3, warmup_steps=5, eval_every=20, progress=False)
    first = train(
        TrainConfig(**base, out_dir=str(tmp_path / "a"), steps=40, eval_tokens=3000), TransformerConfig(**TINY)
    )
    tuned = TrainConfig(
        **base, out_dir=str(tmp_path / "b"), steps=1, eval_tokens=3000, init=str(tmp_path / "a" / "best.safetensors")
    )
    fresh = TrainConfig(**base, out_dir=str(tmp_path / "c"), steps=1, eval_tokens=3000)
    after_one_step = train(tuned, TransformerConfig(**TINY))["best_valid_nll"]
    from_scratch = train(fresh, TransformerConfig(**TINY))["best_valid_nll"]
    assert after_one_step < from_scratch - 1.0  # it kept what the first run learned
    assert after_one_step == pytest.approx(first["best_valid_nll"], abs=0.3)


def test_fim_rate_trains_on_infilling_examples_and_marks_the_model(tiny_corpus, tmp_path):
    torch.set_num_threads(1)
    corpus = TokenCorpus(tiny_corpus, "train")
    batch = corpus.random_batch(np.random.default_rng(0), 16, 64, fim_rate=1.0)
    assert batch.shape == (16, 65) and (batch == FUTURE).any(axis=1).sum() >= 8
    assert not (corpus.random_batch(np.random.default_rng(0), 16, 64) == FUTURE).any()
    tc = TrainConfig(data_dir=str(tiny_corpus), out_dir=str(tmp_path), steps=2, batch_size=4, warmup_steps=1)
    train(TrainConfig(**{**tc.__dict__, "fim_rate": 0.5, "progress": False}), TransformerConfig(**TINY))
    model, _ = load_transformer(tmp_path / "last.safetensors")
    assert model.cfg.fim


def test_per_style_validation_takes_an_equal_share_of_each_style(tmp_path):
    corpus = corpus_of(tmp_path, [("folk", 3000)] * 3 + [("chorale", 400), ("chorale", 600)])
    first = corpus.eval_windows(64, 1000)
    assert {int(w[0]) for w in first} == {style_token("folk")}  # the split's first tokens: all folk
    windows = corpus.eval_windows(64, 1000, per_style=True)
    tokens = {s: sum(len(w) - 1 for w in windows if w[0] == style_token(s)) for s in ("folk", "chorale")}
    assert 500 <= tokens["folk"] <= 600 and 500 <= tokens["chorale"] <= 600

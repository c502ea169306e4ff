"""`composer train judge`: trains on judge_train only, learns separable families, writes a loadable fp16 file."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from judge_fixtures import FAMILIES, write_prompt_data
from safetensors import safe_open

from synth.prompt.judge import load_judge
from synth.train.train_judge import augment, split_valid
from tui.cli import main

TINY = ["--channels", "4,8,8,8", "--feature-dim", "8", "--batch-size", "8", "--crop-frames", "128"]


def test_trains_on_judge_train_only_and_exports(tmp_path, capsys):
    data = write_prompt_data(tmp_path / "prompt")  # its train split is poisoned: NaN mels, label 99
    out, export = tmp_path / "run", tmp_path / "models" / "judge" / "model.safetensors"
    argv = ["train", "judge", "--data", str(data), "--out", str(out), "--steps", "60", "--eval-every", "20", *TINY]
    assert main([*argv, "--warmup-steps", "5", "--lr", "3e-3", "--threads", "1", "--export", str(export)]) == 0
    lines = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    start, end = lines[0], lines[-1]
    assert start["event"] == "start" and start["split"] == "judge_train"
    assert start["train_clips"] + start["valid_clips"] == 30 and start["valid_clips"] == 3
    assert [e["step"] for e in lines if "valid_loss" in e] == [20, 40, 60]
    assert all(np.isfinite(e["loss"]) for e in lines if "loss" in e)
    assert end["event"] == "end" and end["step"] == 60 and end["heldout"]["n"] == 9
    # Three families that sound nothing alike: the tiny judge tells them apart on held-out clips.
    assert end["heldout"]["family_accuracy"] >= 0.8 and end["heldout"]["drums_vs_pitched_accuracy"] >= 0.8
    assert end["heldout"]["from_int16_audio"]["n"] == 9 and end["heldout"]["from_int16_audio"]["family_accuracy"] >= 0.8
    judge, extra = load_judge(export)
    assert judge.cfg.families == FAMILIES and judge.cfg.channels == (4, 8, 8, 8)
    assert extra["heldout"] == end["heldout"] and extra["step"] == end["best_step"]
    with safe_open(str(export), framework="pt") as f:
        assert f.get_tensor("embed.weight").dtype == torch.float16
    card = (export.parent / "README.md").read_text()
    assert "composer train judge " in card and "--steps 60" in card
    assert f"family accuracy: {end['heldout']['family_accuracy']}" in card
    assert (export.parent / "train_log.jsonl").exists()
    printed = capsys.readouterr().out
    assert "held-out (9 clips) family accuracy" in printed and "exported" in printed
    # Resume (the shared loop's): on from step 60's last checkpoint, the log goes on, the best step is kept.
    assert main([*argv, "--threads", "1", "--steps", "70", "--resume"]) == 0
    lines = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert sum(e.get("event") == "start" for e in lines) == 1 and [e["step"] for e in lines if "loss" in e][-1] == 70
    assert lines[-1]["step"] == 70 and lines[-1]["best_step"] in (20, 40, 60, 70)


def test_augment_crops_and_gains_exactly():
    rng = np.random.default_rng(0)
    mel = np.full((4, 80, 300), -3.0, np.float16)
    mel[:, :, 100:] = np.log(1e-5)  # silence floor
    x = augment(mel, rng, 128, gain_db=12.0)
    assert x.shape == (4, 80, 128) and x.dtype == torch.float32
    assert x.min() >= np.log(1e-5) - 1e-4  # the floor stays the floor
    loud = x[x > -10]
    assert ((loud + 3.0).abs() <= 12 * np.log(10) / 20 + 1e-3).all()  # +-12 dB as a log-magnitude shift
    # A noise floor lifts silence to at most log(1e-5 + 1e-3) and barely moves loud bands; no gain to isolate it.
    x = augment(mel, np.random.default_rng(1), 128, gain_db=0.0, noise_floor_max=1e-3, noise_floor_share=1.0)
    quiet = x[:, :, -1]  # inside the silent part for every crop start (crops end at or after frame 128)
    assert (quiet > np.log(1e-5) + 1e-3).all() and (quiet <= np.log(2e-5 + 1e-3) + 1e-4).all()
    assert quiet.std() > 0.1  # each clip its own floor
    loud = x[x > -4]
    assert ((loud + 3.0).abs() < 0.03).all()


def test_valid_split_is_seeded_and_disjoint():
    train, valid = split_valid(30, 0.1, seed=0)
    assert len(valid) == 3 and len(train) == 27 and not set(train) & set(valid)
    assert (split_valid(30, 0.1, seed=0)[1] == valid).all()
    assert len(split_valid(2, 0.1, seed=0)[1]) == 1


@pytest.mark.parametrize(
    "extra,message",
    [(["--crop-frames", "100"], "--crop-frames"), (["--channels", "4,x"], "--channels"), (["--steps", "0"], "--steps")],
)
def test_bad_options_are_one_line(tmp_path, capsys, extra, message):
    data = write_prompt_data(tmp_path / "prompt", {"judge_train": 3, "heldout": 3})
    assert main(["train", "judge", "--data", str(data), "--out", str(tmp_path / "run"), *extra]) == 2
    assert message in capsys.readouterr().err


def test_missing_data_is_one_line(tmp_path, capsys):
    assert main(["train", "judge", "--data", str(tmp_path), "--steps", "1"]) == 2
    assert "manifest.json" in capsys.readouterr().err

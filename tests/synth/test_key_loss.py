"""The diffusion loss's key term: what it weighs (a pitch class's pattern, over the clip) and what it does not."""

from __future__ import annotations

import json

import numpy as np
import torch
from test_train_diffusion import TINY, read_log, write_prompt_data

from synth.prompt.controls import pitch_class_mel_images
from synth.train.key_loss import key_error, pitch_class_directions
from tui.cli import main

M, F = 80, 16


def pattern(values: np.ndarray, norm: float = 1.0) -> torch.Tensor:
    """(1, M, F): the same band pattern in every frame, scaled to `norm` over the bands."""
    v = torch.as_tensor(values, dtype=torch.float32)
    return (v / v.norm() * norm)[None, :, None].expand(1, M, F).contiguous()


def test_directions_are_unit_and_tell_the_classes_apart():
    d = pitch_class_directions()
    assert d.shape == (12, M)
    assert torch.allclose(d.norm(dim=1), torch.ones(12), atol=1e-5)
    assert torch.linalg.matrix_rank(d) == 11  # centred over the classes: twelve directions in eleven dimensions


def test_a_pitch_class_error_costs_far_more_than_a_level_or_a_tilt():
    d, std = pitch_class_directions(), torch.ones(M)
    d_sharp = key_error(pattern(pitch_class_mel_images()[2]), std, d)
    level = key_error(pattern(np.ones(M)), std, d)
    tilt = key_error(pattern(np.linspace(-1, 1, M)), std, d)
    assert key_error(torch.zeros(1, M, F), std, d) == 0
    assert level < 0.05 * d_sharp and tilt < 0.15 * d_sharp


def test_it_weighs_the_clip_mean_and_the_bands_in_log_mel_units():
    d = pitch_class_directions()
    e = pattern(pitch_class_mel_images()[7])
    alternating = e * torch.tensor([1.0, -1.0] * (F // 2))  # the frames' errors cancel over the clip
    assert key_error(alternating, torch.ones(M), d) < 1e-10
    assert torch.isclose(key_error(e, torch.full((M,), 2.0), d), 4 * key_error(e, torch.ones(M), d))


def test_training_with_a_key_weight_logs_the_flow_loss_beside_it(tmp_path):
    data, _ = write_prompt_data(tmp_path / "prompt")
    out = tmp_path / "run"
    argv = ["train", "diffusion", "--data", str(data), "--out", str(out), "--eval-every", "10", *TINY, "--steps", "20"]
    assert main([*argv, "--threads", "1", "--key-weight", "3"]) == 0
    rows = [e for e in read_log(out / "log.jsonl") if "valid_flow" in e]
    assert [e["step"] for e in rows] == [10, 20]
    assert all(e["valid_loss"] > e["valid_flow"] > 0 for e in rows)  # the key term adds to the flow loss
    assert json.loads((out / "log.jsonl").read_text().splitlines()[0])["train"]["key_weight"] == 3.0


def test_a_bad_key_weight_exits_2(tmp_path, capsys):
    data, _ = write_prompt_data(tmp_path / "prompt")
    assert main(["train", "diffusion", "--data", str(data), "--key-weight", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--key-weight" in err and len(err.strip().splitlines()) == 1

"""The audio, diffusion and judge trainers under torchrun (two gloo ranks): with a wall-time budget every
rank stops at rank 0's step, with its learning rate and the same weights (the transformer: test_train.py)."""

from __future__ import annotations

import pytest
from judge_fixtures import write_prompt_data as write_judge_data
from neural_fixtures import write_dataset
from test_train_diffusion import write_prompt_data as write_diffusion_data
from torchrun_helpers import assert_ranks_agree, torchrun_train

# Rank 0 validates (and writes a checkpoint) after every step while rank 1 waits: their own clocks differ by
# that much, so without rank 0's clock on both they would stop at different steps (and the run would hang).
BUDGET = ["--steps", "100000", "--max-minutes", "0.04", "--eval-every", "1", "--warmup-steps", "5"]
SIZES = {
    "vocoder": ["--channels", "16", "--hidden", "32", "--blocks", "1", "--batch-size", "2", "--segment-frames", "8"],
    "renderer": ["--channels", "16", "--hidden", "32", "--blocks", "1", "--batch-size", "2", "--segment-frames", "8"],
    "diffusion": ["--d-model", "32", "--layers", "1", "--heads", "2", "--batch-size", "4", "--valid-clips", "8"],
    "judge": ["--channels", "4,8,8,8", "--feature-dim", "8", "--batch-size", "8", "--crop-frames", "128"],
}


def data_for(kind: str, tmp_path):
    if kind in ("vocoder", "renderer"):
        return write_dataset(tmp_path / "audio")
    if kind == "diffusion":
        return write_diffusion_data(tmp_path / "prompt")[0]
    return write_judge_data(tmp_path / "prompt")


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(SIZES))
def test_torchrun_ranks_stop_together_under_a_budget(tmp_path, kind):
    out = tmp_path / "run"
    start, end = torchrun_train(kind, out, "--data", str(data_for(kind, tmp_path)), *BUDGET, *SIZES[kind])
    assert_ranks_agree(start, end)
    assert 0 < end["step"] < 100000 and (out / "best.safetensors").exists()
    if kind == "judge":
        assert end["heldout"]["n"] == 9

"""synth/prompt/judge.py: shapes, size, fp16 save/load; synth/train/judge_eval.py: accuracies, the Frechet distance."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors import safe_open

from composer.errors import ComposerError
from composer.model.checkpoint import read_metadata, save_model
from synth.prompt.judge import KIND, Judge, JudgeConfig, family_index, load_judge, save_judge
from synth.train.judge_eval import accuracy_report, frechet_distance, frechet_from_stats, judge_outputs

FAMILIES = ("piano", "chromatic percussion", "organ", "guitar", "bass", "strings", "ensemble", "brass", "reed",
            "pipe", "synth lead", "synth pad", "drums")  # fmt: skip
TINY = {"channels": (4, 8, 8, 8), "feature_dim": 8}


def tiny_judge(seed: int = 0) -> Judge:
    torch.manual_seed(seed)
    return Judge(JudgeConfig(families=FAMILIES, **TINY)).eval()


@pytest.mark.parametrize("n_frames", [128, 200, 512])
def test_any_length_from_128_frames(n_frames):
    judge = tiny_judge()
    logits, features = judge(torch.randn(3, 80, n_frames) - 5)
    assert logits.shape == (3, len(FAMILIES)) and features.shape == (3, 8)
    assert (features >= 0).all() and torch.isfinite(logits).all()


def test_bad_inputs_and_configs_are_refused():
    judge = tiny_judge()
    with pytest.raises(ValueError, match="T >= 128"):
        judge(torch.zeros(1, 80, 127))
    with pytest.raises(ValueError, match="80"):
        judge(torch.zeros(1, 64, 200))
    with pytest.raises(ValueError, match="families"):
        JudgeConfig(families=("drums",))
    with pytest.raises(ValueError, match="families"):
        JudgeConfig(families=("drums", "drums"))
    with pytest.raises(ValueError, match="pooling"):
        JudgeConfig(families=FAMILIES, channels=(4, 4, 4, 4, 4))  # 80 bands do not halve five times


def test_the_shipped_size_is_small():
    judge = Judge(JudgeConfig(families=FAMILIES, channels=(16, 32, 64, 128)))
    assert judge.num_params() < 500_000
    assert family_index(judge.cfg, "drums") == 12


def test_fp16_file_round_trip(tmp_path):
    judge = tiny_judge()
    with torch.no_grad():  # give the batch norms statistics of their own
        for bn in (m for m in judge.modules() if isinstance(m, torch.nn.BatchNorm2d)):
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.5, 2.0)
    path = tmp_path / "judge" / "model.safetensors"
    save_judge(judge, path, extra={"step": 3})
    loaded, extra = load_judge(path)
    assert extra == {"step": 3} and loaded.cfg == judge.cfg and loaded.cfg.families == FAMILIES
    assert json.loads(read_metadata(path)["config"])["families"] == list(FAMILIES)
    x = torch.randn(2, 80, 160) - 5
    with torch.no_grad():
        (a, fa), (b, fb) = judge(x), loaded(x)
    torch.testing.assert_close(a, b, atol=2e-2, rtol=2e-2)
    torch.testing.assert_close(fa, fb, atol=2e-2, rtol=2e-2)
    with safe_open(str(path), framework="pt") as f:
        assert f.get_tensor("head.weight").dtype == torch.float16


def test_another_kind_is_refused(tmp_path):
    path = tmp_path / "other.safetensors"
    save_model(tiny_judge(), path, "vocoder")
    with pytest.raises(ComposerError, match=KIND):
        load_judge(path)
    with pytest.raises(ComposerError, match="no such model file"):
        load_judge(tmp_path / "missing.safetensors")


def test_judge_outputs_batches_match_one_pass():
    judge = tiny_judge()
    mel = (np.random.default_rng(0).standard_normal((5, 80, 130)) - 5).astype(np.float16)
    logits, features = judge_outputs(judge, mel, batch_size=2)
    with torch.no_grad():
        whole, whole_features = judge(torch.from_numpy(mel.astype(np.float32)))
    torch.testing.assert_close(logits, whole, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(features, whole_features, atol=1e-5, rtol=1e-5)


def test_accuracy_report():
    families = ("bass", "pipe", "drums")
    labels = np.array([0, 0, 1, 1, 2, 2, 2, 2])
    predicted = np.array([0, 1, 1, 1, 2, 2, 0, 2])
    report = accuracy_report(predicted, labels, families)
    assert report["n"] == 8 and report["family_accuracy"] == 0.75
    assert report["per_family"] == {"bass": 0.5, "pipe": 1.0, "drums": 0.75}
    assert report["balanced_family_accuracy"] == round((0.5 + 1.0 + 0.75) / 3, 4)
    assert report["drums_vs_pitched_accuracy"] == 7 / 8  # the bass taken for pipe is still "pitched"
    assert "drums_vs_pitched_accuracy" not in accuracy_report(predicted, labels, ("a", "b", "c"))


def test_frechet_distance_of_a_set_with_itself_is_zero():
    x = np.random.default_rng(0).standard_normal((200, 16))
    assert abs(frechet_distance(x, x)) < 1e-8
    few = x[:20]  # fewer samples than dimensions: rank-deficient covariances
    assert abs(frechet_distance(few, few)) < 1e-8


def test_frechet_distance_of_shifted_gaussians_is_the_closed_form():
    rng = np.random.default_rng(1)
    shift = np.array([1.0, -2.0, 0.5, 0.0])
    a = rng.standard_normal((20_000, 4))
    b = rng.standard_normal((20_000, 4)) + shift
    assert frechet_distance(a, b) == pytest.approx(float(shift @ shift), abs=0.05)  # |mu_a - mu_b|^2 + 0
    # Diagonal covariances: |mu_a - mu_b|^2 + sum (sigma_a - sigma_b)^2, exactly.
    sa, sb = np.array([1.0, 2.0, 0.5]), np.array([3.0, 1.0, 0.5])
    mu_a, mu_b = np.zeros(3), np.array([1.0, 1.0, 1.0])
    expected = 3.0 + float(np.sum((sa - sb) ** 2))
    assert frechet_from_stats(mu_a, np.diag(sa**2), mu_b, np.diag(sb**2)) == pytest.approx(expected, abs=1e-9)


def test_frechet_distance_matches_scipy_sqrtm():
    linalg = pytest.importorskip("scipy.linalg")
    rng = np.random.default_rng(2)
    m_a, m_b = rng.standard_normal((6, 6)), rng.standard_normal((6, 6))
    cov_a, cov_b = m_a @ m_a.T, m_b @ m_b.T + np.eye(6)
    mu_a, mu_b = rng.standard_normal(6), rng.standard_normal(6)
    cross = linalg.sqrtm(cov_a @ cov_b).real
    expected = float(np.sum((mu_a - mu_b) ** 2) + np.trace(cov_a + cov_b - 2 * cross))
    assert frechet_from_stats(mu_a, cov_a, mu_b, cov_b) == pytest.approx(expected, rel=1e-6)

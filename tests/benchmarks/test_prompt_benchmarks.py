"""benchmarks/prompt_quality.py and prompt_speed.py end to end on tiny models and a tiny prompt-data build."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from bench_loader import load_benchmark
from judge_fixtures import FAMILIES, save_tiny_benchmark_models, write_prompt_data
from prompt_fixtures import save_tiny_prompt_models

from synth.prompt.judge import Judge, JudgeConfig, save_judge
from synth.prompt.prompt_audio import DEFAULT_GUIDANCE

CLIP_FRAMES = 160


pq = load_benchmark("prompt_quality")
ps = load_benchmark("prompt_speed")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return save_tiny_benchmark_models(tmp_path_factory.mktemp("models"), CLIP_FRAMES)


def test_prompt_quality_end_to_end(tmp_path, capsys, models):
    data = write_prompt_data(tmp_path / "prompt", {"heldout": 8}, clip_frames=CLIP_FRAMES)
    out = tmp_path / "pictures"
    argv = ["--data", str(data), "--clips", "6", "--steps", "2", "--batch-size", "4", "--out", str(out)]
    argv += ["--pictures", "2", *(x for k, v in models.items() for x in (f"--{k}", str(v)))]
    assert pq.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    result = json.loads(lines[-1])
    assert result["benchmark"] == "prompt_quality" and result["clips"] == 6 and result["guidance"] == DEFAULT_GUIDANCE
    assert set(result["family_accuracy"]) == {"real", "vocoded", "guided", "unguided"}
    assert all(0 <= v <= 1 for v in result["family_accuracy"].values())
    assert set(result["frechet_distance"]) == {"guided", "unguided", "vocoded", "real_floor"}
    assert all(np.isfinite(v) and v >= -1e-6 for v in result["frechet_distance"].values())
    real = result["results"]["real"]
    # The fixture's clips state their BPM in the first caption (clip j gets caption j % 2) and their key in the
    # second; the pitched ones are in D minor. The estimators get the real clips' tempo up to a factor of two.
    assert real["tempo_stated"]["n"] == 3 and real["tempo_all"]["n"] == 6
    chosen = pq.pick_clips(8, 6, seed=0)
    pitched = [FAMILIES[i % 3] != "drums" for i in chosen]  # the fixture's families go round by clip index
    assert real["key_all"]["n"] == sum(pitched) and real["key_named"]["n"] == sum(pitched[1::2])
    assert real["tempo_all"]["up_to_factor_2"] >= 0.5
    assert result["met"] == (result["family_accuracy"]["guided"] >= 0.7)
    assert sorted(p.name for p in out.iterdir()) == ["clip-00.png", "clip-01.png"]


def test_prompt_quality_gives_a_controls_model_each_clips_own_tempo_and_key(tmp_path, capsys, models):
    data = write_prompt_data(tmp_path / "prompt", {"heldout": 8}, clip_frames=CLIP_FRAMES)
    diffusion, _ = save_tiny_prompt_models(tmp_path / "controls", clip_frames=CLIP_FRAMES, controls=True)
    argv = ["--data", str(data), "--clips", "4", "--steps", "2", "--batch-size", "4", "--out", str(tmp_path / "p")]
    argv += ["--diffusion", str(diffusion), "--vocoder", str(models["vocoder"]), "--judge", str(models["judge"])]
    outputs = {}
    for how in ("labels", "none"):
        assert pq.main([*argv, "--controls", how]) == 0
        outputs[how] = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert outputs["labels"]["controls"] == "each clip's own tempo, key and meter"
    assert outputs["none"]["controls"] == "none"
    # ...and the labels reach the model: the same noise makes other mel with them.
    from synth.prompt.controls import ControlLabels
    from synth.prompt.flow_sampler import load_diffusion

    model, _ = load_diffusion(diffusion)
    text = np.random.default_rng(0).normal(size=(2, 384)).astype(np.float32)
    labels = ControlLabels.of([90.0, 140.0], [2, None], [1, None], [4, 4], [0.0, 0.0])
    with_labels = pq.generate(model, text, CLIP_FRAMES, 2, DEFAULT_GUIDANCE, 0, 2, labels)
    without = pq.generate(model, text, CLIP_FRAMES, 2, DEFAULT_GUIDANCE, 0, 2, None)
    assert with_labels.shape == without.shape and not torch.allclose(with_labels, without, atol=1e-4)


def test_prompt_quality_refuses_a_judge_of_other_families(tmp_path, capsys, models):
    data = write_prompt_data(tmp_path / "prompt", {"heldout": 4}, clip_frames=CLIP_FRAMES)
    other = tmp_path / "judge.safetensors"
    save_judge(Judge(JudgeConfig(families=("a", "b"), channels=(4, 8, 8, 8), feature_dim=8)), other)
    argv = ["--data", str(data), "--diffusion", str(models["diffusion"]), "--vocoder", str(models["vocoder"])]
    assert pq.main([*argv, "--judge", str(other)]) == 2
    assert "families" in capsys.readouterr().err
    assert pq.main([*argv, "--judge", str(tmp_path / "missing.safetensors")]) == 2


def test_halves_and_caption_checks():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 3))
    assert pq.halves_fd(x, x) == pytest.approx(pq.frechet_distance(x[0::2], x[1::2]), rel=1e-9)
    assert pq.states_bpm("cello melody at 72 BPM", 72.4) and not pq.states_bpm("cello at 172 BPM", 72.0)
    assert pq.names_key("solo cello in D minor, melody", "D", "minor")
    assert not pq.names_key("solo cello in D major", "D", "minor") and not pq.names_key("drums", None, None)
    assert sorted(pq.pick_clips(10, 4, seed=0)) == sorted(pq.pick_clips(10, 4, seed=0))
    assert len(set(pq.pick_clips(10, 20, seed=0))) == 10


def test_prompt_speed_end_to_end(capsys, models):
    argv = ["--seconds", "1", "--steps", "2", "--repeats", "2", "--threads", "1"]
    assert ps.main([*argv, "--diffusion", str(models["diffusion"]), "--vocoder", str(models["vocoder"])]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["benchmark"] == "prompt_speed" and result["samples"] == 24000 and len(result["times_s"]) == 2
    assert result["median_s"] > 0 and result["met"] is False  # 1 s of audio does not count for the 8-s goal

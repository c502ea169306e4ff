"""`composer train diffusion`: a few steps of a tiny model on a tiny synthetic prompt-data build."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors import safe_open

from composer.errors import ComposerError
from synth.prompt.controls import ControlLabels
from synth.prompt.diffusion import Controls, DiffusionConfig, MelDiT
from synth.prompt.flow_sampler import load_diffusion, sample_mel
from synth.train.train_diffusion import PromptClips, flow_loss, set_patch_statistics
from tui.cli import main

TINY = ["--d-model", "32", "--layers", "2", "--heads", "2", "--batch-size", "8", "--valid-clips", "8"]
K = 3  # captions per clip


def write_prompt_data(root: Path, n_clips: int = 48, clip_frames: int = 512, fmt: str = "composer-prompt-data/1"):
    """Two kinds of clip, told apart by their caption embeddings: energy in the low bands or in the high bands.

    Frame 0 of band 0 holds the clip's index (to tell which clips were set aside)."""
    rng = np.random.default_rng(0)
    family = np.arange(n_clips) % 2
    bands = np.arange(80)[None, :, None]
    loud = np.where(family[:, None, None] == 0, bands < 30, bands >= 50)  # (N, 80, 1)
    envelope = np.sin(np.linspace(0, 8 * np.pi, clip_frames))[None, None] * 0.5
    mel = np.where(loud, -2.0 + envelope, -9.0) + rng.normal(0, 0.02, (n_clips, 80, clip_frames))
    mel[:, 0, 0] = np.arange(n_clips)
    directions = rng.normal(size=(2, 384))
    text = directions[family][:, None] + rng.normal(0, 0.1, (n_clips, K, 384))
    text /= np.linalg.norm(text, axis=-1, keepdims=True)
    (root / "train").mkdir(parents=True)
    half = n_clips // 2
    for i, part in enumerate((slice(0, half), slice(half, None))):
        np.savez(root / "train" / f"shard-{i:03d}.npz", mel=mel[part].astype(np.float16),
                 text_emb=text[part].astype(np.float16), family=family[part].astype(np.int16))  # fmt: skip
    manifest = {"format": fmt, "sample_rate": 24000, "clip_frames": clip_frames, "families": ["low", "high"],
                "captions_per_clip": K, "splits": {"train": n_clips, "judge_train": 0, "heldout": 0}}  # fmt: skip
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root, text.astype(np.float16).astype(np.float32)


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_trains_learns_checkpoints_exports_and_resumes(tmp_path, capsys):
    data, text = write_prompt_data(tmp_path / "prompt")
    out, export = tmp_path / "run", tmp_path / "models" / "diffusion" / "model.safetensors"
    argv = ["train", "diffusion", "--data", str(data), "--out", str(out), "--eval-every", "40", *TINY]
    argv += ["--lr", "3e-3", "--warmup-steps", "5", "--threads", "1", "--ema-decay", "0.9"]
    assert main([*argv, "--steps", "120", "--export", str(export)]) == 0
    log = read_log(out / "log.jsonl")
    start, end = log[0], log[-1]
    assert start["event"] == "start" and start["train_clips"] == 40 and start["valid_clips"] == 8
    valid = [e["valid_loss"] for e in log if "valid_loss" in e and "event" not in e]
    assert [e["step"] for e in log if "valid_loss" in e and "event" not in e] == [40, 80, 120]
    assert all(np.isfinite(e["loss"]) for e in log if "loss" in e)
    # The untrained model is the exact flow of the clips' Gaussian approximation (loss ~0.44 here, against
    # ~2 for predicting 0); what it cannot know without the text (which bands are loud) training adds.
    assert end["event"] == "end" and end["step"] == 120 and end["best_valid_loss"] < 0.97 * start["valid_loss"]
    assert min(valid) == pytest.approx(end["best_valid_loss"], abs=1e-4)
    train_losses = [e["loss"] for e in log if "loss" in e]
    assert np.mean(train_losses[-3:]) < np.mean(train_losses[:2])
    assert "exported" in capsys.readouterr().out
    # The export: fp16 EMA weights with the data's band statistics in the config; load_diffusion reads it.
    with safe_open(str(export), framework="pt") as f:
        assert f.get_tensor("patch_in.weight").dtype == torch.float16 and "raw.patch_in.weight" not in f.keys()  # noqa: SIM118
    model, meta = load_diffusion(export)
    assert model.cfg.d_model == 32 and meta["step"] in (40, 80, 120) and (export.parent / "train_log.jsonl").exists()
    clips = PromptClips(data, model.cfg, 8, 0)
    mean, std = clips.band_stats()
    assert model.cfg.mel_mean == pytest.approx(mean, abs=1e-6) and model.cfg.mel_std == pytest.approx(std, abs=1e-6)
    mel = sample_mel(model, torch.from_numpy(text[:2, 0]), 64, steps=4, generator=torch.Generator().manual_seed(0))
    assert mel.shape == (2, 80, 64) and torch.isfinite(mel).all()
    # Resume carries on from the last checkpoint, with its config (the size flags are not needed).
    assert main([*argv, "--steps", "130", "--resume"]) == 0
    log = read_log(out / "log.jsonl")
    assert log[-1]["event"] == "end" and log[-1]["step"] == 130
    assert sum(1 for e in log if e.get("event") == "start") == 1
    assert log[-1]["best_valid_loss"] <= end["best_valid_loss"]


def test_valid_clips_are_set_aside_and_captions_vary(tmp_path):
    data, _ = write_prompt_data(tmp_path / "prompt")
    clips = PromptClips(data, DiffusionConfig(), valid_clips=8, seed=0)
    train_ids = set(clips.mel[:, 0, 0].astype(int).tolist())
    valid_ids = set(clips.valid_mel[:, 0, 0].astype(int).tolist())
    assert len(train_ids) == 40 and len(valid_ids) == 8 and not train_ids & valid_ids
    assert train_ids | valid_ids == set(range(48))
    mean, std = clips.band_stats()
    all_train = clips.mel.astype(np.float64)
    np.testing.assert_allclose(mean, all_train.mean(axis=(0, 2)), atol=1e-9)
    np.testing.assert_allclose(std, all_train.std(axis=(0, 2)), rtol=1e-6)
    rng = np.random.default_rng(0)
    mel, text, labels = clips.batch(rng, 64)
    assert mel.shape == (64, 80, 512) and text.shape == (64, 384) and mel.dtype == torch.float32
    assert len(labels) == 64 and np.isnan(labels.bpm).all()  # no clips.jsonl: no control is known
    # Different phrasings of the same clip come up.
    seen = {tuple(np.round(t[:4].numpy(), 3)) for t in text}
    assert len(seen) > 40


def test_patch_statistics_start_the_skip_at_the_data_gaussian(tmp_path):
    # Clips whose bands share one random spectrum shape (rank one across bands) and move slowly in time.
    rng = np.random.default_rng(0)
    shape = rng.normal(size=80)
    level = np.cumsum(rng.normal(0, 0.1, (64, 512)), axis=-1)  # (N, F) slow random walk
    log_mel = shape[None, :, None] * level[:, None] - 5.0
    model = MelDiT(DiffusionConfig(mel_mean=[-5.0] * 80))
    set_patch_statistics(model, log_mel)
    basis = model.band_basis
    torch.testing.assert_close(basis.T @ basis, torch.eye(80), atol=1e-5, rtol=0)
    # The first band direction is the shared shape; nearly all the variance sits in it, in the patch-mean cosine.
    cosine = abs(float(basis[:, 0] @ torch.from_numpy(shape / np.linalg.norm(shape)).float()))
    assert cosine > 0.999
    log_var = model.skip_log_var.detach()
    assert log_var[0, 0] == log_var.max() and log_var[0, 0] > log_var[1:, 0].max() + 3 > log_var[0, 1:].max() + 3
    # ... and equals the measured second moment of that coordinate.
    x = torch.from_numpy(log_mel + 5.0).float()
    coordinate = model.to_components(x.view(64, 80, 64, 8).permute(0, 2, 3, 1))[..., 0, 0]
    assert float(log_var[0, 0]) == pytest.approx(float(coordinate.pow(2).mean().log()), abs=1e-3)


@pytest.mark.parametrize(
    "problem,match",
    [("format", "format"), ("frames", "clip_frames"), ("few", "set aside")],
)
def test_bad_data_is_one_composer_error(tmp_path, problem, match):
    kwargs = {"format": {"fmt": "other/1"}, "frames": {"clip_frames": 256}, "few": {"n_clips": 8}}[problem]
    data, _ = write_prompt_data(tmp_path / "prompt", **kwargs)
    with pytest.raises(ComposerError, match=match):
        PromptClips(data, DiffusionConfig(), valid_clips=8, seed=0)


def test_missing_data_or_bad_flags_exit_2(tmp_path, capsys):
    assert main(["train", "diffusion", "--data", str(tmp_path), "--steps", "1"]) == 2
    assert "manifest.json" in capsys.readouterr().err
    data, _ = write_prompt_data(tmp_path / "prompt")
    assert main(["train", "diffusion", "--data", str(data), "--heads", "5", "--d-model", "32"]) == 2
    assert "multiple of n_heads" in capsys.readouterr().err
    assert main(["train", "diffusion", "--data", str(data), "--batch-size", "0"]) == 2
    assert "--batch-size" in capsys.readouterr().err


def write_beat_data(root: Path, n_clips: int = 48, clip_frames: int = 512) -> Path:
    """Clips that differ only in tempo: a pulse in every band on each beat, at 75 or 110 BPM from the first
    frame, one caption for all; clips.jsonl holds the tempo and the grid."""
    rng = np.random.default_rng(1)
    bpm = np.where(np.arange(n_clips) % 2 == 0, 75.0, 110.0)
    frames = np.arange(clip_frames)[None]
    beat_frames = 93.75 * 60.0 / bpm[:, None]
    distance = np.abs(frames / beat_frames - np.round(frames / beat_frames)) * beat_frames
    pulse = np.exp(-0.5 * (distance / 1.5) ** 2)  # (N, F)
    mel = -8.0 + 6.0 * pulse[:, None, :] + rng.normal(0, 0.05, (n_clips, 80, clip_frames))
    text = np.tile(rng.normal(size=384) / np.sqrt(384), (n_clips, K, 1))
    (root / "train").mkdir(parents=True)
    np.savez(root / "train" / "shard-000.npz", mel=mel.astype(np.float16), text_emb=text.astype(np.float16),
             family=np.zeros(n_clips, np.int16))  # fmt: skip
    lines = [{"shard": "shard-000.npz", "index": i, "bpm": float(b), "key": None, "mode": None, "source": "pattern",
              "first_beat_s": 0.0, "beats_per_bar": 4} for i, b in enumerate(bpm)]  # fmt: skip
    (root / "train" / "clips.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    splits = {"train": n_clips, "judge_train": 0, "heldout": 0}
    manifest = {"format": "composer-prompt-data/1", "sample_rate": 24000, "clip_frames": clip_frames,
                "families": ["x"], "captions_per_clip": K, "splits": splits}  # fmt: skip
    (root / "manifest.json").write_text(json.dumps(manifest))
    return root


def test_fine_tuning_from_a_model_adds_the_controls_and_keeps_its_normalisation(tmp_path):
    data = write_beat_data(tmp_path / "beats")
    small = ["--d-model", "32", "--layers", "2", "--heads", "2", "--batch-size", "8", "--valid-clips", "8"]
    base = ["train", "diffusion", "--data", str(data), "--eval-every", "60", *small, "--threads", "1"]
    base += ["--lr", "3e-3", "--warmup-steps", "5", "--ema-decay", "0.9"]
    assert main([*base, "--out", str(tmp_path / "plain"), "--steps", "60", "--no-controls"]) == 0
    start = tmp_path / "plain" / "best.safetensors"
    for name, flag in (("more", "--no-controls"), ("controls", "--controls")):
        assert main([*base, "--out", str(tmp_path / name), "--steps", "240", "--init", str(start), flag]) == 0
    more, controls = (read_log(tmp_path / name / "log.jsonl") for name in ("more", "controls"))
    assert more[0]["model"]["mel_mean"] == controls[0]["model"]["mel_mean"]  # the normalisation came with it
    assert more[0]["valid_loss"] == pytest.approx(controls[0]["valid_loss"], abs=1e-4)  # both start as the init
    assert all(e["step"] == 240 for e in (more[-1], controls[-1]) if e.get("event") == "end")
    with_controls, _ = load_diffusion(tmp_path / "controls" / "best.safetensors")
    without, _ = load_diffusion(tmp_path / "more" / "best.safetensors")
    assert with_controls.cfg.controls and not without.cfg.controls and with_controls.cfg.d_model == 32
    # The controls were trained: they moved from zero, and a clip's tempo changes what the model predicts.
    assert with_controls.grid_in.weight.abs().sum() > 0 and with_controls.control_mlp[-1].weight.abs().sum() > 0
    clips = PromptClips(data, with_controls.cfg, 0, 0)
    x = with_controls.normalize(torch.from_numpy(clips.mel[:2].astype(np.float32)))
    text = torch.from_numpy(clips.text[:2, 0].astype(np.float32))
    t, noise = torch.full((2,), 0.1), torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
    slow, fast = (Controls.of(ControlLabels.of([bpm] * 2, [None] * 2, [None] * 2, [4] * 2, [0.0] * 2), 512)
                  for bpm in (75.0, 110.0))  # fmt: skip
    with torch.no_grad():
        assert flow_loss(with_controls, x, text, t, noise, None, slow)[0].item() != pytest.approx(
            flow_loss(with_controls, x, text, t, noise, None, fast)[0].item(), rel=1e-4)  # fmt: skip


def test_init_must_be_a_model_file(tmp_path, capsys):
    data = write_beat_data(tmp_path / "beats")
    assert main(["train", "diffusion", "--data", str(data), "--init", str(tmp_path / "none.safetensors")]) == 2
    assert "none.safetensors" in capsys.readouterr().err

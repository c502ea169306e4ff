"""Train the judge (synth/prompt/judge.py) on the judge_train split of a prompt-data build; report held-out accuracy.

    summary = train_judge(JudgeTrainConfig(data_dir="data/prompt", out_dir="runs/judge"))
    summary = train_judge(JudgeTrainConfig(data_dir="data/prompt-judge", heldout_dir="data/prompt", target="texture"))

`target` is what the judge learns: the instrument family (the shards' family
array; the classes are the manifest's families) or the texture (clips.jsonl's
texture field; the classes are judge_eval.TEXTURES). The heldout split is read
from `heldout_dir` (default: the data_dir), so a judge trained on a build of
its own is scored on the heldout split that the benchmark generates from.

Only the judge_train split is trained on: its clips come from other pieces and
seeds than the diffusion model's train split, so the judge has not seen what
the generator learned from. A tenth of judge_train (drawn by clip, seeded) is
set aside to pick the best checkpoint; the heldout split is scored once, at
the end, with the best weights, on whole clips: accuracy, balanced
(mean per-class) accuracy, the confusion counts and, for families,
drums-vs-pitched accuracy, from the stored log-mel and again from the log-mel
of the stored int16 audio.

Augmentation: a random crop of `crop_frames` frames per clip, a random gain
of +-`gain_db` dB, applied to the log-mel exactly (a gain adds its log to
every band; the silence floor stays the floor), and for half the clips a
noise floor: a magnitude drawn log-uniformly from 1e-5 to `noise_floor_max`
added to every band (log(exp(x) + floor)). Without it the judge leans on
digital silence: the log-mel of the same clip stored as int16 (quantization
noise, about 1.5e-4) or decoded by a vocoder has a different floor, and the
judge would be judging the floor. The loop is composer.train.loop's (AdamW,
warm-up then cosine decay by step or by the wall-time budget, no gradient
clipping, bf16 autocast on CUDA, DDP under torchrun, resume from
last.safetensors); the best step is the one of the highest validation
accuracy, the lower loss breaking ties.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from composer.errors import ComposerError
from composer.model.checkpoint import save_model
from composer.train.loop import Run, Validation
from composer.train.train_kit import adamw
from synth.instruments.neural.mel import LOG_FLOOR, SILENCE_LOG_MEL, LogMel
from synth.prompt.judge import KIND, TARGETS, Judge, JudgeConfig, load_judge
from synth.train.judge_eval import TEXTURES, Split, accuracy_report, class_labels, judge_outputs, read_split

TRAIN_SPLIT, HELDOUT_SPLIT = "judge_train", "heldout"


@dataclass
class JudgeTrainConfig:
    data_dir: str = "data/prompt"
    out_dir: str = "runs/judge"
    target: str = "family"  # "family" or "texture"
    heldout_dir: str = ""  # "": the heldout split of data_dir
    steps: int = 20_000
    max_minutes: float = 0.0
    batch_size: int = 32
    crop_frames: int = 256
    gain_db: float = 12.0
    noise_floor_max: float = 1e-3  # magnitude; 0: no noise-floor augmentation
    noise_floor_share: float = 0.5
    lr: float = 2e-3
    min_lr_ratio: float = 0.05
    warmup_steps: int = 100
    weight_decay: float = 0.01
    valid_fraction: float = 0.1
    eval_every: int = 200
    grad_clip: float = 0.0  # 0: no clipping (the judge never had any)
    seed: int = 0
    threads: int = 0
    resume: bool = False
    progress: bool = True
    device: str = "auto"  # "auto" (CUDA if torch sees a GPU), "cpu" or "cuda"


def augment(
    mel: np.ndarray,
    rng: np.random.Generator,
    crop_frames: int,
    gain_db: float,
    noise_floor_max: float = 0.0,
    noise_floor_share: float = 0.5,
) -> torch.Tensor:
    """(B, n_mels, T) float16 clips -> (B, n_mels, crop_frames) float32: random crop, gain and noise floor."""
    B, _, T = mel.shape
    crop_frames = min(crop_frames, T)
    starts = rng.integers(0, T - crop_frames + 1, size=B)
    crops = np.stack([mel[i, :, s : s + crop_frames] for i, s in enumerate(starts)]).astype(np.float32)
    gain = rng.uniform(-gain_db, gain_db, size=(B, 1, 1)) * math.log(10.0) / 20.0  # dB -> natural-log magnitude
    x = np.maximum(crops + gain, SILENCE_LOG_MEL)
    if noise_floor_max > LOG_FLOOR:
        floor = np.exp(rng.uniform(math.log(LOG_FLOOR), math.log(noise_floor_max), size=(B, 1, 1)))
        floor *= rng.random((B, 1, 1)) < noise_floor_share
        x = np.log(np.exp(x) + floor)
    return torch.from_numpy(x.astype(np.float32))


def int16_log_mel(audio: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """int16 audio (N, n_samples) -> its synth.instruments.neural.mel log-mel (N, n_mels, n_samples // hop) float32."""
    frontend = LogMel()
    with torch.no_grad():
        parts = [
            frontend(torch.from_numpy(audio[i : i + batch_size].astype(np.float32) / 32768.0)).numpy()
            for i in range(0, len(audio), batch_size)
        ]
    return np.concatenate(parts) if parts else np.zeros((0, frontend.cfg.n_mels, 0), np.float32)


def split_valid(n_clips: int, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(train indices, valid indices) of judge_train, the valid ones a seeded `fraction` of the clips (>= 1)."""
    order = np.random.default_rng(seed).permutation(n_clips)
    n_valid = min(n_clips - 1, max(1, int(round(fraction * n_clips))))
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def evaluate(judge: Judge, mel: np.ndarray, labels: np.ndarray) -> dict:
    """Loss, accuracies and confusion counts of whole clips."""
    logits, _ = judge_outputs(judge, mel)
    loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(labels.astype(np.int64))).item()
    predicted = logits.argmax(1).numpy()
    return {"loss": round(loss, 4), **accuracy_report(predicted, labels, judge.cfg.families, judge.cfg.target, True)}


def classes_of(split: Split, target: str) -> tuple[str, ...]:
    return tuple(split.manifest["families"]) if target == "family" else TEXTURES


def labels_of(split: Split, target: str, where: Path) -> np.ndarray:
    """The split's class indices; ComposerError naming `where` for labels outside the classes."""
    classes = classes_of(split, target)
    try:
        labels = class_labels(split, target, classes)
    except ComposerError as exc:
        raise ComposerError(where, exc.problem) from None
    if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
        raise ComposerError(where, f"{target} labels outside 0..{len(classes) - 1}")
    return labels


def train_judge(tc: JudgeTrainConfig, mc: JudgeConfig | None = None) -> dict:
    """Run training; returns the final summary (also the last JSONL line), held-out accuracies included.

    `mc` sets the model's size; its classes and target are replaced by the data's for `tc.target`."""
    if tc.target not in TARGETS:
        raise ValueError(f"target must be one of {list(TARGETS)}, not {tc.target!r}")
    train_split = read_split(tc.data_dir, TRAIN_SPLIT, ("mel", "family"))
    classes = classes_of(train_split, tc.target)
    mel = train_split.arrays["mel"]
    labels = labels_of(train_split, tc.target, Path(tc.data_dir) / TRAIN_SPLIT)
    if len(labels) < 2:
        raise ComposerError(Path(tc.data_dir) / TRAIN_SPLIT, f"{len(labels)} clips; the judge needs at least 2")
    stored = (mc or JudgeConfig(families=classes)).to_dict()
    mc = JudgeConfig(**{**stored, "families": classes, "target": tc.target})
    if mel.shape[1] != mc.n_mels or mel.shape[2] < mc.min_frames:
        raise ComposerError(tc.data_dir, f"clips of shape {mel.shape[1:]}, the judge needs (80, >= {mc.min_frames})")
    if tc.crop_frames < mc.min_frames:
        raise ValueError(f"crop_frames must be at least {mc.min_frames}, not {tc.crop_frames}")
    train_idx, valid_idx = split_valid(len(labels), tc.valid_fraction, tc.seed)
    run = Run(tc, best_key="best_valid_score", worst=(math.inf, math.inf))  # score: (-accuracy, loss)
    if run.is_main and not run.resuming:
        run.log_path.unlink(missing_ok=True)
    model = Judge(mc).to(run.device)
    opt = adamw(model, tc.lr, tc.weight_decay, betas=(0.9, 0.999))  # torch's default betas
    if run.resuming:
        loaded, extra = load_judge(run.last_path)
        model.load_state_dict(loaded.state_dict())
        run.restore(opt, extra)
    # A fresh single process draws as it always has; other ranks, and a resumed run, draw anew.
    rng = np.random.default_rng(tc.seed if run.step == 0 and run.rank == 0 else [tc.seed, run.step, run.rank])

    def step_loss(module: torch.nn.Module) -> torch.Tensor:
        batch = rng.choice(train_idx, size=min(tc.batch_size, len(train_idx)), replace=len(train_idx) < tc.batch_size)
        x = augment(mel[batch], rng, tc.crop_frames, tc.gain_db, tc.noise_floor_max, tc.noise_floor_share)
        logits, _ = module(x.to(run.device))
        return torch.nn.functional.cross_entropy(logits, torch.from_numpy(labels[batch]).to(run.device))

    def validate() -> Validation:
        result = evaluate(model, mel[valid_idx], labels[valid_idx])
        accuracy = result[f"{tc.target}_accuracy"]
        return Validation(
            (-accuracy, result["loss"]),
            {"valid_loss": result["loss"], "valid_accuracy": accuracy},
            extra={"valid": result},
        )

    def start() -> dict:
        return {"kind": KIND, "target": tc.target, "params": model.num_params(), "model": mc.to_dict(),
                "train": asdict(tc), "train_clips": len(train_idx), "valid_clips": len(valid_idx),
                "split": TRAIN_SPLIT}  # fmt: skip

    trained = run.train(
        model,
        opt,
        step_loss,
        validate,
        lambda path, extra, tensors: save_model(model, path, KIND, extra=extra, tensors=tensors),
        start=start,
        desc="train judge",
    )
    if not run.is_main:
        return run.finish({"event": "end", "kind": KIND, "step": trained.step, "elapsed_s": trained.elapsed_s,
                           **trained.ranks()})  # fmt: skip
    judge, extra = load_judge(run.best_path)
    heldout_dir = tc.heldout_dir or tc.data_dir
    heldout = read_split(heldout_dir, HELDOUT_SPLIT, ("mel", "family", "audio"))
    if classes_of(heldout, tc.target) != classes:
        raise ComposerError(Path(heldout_dir) / HELDOUT_SPLIT, "families differ from judge_train's")
    heldout_labels = labels_of(heldout, tc.target, Path(heldout_dir) / HELDOUT_SPLIT)
    result = evaluate(judge, heldout.arrays["mel"], heldout_labels)
    # The same clips through their int16 audio: another noise floor, the same music.
    result["from_int16_audio"] = evaluate(judge, int16_log_mel(heldout.arrays["audio"]), heldout_labels)
    summary = {
        "event": "end",
        "kind": KIND,
        "target": tc.target,
        "step": trained.step,
        "best_step": extra["step"],
        "elapsed_s": trained.elapsed_s,
        "train_clips": len(train_idx),
        "valid_accuracy": extra["valid"][f"{tc.target}_accuracy"],
        "heldout": result,
    }
    save_model(judge, run.best_path, KIND, extra={**extra, "heldout": result})  # the weights alone, no Adam moments
    return run.finish(summary | trained.ranks())

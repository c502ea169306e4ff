"""Train the mel diffusion model (synth/prompt/diffusion.py) by flow matching on a prompt-data build.

    summary = train_diffusion(DiffusionTrainConfig(data_dir="data/prompt"), DiffusionConfig())

Each step draws clips of the train split (all exactly `clip_frames` long), one
of each clip's caption embeddings at random, replaces the text by the null
embedding with probability `cond_dropout`, draws t (logit-normal by default:
most steps in the middle of the path, where velocity is hardest to predict)
(for a model with controls, each clip's tempo, key, meter and beat grid from clips.jsonl, each made unknown
with probability `control_dropout`, and all with the text when it is dropped)
and regresses the velocity data - noise at x_t = (1 - t) * noise + t * data
(synth/prompt/flow_sampler.py) with an MSE loss, in mel normalised per band by the
mean/std of the training clips (computed once, stored in the config and so in
every checkpoint). The model's skip path starts as the exact flow of the
clips' Gaussian approximation (band principal directions and per-component
variances measured on STAT_CLIPS clips; see synth/prompt/diffusion.py). The loop
is composer.train.loop's (AdamW, warm-up then cosine decay by step or by the
wall-time budget, gradient clipping, bf16 autocast on CUDA, DDP under torchrun);
an EMA of the weights follows each step.
Validation: the EMA model's conditional loss on `valid_clips` clips
set aside from the train split (never trained on), on a fixed grid of t with
fixed noise, so values are comparable across evaluations. Checkpoints hold
the EMA weights as the model (so best.safetensors loads with load_diffusion)
plus the raw weights (`raw.`) and Adam moments (`opt.`) for resume. `init` fine-tunes a model file: its
weights, normalisation and skip statistics; controls it lacks start at zero (synth/prompt/diffusion.py).
`key_weight` adds the velocity error's pitch-class balance (synth/train/key_loss.py) times that weight to the
loss and to the validation value; the flow loss alone is reported beside it (`valid_flow`).
"""

from __future__ import annotations

import copy
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from composer.errors import ComposerError
from composer.model.checkpoint import load_model, load_tensors, save_model
from composer.train.loop import Run, Validation, broadcast_module
from composer.train.train_kit import adamw
from synth.data.prompt_data import read_manifest
from synth.prompt.controls import ControlLabels, labels_of_clips
from synth.prompt.diffusion import SKIP_LOG_VAR_MAX, SKIP_LOG_VAR_MIN, Controls, DiffusionConfig, MelDiT
from synth.prompt.flow_sampler import KIND, noised, velocity_target
from synth.train.key_loss import key_error, pitch_class_directions

VALID_T = (0.1, 0.3, 0.5, 0.7, 0.9)  # the t grid of the validation loss
T_SAMPLINGS = ("logit-normal", "uniform")
STAT_CLIPS = 1000  # clips the skip's Gaussian statistics are measured on


@dataclass
class DiffusionTrainConfig:
    data_dir: str = "data/prompt"
    out_dir: str = "runs/diffusion"
    steps: int = 50_000
    max_minutes: float = 0.0
    batch_size: int = 32
    lr: float = 4e-4
    min_lr_ratio: float = 0.05
    warmup_steps: int = 300
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    t_sampling: str = "logit-normal"
    eval_every: int = 250
    valid_clips: int = 64  # set aside from the train split for the validation loss
    seed: int = 0
    threads: int = 0
    resume: bool = False
    progress: bool = True
    device: str = "auto"  # "auto" (CUDA if torch sees a GPU), "cpu" or "cuda"
    init: str = ""  # start from this model file (fine-tune): its weights, normalisation and skip statistics
    key_weight: float = 0.0  # the pitch-class term's weight (synth/train/key_loss.py); 0: the flow loss alone


class PromptClips:
    """The train split of a prompt-data build in memory (float16), minus `valid_clips` set aside.

    mel (N, n_mels, clip_frames) log-mel, text (N, K, text_dim) caption embeddings, labels the clips'
    tempo, key, meter and beat grid (synth/prompt/controls.py) from clips.jsonl."""

    def __init__(self, data_dir: str | Path, cfg: DiffusionConfig, valid_clips: int, seed: int) -> None:
        data = Path(data_dir)
        manifest = read_manifest(data)  # the builder's own reader: a ComposerError for none or another format
        if manifest.get("clip_frames") != cfg.clip_frames:
            raise ComposerError(
                data / "manifest.json", f"clip_frames {manifest.get('clip_frames')}, model needs {cfg.clip_frames}"
            )
        shards = sorted((data / "train").glob("shard-*.npz"))
        if not shards:
            raise ComposerError(data / "train", "no train shards (shard-*.npz)")
        by_shard = _clip_lines(data / "train" / "clips.jsonl")
        mels, texts, lines = [], [], []
        for shard in shards:
            with np.load(shard) as z:
                mel, text = z["mel"], z["text_emb"]
            if mel.shape[1:] != (cfg.n_mels, cfg.clip_frames) or text.ndim != 3 or text.shape[2] != cfg.text_dim:
                shapes = f"mel {mel.shape}, text_emb {text.shape}"
                raise ComposerError(
                    shard, f"{shapes}; expected (N, {cfg.n_mels}, {cfg.clip_frames}), (N, K, {cfg.text_dim})"
                )
            mels.append(mel.astype(np.float16))
            texts.append(text.astype(np.float16))
            records = by_shard.get(shard.name, {})
            lines.extend(records.get(i, {}) for i in range(len(mel)))  # a clip without its line: all unknown
        mel, text = np.concatenate(mels), np.concatenate(texts)
        labels = labels_of_clips(lines)
        if len(mel) <= valid_clips:
            raise ComposerError(data / "train", f"{len(mel)} clips; need more than the {valid_clips} set aside")
        order = np.random.default_rng(seed).permutation(len(mel))
        valid, train = np.sort(order[:valid_clips]), np.sort(order[valid_clips:])
        self.mel, self.text, self.labels = mel[train], text[train], labels.take(train)
        self.valid_mel, self.valid_text = mel[valid], text[valid, 0]  # the first phrasing, always
        self.valid_labels = labels.take(valid)
        self.manifest = manifest

    def __len__(self) -> int:
        return len(self.mel)

    def band_stats(self, chunk: int = 256) -> tuple[list[float], list[float]]:
        """Per-band mean and std of the training log-mel over all clips and frames."""
        total = np.zeros(self.mel.shape[1])
        total_sq = np.zeros(self.mel.shape[1])
        for start in range(0, len(self.mel), chunk):
            block = self.mel[start : start + chunk].astype(np.float64)  # (n, M, F)
            total += block.sum(axis=(0, 2))
            total_sq += (block**2).sum(axis=(0, 2))
        count = len(self.mel) * self.mel.shape[2]
        mean = total / count
        std = np.sqrt(np.maximum(total_sq / count - mean**2, 0.0))
        return mean.tolist(), np.maximum(std, 1e-3).tolist()

    def batch(
        self, rng: np.random.Generator, batch_size: int, control_dropout: float = 0.0
    ) -> tuple[torch.Tensor, torch.Tensor, ControlLabels]:
        """(log-mel (B, M, F), one random caption embedding per clip (B, text_dim), float32; their controls,
        each of tempo, key and grid made unknown with probability control_dropout)."""
        idx = rng.integers(len(self.mel), size=batch_size)
        caption = rng.integers(self.text.shape[1], size=batch_size)
        mel = torch.from_numpy(self.mel[idx].astype(np.float32))
        text = torch.from_numpy(self.text[idx, caption].astype(np.float32))
        drops = rng.random((3, batch_size)) < control_dropout
        return mel, text, self.labels.take(idx).dropped(*drops)


def _clip_lines(path: Path) -> dict[str, dict[int, dict]]:
    """clips.jsonl as {shard: {index: record}}; none (an older or partial build): {}."""
    if not path.is_file():
        return {}
    out: dict[str, dict[int, dict]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            out.setdefault(str(record.get("shard")), {})[int(record.get("index", -1))] = record
    return out


@torch.no_grad()
def set_patch_statistics(model: MelDiT, log_mel: np.ndarray) -> None:
    """Point the model's skip at the Gaussian approximation of these clips (N, M, F) log-mel.

    band_basis: eigenvectors of the bands' covariance (normalised mel, over all frames), strongest first;
    skip_log_var: the log second moment of each (cosine, band component) coordinate of the patches."""
    x = model.normalize(torch.from_numpy(np.asarray(log_mel, np.float32)).to(model.mel_mean.device))
    N, M, n_frames = x.shape
    P = model.cfg.patch_frames
    frames = x.permute(0, 2, 1).reshape(-1, M).double()  # (N * F, M)
    eigenvalues, eigenvectors = torch.linalg.eigh(frames.T @ frames / len(frames))
    model.band_basis.copy_(eigenvectors.flip(-1).to(model.band_basis.dtype))
    T = n_frames // P
    patches = x[:, :, : T * P].reshape(N, M, T, P).permute(0, 2, 3, 1)  # (N, T, P, M)
    second_moment = model.to_components(patches).pow(2).mean(dim=(0, 1))  # (P, M)
    model.skip_log_var.copy_(second_moment.clamp(min=1e-6).log().clamp(SKIP_LOG_VAR_MIN, SKIP_LOG_VAR_MAX))


def sample_t(gen: torch.Generator, n: int, how: str) -> torch.Tensor:
    if how == "logit-normal":
        return torch.sigmoid(torch.randn(n, generator=gen))
    if how == "uniform":
        return torch.rand(n, generator=gen)
    raise ValueError(f"t_sampling must be one of {T_SAMPLINGS}, not {how!r}")


def flow_loss(
    model: MelDiT,
    x: torch.Tensor,
    text: torch.Tensor,
    t: torch.Tensor,
    noise: torch.Tensor,
    drop: torch.Tensor | None,
    controls: Controls | None = None,
    key_weight: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the loss, the flow loss alone) for normalised mel x (B, M, F) at times t (B,): the MSE between the
    predicted and the true velocity, plus key_weight times their pitch-class term (synth/train/key_loss.py)."""
    v = model(noised(x, noise, t), t, text, drop, controls)
    error = v - velocity_target(x, noise)
    flow = error.pow(2).mean()
    if not key_weight:
        return flow, flow
    return flow + key_weight * key_error(error, model.mel_std, pitch_class_directions().to(x.device)), flow


@torch.no_grad()
def ema_update(ema: torch.nn.Module, model: torch.nn.Module, decay: float) -> None:
    for e, p in zip(ema.parameters(), model.parameters(), strict=True):
        e.lerp_(p, 1 - decay)


def train_diffusion(tc: DiffusionTrainConfig, mc: DiffusionConfig) -> dict:
    """Run training; returns the final summary (also the last JSONL line)."""
    if tc.t_sampling not in T_SAMPLINGS:
        raise ValueError(f"t_sampling must be one of {T_SAMPLINGS}, not {tc.t_sampling!r}")
    run = Run(tc)
    device = run.device
    if run.resuming:
        ema, extra = load_model(run.last_path, KIND, MelDiT, DiffusionConfig, device)
        mc = ema.cfg
    if tc.init and not run.resuming:  # its normalisation and skip statistics come with it; the options' shape loses
        start_from, _ = load_model(tc.init, KIND, MelDiT, DiffusionConfig, device)
        keep = {k: v for k, v in mc.to_dict().items() if k in ("cond_dropout", "controls", "control_dropout")}
        mc = DiffusionConfig(**{**start_from.cfg.to_dict(), **keep})
    clips = PromptClips(tc.data_dir, mc, tc.valid_clips, tc.seed)
    if tc.init and not run.resuming:
        ema = MelDiT(mc).to(device)
        missing, unexpected = ema.load_state_dict(start_from.state_dict(), strict=False)
        if unexpected or any(not k.startswith(("control_mlp.", "grid_in.")) for k in missing):
            raise ComposerError(tc.init, f"does not fit: missing {missing[:4]}, unexpected {unexpected[:4]}")
    elif not run.resuming:
        mean, std = clips.band_stats()
        mc = DiffusionConfig(**{**mc.to_dict(), "mel_mean": mean, "mel_std": std})
        ema = MelDiT(mc).to(device)
        set_patch_statistics(ema, clips.mel[np.random.default_rng(tc.seed).permutation(len(clips))[:STAT_CLIPS]])
    broadcast_module(ema, run.world)  # every rank starts from rank 0's weights (DDP does the same for `model`)
    model = copy.deepcopy(ema).train()
    if run.resuming:
        model.load_state_dict(load_tensors(run.last_path, "raw."))
    ema.eval().requires_grad_(False)
    opt = adamw(model, tc.lr, tc.weight_decay, betas=(0.9, 0.99))
    if run.resuming:
        run.restore(opt, extra)

    # Validation: fixed clips, fixed noise, a fixed t grid; conditional.
    valid_gen = torch.Generator().manual_seed(12345)
    valid_x = ema.normalize(torch.from_numpy(clips.valid_mel.astype(np.float32)).to(device))
    valid_text = torch.from_numpy(clips.valid_text.astype(np.float32)).to(device)
    valid_noise = torch.randn(len(VALID_T), *valid_x.shape, generator=valid_gen).to(device)
    valid_controls = Controls.of(clips.valid_labels, mc.clip_frames, device=device) if mc.controls else None

    @torch.no_grad()
    def valid_loss(module: MelDiT) -> tuple[float, float]:
        """(the loss, the flow loss alone) on the fixed validation grid."""
        was_training = module.training
        module.eval()
        losses, flows = [], []
        for i, t in enumerate(VALID_T):
            for start in range(0, len(valid_x), tc.batch_size):
                x = valid_x[start : start + tc.batch_size]
                ts = x.new_full((len(x),), t)
                noise = valid_noise[i, start : start + tc.batch_size]
                part = None if valid_controls is None else valid_controls.take(slice(start, start + len(x)))
                text = valid_text[start : start + len(x)]
                loss, flow = flow_loss(module, x, text, ts, noise, None, part, tc.key_weight)
                losses.append(loss.item() * len(x))
                flows.append(flow.item() * len(x))
        module.train(was_training)
        n = len(VALID_T) * len(valid_x)
        return float(np.sum(losses) / n), float(np.sum(flows) / n)

    def validate() -> Validation:
        value, flow = valid_loss(ema)
        metrics = {"valid_loss": round(value, 4), "valid_loss_raw": round(valid_loss(model)[0], 4)}
        return Validation(value, metrics | ({"valid_flow": round(flow, 4)} if tc.key_weight else {}))

    # Each rank its own draws; rank 0 those of a single process (resume goes on with other draws).
    rng = np.random.default_rng([tc.seed, run.step, *([run.rank] if run.rank else [])])
    gen = torch.Generator().manual_seed(tc.seed * 100_003 + run.step + 1_000_003 * run.rank)

    def step_loss(module: torch.nn.Module) -> torch.Tensor:
        mel, text, labels = clips.batch(rng, tc.batch_size, mc.control_dropout if mc.controls else 0.0)
        B = len(mel)
        t = sample_t(gen, B, tc.t_sampling)
        noise = torch.randn(mel.shape, generator=gen)
        drop = torch.rand(B, generator=gen) < mc.cond_dropout
        x = model.normalize(mel.to(device))
        controls = Controls.of(labels, mc.clip_frames, device=device) if mc.controls else None
        loss, _ = flow_loss(
            module, x, text.to(device), t.to(device), noise.to(device), drop.to(device), controls, tc.key_weight
        )
        return loss

    def save(path: Path, extra: dict, tensors: dict[str, torch.Tensor]) -> None:
        extra = {**extra, "data_format": clips.manifest.get("format"), "train_clips": len(clips)}
        raw = {f"raw.{k}": v for k, v in model.state_dict().items()}
        save_model(ema, path, KIND, extra=extra, tensors=raw | tensors)

    def start() -> dict:
        return {"params": model.num_params(), "model": mc.to_dict(), "train": asdict(tc), "train_clips": len(clips),
                "valid_clips": len(valid_x), "valid_loss": round(valid_loss(ema)[0], 4)}  # fmt: skip

    result = run.train(
        model,
        opt,
        step_loss,
        validate,
        save,
        start=start,
        after_step=lambda step: ema_update(ema, model, min(tc.ema_decay, (1 + step) / (10 + step))),
        desc="train diffusion",
    )
    summary = {"event": "end", "step": result.step, "elapsed_s": result.elapsed_s}
    if run.is_main:
        summary["best_valid_loss"] = round(result.best, 4)
    return run.finish(summary | result.ranks())

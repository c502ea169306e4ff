"""Train the vocoder or the renderer: CPU, one GPU, or many under torchrun (DDP).

    summary = train_audio(AudioTrainConfig(kind="vocoder", data_dir="data/audio"), VocoderConfig())

Losses. The vocoder: multi-resolution STFT (spectral convergence + log
magnitude L1 at three resolutions) plus log-mel L1, against the reference
delayed by its `latency_samples` (see synth/instruments/neural/vocoder.py). The renderer: log-mel
L1 against the reference's causal log-mel; with `onset_weight` w > 0, the frames in
the first ONSET_WINDOW_S of a note count 1 + w times (a weighted mean), so the attacks
a transcriber hears the notes by weigh more than the sustains (the validation loss
stays the plain L1). Each window runs `warmup_frames`
frames before those the loss sees, so the model is trained in the warm
state it streams in (for the vocoder, its receptive field: exactly). The loop
is composer.train.loop's (AdamW, warm-up then cosine decay by step or the
wall-time budget, gradient clipping, validation every `eval_every` steps on
fixed windows, best checkpoint kept, resume, a progress bar and a JSONL log),
in fp32 on every device. Under torchrun each rank draws its own windows and
DDP averages the gradients.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from composer.errors import ComposerError
from composer.train.loop import Run, Validation
from composer.train.train_kit import adamw
from synth.data.audio_dataset import AudioDataset
from synth.instruments.neural.mel import LogMel, MelConfig
from synth.instruments.neural.neural_checkpoint import load_neural, save_neural
from synth.instruments.neural.note_features import AGE_INDEX, age_feature
from synth.instruments.neural.renderer import Renderer, RendererConfig
from synth.instruments.neural.vocoder import Vocoder, VocoderConfig

STFT_RESOLUTIONS = ((512, 128), (1024, 256), (2048, 512))  # (n_fft, hop) in samples
MEL_LOSS_WEIGHT = 1.0
VALID_WINDOWS = 16
RENDERER_WARMUP_FRAMES = 32  # the GRU remembers for ever; this much history covers most of what matters
ONSET_WINDOW_S = 0.1  # a note's attack, for the onset weight


@dataclass
class AudioTrainConfig:
    kind: str = "vocoder"  # "vocoder" or "renderer"
    data_dir: str = "data/audio"
    out_dir: str = "runs/vocoder"
    steps: int = 20_000
    max_minutes: float = 0.0
    batch_size: int = 16
    segment_frames: int = 32  # mel frames per training window that the loss sees (32 = 0.34 s at 24 kHz, hop 256)
    warmup_frames: int | None = None  # frames run before them, outside the loss; None: the vocoder's
    # receptive field (its output is then exactly what streaming makes), RENDERER_WARMUP_FRAMES for the renderer
    lr: float = 5e-4
    min_lr_ratio: float = 0.1
    warmup_steps: int = 500
    weight_decay: float = 0.01
    grad_clip: float = 1.0
    eval_every: int = 500
    seed: int = 0
    threads: int = 0
    workers: int = 0  # processes drawing training windows (the renderer's note features cost CPU); 0: in-process
    resume: bool = False
    init: str = ""  # start from this model file (fine-tune): its weights and its size; the optimizer starts afresh
    onset_weight: float = 0.0  # the renderer's training loss: a note's first ONSET_WINDOW_S frames count 1 + this
    progress: bool = True
    device: str = "auto"  # "auto" (CUDA if torch sees a GPU), "cpu" or "cuda"


def stft_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Multi-resolution STFT loss of (B, n_samples) signals: spectral convergence + log-magnitude L1."""
    total = pred.new_zeros(())
    for n_fft, hop in STFT_RESOLUTIONS:
        window = torch.hann_window(n_fft, device=pred.device)
        p, t = (torch.stft(x, n_fft, hop, window=window, return_complex=True).abs() for x in (pred, target))
        convergence = torch.linalg.norm(t - p) / torch.linalg.norm(t).clamp(min=1e-7)
        log_l1 = (torch.log(p.clamp(min=1e-7)) - torch.log(t.clamp(min=1e-7))).abs().mean()
        total = total + convergence + log_l1
    return total / len(STFT_RESOLUTIONS)


def vocoder_loss(
    vocoder: torch.nn.Module, frontend: LogMel, context: torch.Tensor, target: torch.Tensor, warmup_frames: int = 0
) -> torch.Tensor:
    """context (B, n_samples + n_fft - hop) audio, target (B, n_samples) the same audio delayed -> scalar loss.

    The first `warmup_frames` frames run but are left out of the loss.
    """
    hop, n_fft = frontend.cfg.hop_samples, frontend.cfg.n_fft
    n_frames = target.shape[1] // hop
    first = (n_fft - hop) // hop  # frames made of the context's lead-in only
    log_mel = frontend(context)[:, :, first : first + n_frames]  # (B, n_mels, T)
    pred = vocoder(log_mel)[:, warmup_frames * hop :]  # (B, (T - warmup) * hop)
    target = target[:, warmup_frames * hop :]
    mel_l1 = (frontend(pred) - frontend(target)).abs().mean()
    return stft_loss(pred, target) + MEL_LOSS_WEIGHT * mel_l1


def onset_frames(notes: torch.Tensor, window_s: float = ONSET_WINDOW_S) -> torch.Tensor:
    """notes (B, T, S, F) features -> (B, T) bool: some sounding slot's note began less than window_s ago."""
    young = notes[..., AGE_INDEX] < age_feature(window_s)
    return ((notes[..., 0] > 0.5) & young).any(dim=-1)


def renderer_loss(
    renderer: torch.nn.Module, batch: dict[str, torch.Tensor], warmup_frames: int = 0, onset_weight: float = 0.0
) -> torch.Tensor:
    """Log-mel L1 over the frames after the first `warmup_frames`; with onset_weight w, the mean weighted
    1 + w on the frames of notes' attacks (onset_frames)."""
    pred = renderer(batch["pitch"], batch["notes"], batch["track"], batch["program"])  # (B, n_mels, T)
    error = (pred[:, :, warmup_frames:] - batch["log_mel"][:, :, warmup_frames:]).abs()
    if not onset_weight:
        return error.mean()
    weight = 1.0 + onset_weight * onset_frames(batch["notes"][:, warmup_frames:]).to(error.dtype)  # (B, T)
    return (error * weight[:, None]).mean() / weight.mean()


class _Batches:
    """Training and fixed validation batches of one kind, on `device`."""

    def __init__(self, tc: AudioTrainConfig, model: torch.nn.Module, device: torch.device, rank: int) -> None:
        data = Path(tc.data_dir)
        mel = model.cfg.mel_config() if tc.kind == "vocoder" else MelConfig(n_mels=model.cfg.n_mels)
        max_notes = getattr(model.cfg, "max_notes", 16)
        self.train = AudioDataset(data, "train", mel, max_notes)
        if not len(self.train):
            raise ComposerError(data / "manifest.json", "no train shards")
        if tc.kind == "renderer" and self.train.vocoder_only:
            raise ComposerError(
                data / "manifest.json", "a vocoder-only build (audio without notes): not for the renderer"
            )
        valid = AudioDataset(data, "valid", mel, max_notes)
        self.valid_is_train = not len(valid)
        self.valid = self.train if self.valid_is_train else valid
        self.tc, self.device = tc, device
        if tc.warmup_frames is not None:
            self.warmup_frames = tc.warmup_frames
        else:
            self.warmup_frames = getattr(model, "receptive_field_frames", RENDERER_WARMUP_FRAMES)
        self.window_frames = self.warmup_frames + tc.segment_frames
        self.latency_samples = getattr(model, "latency_samples", 0)
        valid_rng = np.random.default_rng(12345)
        self.valid_batches = [self._to_device(self.draw(self.valid, valid_rng, min(tc.batch_size, VALID_WINDOWS)))]
        stream = _WindowStream(self, tc.seed + 1000 * rank)
        if tc.workers > 0:
            loader = torch.utils.data.DataLoader(stream, batch_size=None, num_workers=tc.workers, prefetch_factor=4)
            self._stream = iter(loader)
        else:
            self._stream = iter(stream)

    def draw(self, data: AudioDataset, rng: np.random.Generator, batch_size: int):
        """One batch on the CPU: (context, target) for the vocoder, a dict for the renderer."""
        if self.tc.kind == "vocoder":
            return data.vocoder_batch(rng, batch_size, self.window_frames, self.latency_samples)
        return data.renderer_batch(rng, batch_size, self.window_frames)

    def _to_device(self, batch):
        if isinstance(batch, dict):
            return {k: v.to(self.device) for k, v in batch.items()}
        return tuple(v.to(self.device) for v in batch)

    def next(self):
        return self._to_device(next(self._stream))

    def close(self) -> None:
        """Stop the worker processes (dropping the DataLoader's iterator shuts them down)."""
        self._stream = None


class _WindowStream(torch.utils.data.IterableDataset):
    """Endless training batches; each DataLoader worker draws with its own generator."""

    def __init__(self, batches: _Batches, seed: int) -> None:
        self.batches, self.seed = batches, seed

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        rng = np.random.default_rng([self.seed, 0 if info is None else info.id + 1])
        while True:
            yield self.batches.draw(self.batches.train, rng, self.batches.tc.batch_size)


def make_model(kind: str, cfg: VocoderConfig | RendererConfig) -> torch.nn.Module:
    if kind not in ("vocoder", "renderer"):
        raise ValueError(f"kind must be 'vocoder' or 'renderer', not {kind!r}")
    return Vocoder(cfg) if kind == "vocoder" else Renderer(cfg)


def train_audio(tc: AudioTrainConfig, mc: VocoderConfig | RendererConfig) -> dict:
    """Run training; returns the final summary (also the last JSONL line)."""
    run = Run(tc)
    if tc.init and not run.resuming:
        start_from, _ = load_neural(tc.init, tc.kind)
        mc = start_from.cfg
    model = make_model(tc.kind, mc).to(run.device)
    if tc.init and not run.resuming:
        model.load_state_dict(start_from.state_dict())
    frontend = LogMel(mc.mel_config()).to(run.device) if tc.kind == "vocoder" else None
    batches = _Batches(tc, model, run.device, run.rank)

    def loss_of(module: torch.nn.Module, batch, onset_weight: float = 0.0) -> torch.Tensor:
        if tc.kind == "vocoder":
            return vocoder_loss(module, frontend, *batch, warmup_frames=batches.warmup_frames)
        return renderer_loss(module, batch, warmup_frames=batches.warmup_frames, onset_weight=onset_weight)

    opt = adamw(model, tc.lr, tc.weight_decay, betas=(0.8, 0.99))
    if run.resuming:
        loaded, extra = load_neural(run.last_path, tc.kind)
        model.load_state_dict(loaded.state_dict())
        run.restore(opt, extra)

    @torch.no_grad()
    def validate() -> Validation:
        model.eval()
        value = float(np.mean([loss_of(model, b).item() for b in batches.valid_batches]))
        return Validation(value, {"valid_loss": round(value, 4)})

    def start() -> dict:
        params = sum(p.numel() for p in model.parameters())
        return {"kind": tc.kind, "params": params, "model": mc.to_dict(), "train": asdict(tc),
                "valid_is_train": batches.valid_is_train, "warmup_frames": batches.warmup_frames}  # fmt: skip

    try:
        result = run.train(
            model,
            opt,
            lambda module: loss_of(module, batches.next(), tc.onset_weight),
            validate,
            lambda path, extra, tensors: save_neural(model, path, extra=extra, tensors=tensors),
            start=start,
            desc=f"train {tc.kind}",
            amp=False,  # the vocoder's inverse FFT (and the losses' FFTs) have no bf16 kernels; fp32 as before
        )
    finally:
        batches.close()
    summary = {"event": "end", "kind": tc.kind, "step": result.step, "elapsed_s": result.elapsed_s}
    if run.is_main:
        summary["best_valid_loss"] = round(result.best, 4)
    return run.finish(summary | result.ranks())

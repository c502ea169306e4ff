"""Sampling log-mel from the mel diffusion model by rectified flow (flow matching), with text guidance.

    model, meta = load_diffusion()                       # models/diffusion/model.safetensors
    gen = torch.Generator().manual_seed(7)
    log_mel = sample_mel(model, text_emb, 512, steps=20, guidance=3.0, generator=gen)   # (B, 80, 512)

Convention. Time runs from noise to data: x_t = (1 - t) * noise + t * data,
t in [0, 1], and the model predicts the (constant along a straight path)
velocity dx_t/dt = data - noise. Sampling integrates dx/dt = v(x, t) from
pure noise at t = 0 to data at t = 1 with Euler or Heun steps on a uniform
grid. Classifier-free guidance: v = v_u + g * (v_c - v_u), the conditional
and the unconditional (null text) velocity computed in one batch; g = 1 is
the conditional model alone (one pass).

Continuation (`known`): the first n_known frames are held on the straight
path from their own starting noise to the known mel, x_t = (1 - t) * noise +
t * known, at every step, so the rest of the window is generated to agree
with them (inpainting); at t = 1 they equal the known frames exactly.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import torch

from composer.errors import ComposerError
from composer.model.checkpoint import load_model
from synth.instruments.neural.mel import SILENCE_LOG_MEL
from synth.prompt.diffusion import Controls, DiffusionConfig, MelDiT

KIND = "mel-diffusion"
DEFAULT_DIFFUSION_PATH = Path(__file__).resolve().parents[2] / "models" / "diffusion" / "model.safetensors"
SAMPLERS = ("heun", "euler")


def noised(data: torch.Tensor, noise: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """The point at time t (B,) on the straight path from noise (t = 0) to data (t = 1); tensors (B, ...)."""
    t = t.view(-1, *([1] * (data.dim() - 1)))
    return (1 - t) * noise + t * data


def velocity_target(data: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """What the model learns to predict at every t: dx_t/dt along the straight path."""
    return data - noise


def load_diffusion(path: str | Path | None = DEFAULT_DIFFUSION_PATH, device: str = "cpu") -> tuple[MelDiT, dict]:
    """The shipped diffusion model (or `path`): (model in eval mode, the file's extra metadata).

    ComposerError, naming the file, when it is missing, of another kind, or its tensors do not fit its config."""
    path = Path(path) if path is not None else DEFAULT_DIFFUSION_PATH
    if not path.exists():
        raise ComposerError(path, "diffusion weights not found; train with `composer train diffusion --export`")
    model, meta = load_model(path, KIND, MelDiT, DiffusionConfig, device)
    return model, meta


def guided_velocity(
    model: MelDiT,
    x: torch.Tensor,
    t: float,
    text_emb: torch.Tensor,
    guidance: float,
    controls: Controls | None = None,
    key_guidance: float = 0.0,
) -> torch.Tensor:
    """v_u + g (v_c - v_u) at time t for x (B, n_mels, F); the two in one batch (one pass when g = 1). The
    unguided half has neither the text nor the controls, so guidance strengthens both. With `key_guidance` k
    and a key among the controls, + k (v_c - v_k): v_k is the conditional velocity with the key unknown, so the
    key alone is pushed further (a third of the batch more)."""
    B = x.shape[0]
    if guidance == 1.0:
        return model(x, x.new_full((B,), t), text_emb, None, controls)
    if key_guidance and controls is not None and controls.key_known():
        drop = torch.tensor([False] * B + [True] * B + [False] * B, device=x.device)  # guided, unguided, no key
        no_key = controls.without_key()
        three = Controls(
            torch.cat([controls.global_features, controls.global_features, no_key.global_features]),
            torch.cat([controls.grid, controls.grid, no_key.grid]),
        )
        v = model(torch.cat([x, x, x]), x.new_full((3 * B,), t), torch.cat([text_emb] * 3), drop, three)
        v_cond, v_uncond, v_no_key = v[:B], v[B : 2 * B], v[2 * B :]
        return v_uncond + guidance * (v_cond - v_uncond) + key_guidance * (v_cond - v_no_key)
    drop = torch.cat([torch.zeros(B, dtype=torch.bool), torch.ones(B, dtype=torch.bool)]).to(x.device)
    both = None if controls is None else controls.repeat(2)
    v = model(torch.cat([x, x]), x.new_full((2 * B,), t), torch.cat([text_emb, text_emb]), drop, both)  # (2B, M, F)
    v_cond, v_uncond = v[:B], v[B:]
    return v_uncond + guidance * (v_cond - v_uncond)


@torch.inference_mode()
def sample_mel(
    model: MelDiT,
    text_emb: torch.Tensor,
    n_frames: int,
    steps: int = 20,
    guidance: float = 3.0,
    generator: torch.Generator | None = None,
    known: torch.Tensor | None = None,
    sampler: str = "heun",
    progress: Callable[[int, int], None] | None = None,
    controls: Controls | None = None,
    key_guidance: float = 0.0,
) -> torch.Tensor:
    """Generate (B, n_mels, n_frames) log-mel for text embeddings (B, text_dim).

    `known` (B, n_mels, n_known) log-mel, n_known < n_frames: the window continues it (its first frames
    are exactly `known`). The same generator state gives the same result. `progress(i, steps)` is called
    after step i (1..steps). Values are floored at the log-mel of silence. Heun costs two model passes a
    step (Euler one), guidance != 1 doubles the batch. `controls` (synth/prompt/diffusion.Controls, for
    n_frames frames): tempo, key, meter and beat grid, heard by a model trained with them; `key_guidance`
    pushes the key further (guided_velocity)."""
    cfg = model.cfg
    B = text_emb.shape[0]
    if text_emb.dim() != 2 or text_emb.shape[1] != cfg.text_dim:
        raise ValueError(f"text_emb must be (B, {cfg.text_dim}), got {tuple(text_emb.shape)}")
    if not 0 < n_frames <= cfg.clip_frames:
        raise ValueError(f"n_frames must be in 1..{cfg.clip_frames}, got {n_frames}")
    if steps < 1:
        raise ValueError(f"steps must be positive, got {steps}")
    if not math.isfinite(guidance):
        raise ValueError(f"guidance must be finite, got {guidance}")
    if not (math.isfinite(key_guidance) and key_guidance >= 0):
        raise ValueError(f"key_guidance must be finite and >= 0, got {key_guidance}")
    if sampler not in SAMPLERS:
        raise ValueError(f"sampler must be one of {SAMPLERS}, not {sampler!r}")
    device = model.mel_mean.device
    text_emb = text_emb.to(device, torch.float32)
    noise = torch.randn(B, cfg.n_mels, n_frames, generator=generator, device=generator.device if generator else None)
    x = noise.to(device)
    n_known = 0
    if known is not None:
        n_known = known.shape[-1]
        if known.dim() != 3 or known.shape[:2] != (B, cfg.n_mels) or not 0 < n_known < n_frames:
            raise ValueError(f"known must be (B={B}, {cfg.n_mels}, n_known < {n_frames}), got {tuple(known.shape)}")
        known_x = model.normalize(known.to(device, torch.float32))
        known_noise = x[:, :, :n_known].clone()

    def pin(x: torch.Tensor, t: float) -> torch.Tensor:
        if n_known:
            x[:, :, :n_known] = (1 - t) * known_noise + t * known_x
        return x

    grid = torch.linspace(0.0, 1.0, steps + 1).tolist()
    model.eval()
    for i, (t, t_next) in enumerate(zip(grid[:-1], grid[1:], strict=True)):
        dt = t_next - t
        x = pin(x, t)
        v = guided_velocity(model, x, t, text_emb, guidance, controls, key_guidance)
        x_next = pin(x + dt * v, t_next)
        if sampler == "heun":
            v_next = guided_velocity(model, x_next, t_next, text_emb, guidance, controls, key_guidance)
            x_next = pin(x + dt * 0.5 * (v + v_next), t_next)
        x = x_next
        if progress is not None:
            progress(i + 1, steps)
    return model.denormalize(x).clamp(min=SILENCE_LOG_MEL)  # below the floor is no sound a log-mel can hold

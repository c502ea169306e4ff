"""The log-mel frontend shared by the renderer (its target) and the vocoder (its input).

    mel = LogMel()                       # 24 kHz, hop 256, n_fft 1024, 80 bands
    log_mel = mel(audio)                 # (B, n_samples) -> (B, 80, n_samples // 256)

Frames are causal: frame k is the magnitude spectrum of the 1024 samples that
end at sample (k + 1) * 256 (zeros before the start), so a frame never looks
at audio after its own hop. n_fft = 1024 (43 ms) resolves 23 Hz bins, enough
to give all 80 bands down to 0 Hz at least one bin; a shorter window would
leave the lowest bands empty. Magnitudes (not power), natural log, floored at
1e-5, as in Vocos.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

LOG_FLOOR = 1e-5
SILENCE_LOG_MEL = math.log(LOG_FLOOR)  # the log-mel of digital silence


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 24000
    hop_samples: int = 256
    n_fft: int = 1024
    n_mels: int = 80
    f_min_hz: float = 0.0
    f_max_hz: float = 12000.0

    def to_dict(self) -> dict:
        return asdict(self)


def hz_to_mel(f_hz: np.ndarray) -> np.ndarray:
    return 2595.0 * np.log10(1.0 + np.asarray(f_hz, dtype=np.float64) / 700.0)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    return 700.0 * (10.0 ** (np.asarray(mel, dtype=np.float64) / 2595.0) - 1.0)


def mel_filterbank(cfg: MelConfig) -> np.ndarray:
    """Triangular filters, each normalised to unit area over its bins: (n_mels, n_fft // 2 + 1)."""
    bins_hz = np.arange(cfg.n_fft // 2 + 1) * cfg.sample_rate / cfg.n_fft
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(cfg.f_min_hz), hz_to_mel(cfg.f_max_hz), cfg.n_mels + 2))
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]
    rising = (bins_hz[None] - lower) / (centre - lower)
    falling = (upper - bins_hz[None]) / (upper - centre)
    fb = np.clip(np.minimum(rising, falling), 0.0, None)
    # A band narrower than a bin would be empty: give it the nearest bin.
    for row, c in enumerate(centre[:, 0]):
        if fb[row].sum() == 0:
            fb[row, int(round(c * cfg.n_fft / cfg.sample_rate))] = 1.0
    return (fb / fb.sum(axis=1, keepdims=True)).astype(np.float32)


class LogMel(nn.Module):
    """Causal log-mel frames: (B, n_samples) -> (B, n_mels, n_samples // hop_samples)."""

    def __init__(self, cfg: MelConfig | None = None) -> None:
        super().__init__()
        self.cfg = cfg or MelConfig()
        if self.cfg.n_fft % self.cfg.hop_samples:
            raise ValueError(f"n_fft ({self.cfg.n_fft}) must be a multiple of hop_samples ({self.cfg.hop_samples})")
        self.register_buffer("window", torch.hann_window(self.cfg.n_fft), persistent=False)
        self.register_buffer("filters", torch.from_numpy(mel_filterbank(self.cfg)), persistent=False)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        B, N = audio.shape
        cfg = self.cfg
        n_frames = N // cfg.hop_samples
        padded = nn.functional.pad(audio[:, : n_frames * cfg.hop_samples], (cfg.n_fft - cfg.hop_samples, 0))
        frames = padded.unfold(1, cfg.n_fft, cfg.hop_samples)  # (B, n_frames, n_fft)
        mag = torch.fft.rfft(frames * self.window, dim=-1).abs()  # (B, n_frames, n_fft // 2 + 1)
        mel = torch.matmul(mag, self.filters.T)  # (B, n_frames, n_mels)
        return torch.log(mel.clamp(min=LOG_FLOOR)).transpose(1, 2)  # (B, n_mels, n_frames)

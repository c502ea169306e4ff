"""The vocoder: causal log-mel frames -> waveform, Vocos-style (frame-rate network + inverse-STFT head).

    voc = Vocoder(VocoderConfig())
    audio = voc(log_mel)                        # offline: (B, n_mels, T) -> (B, T * hop_samples)
    state = voc.initial_state(batch_size=1)
    block, state = voc.step(log_mel_k, state)   # streaming, any number of frames per call; same samples

Timing. The head makes one windowed frame of `n_fft = 2 * hop` samples per
mel frame and overlap-adds them with a sqrt-Hann window (whose squares sum
to 1 at 50 % overlap, so the head adds no ripple of its own). Mel frame k
has seen the audio up to sample (k + 1) * hop (synth.instruments.neural.mel frames are causal),
so the synthesis frame k is trained to reproduce the audio that ends there,
[(k - 1) * hop, (k + 1) * hop): output sample n stands for reference sample
n - latency_samples, latency_samples = n_fft - hop = 256 (10.7 ms at 24 kHz).
The network itself is causal (cumulative delay 0 frames): a call with frames
up to k returns samples up to (k + 1) * hop at once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from synth.instruments.neural.blocks import CausalConvNeXtBlock
from synth.instruments.neural.mel import MelConfig
from synth.instruments.neural.streaming import CausalConv1d, cumulative_delay

MAX_LOG_MAGNITUDE = 4.6  # exp(4.6) ~ 100, Vocos' magnitude clip


@dataclass
class VocoderConfig:
    n_mels: int = 80
    hop_samples: int = 256
    sample_rate: int = 24000
    channels: int = 256
    hidden: int = 768
    n_blocks: int = 4
    kernel_size: int = 7
    input_kernel_size: int = 7

    def __post_init__(self) -> None:
        for name in ("n_mels", "hop_samples", "sample_rate", "channels", "hidden", "n_blocks", "kernel_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")

    @property
    def n_fft(self) -> int:
        return 2 * self.hop_samples

    def mel_config(self) -> MelConfig:
        return MelConfig(sample_rate=self.sample_rate, hop_samples=self.hop_samples, n_mels=self.n_mels)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class VocoderState:
    """Everything the vocoder carries from one call to the next."""

    conv: list[torch.Tensor] = field(default_factory=list)  # per layer: (B, C, context_frames)
    overlap: torch.Tensor | None = None  # (B, n_fft - hop): the next samples' part already summed


class ISTFTHead(nn.Module):
    """Features (B, C, T) -> log-magnitude and phase of T frames -> T * hop samples by overlap-add."""

    def __init__(self, channels: int, hop_samples: int) -> None:
        super().__init__()
        self.hop_samples = hop_samples
        self.n_fft = 2 * hop_samples
        self.n_bins = self.n_fft // 2 + 1
        self.proj = nn.Linear(channels, 2 * self.n_bins)
        self.register_buffer("window", torch.hann_window(self.n_fft).sqrt(), persistent=False)

    def spectrum(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, T) -> complex (B, T, n_bins)."""
        log_mag, phase = self.proj(x.transpose(1, 2)).chunk(2, dim=-1)  # (B, T, n_bins) each
        mag = torch.exp(log_mag.clamp(max=MAX_LOG_MAGNITUDE))
        return torch.polar(mag, phase)

    def frames(self, spec: torch.Tensor) -> torch.Tensor:
        """complex (B, T, n_bins) -> windowed time frames (B, T, n_fft)."""
        return torch.fft.irfft(spec, n=self.n_fft, dim=-1) * self.window

    def overlap_add(self, frames: torch.Tensor, overlap: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Frames (B, T, 2 * hop) after `overlap` (B, hop) -> (samples (B, T * hop), next overlap (B, hop))."""
        B, T, _ = frames.shape
        hop = self.hop_samples
        first, second = frames[..., :hop], frames[..., hop:]  # (B, T, hop) each
        previous = torch.cat([overlap[:, None], second[:, :-1]], dim=1)  # (B, T, hop)
        return (first + previous).reshape(B, T * hop), second[:, -1]


class Vocoder(nn.Module):
    """Causal log-mel -> waveform at `cfg.sample_rate`. See the module docstring for timing."""

    def __init__(self, cfg: VocoderConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.embed = CausalConv1d(cfg.n_mels, cfg.channels, cfg.input_kernel_size)
        self.norm = nn.LayerNorm(cfg.channels)
        self.blocks = nn.ModuleList(
            CausalConvNeXtBlock(cfg.channels, cfg.hidden, cfg.kernel_size) for _ in range(cfg.n_blocks)
        )
        self.final_norm = nn.LayerNorm(cfg.channels)
        self.head = ISTFTHead(cfg.channels, cfg.hop_samples)

    @property
    def latency_samples(self) -> int:
        """Output sample n stands for the reference's sample n - latency_samples."""
        delay = cumulative_delay([self.embed, *self.blocks])
        return delay * self.cfg.hop_samples + self.head.n_fft - self.cfg.hop_samples

    @property
    def receptive_field_frames(self) -> int:
        """Past frames an output frame depends on: with this much history the output equals an endless stream's."""
        return self.embed.context_frames + sum(b.dwconv.context_frames for b in self.blocks)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x.transpose(1, 2)).transpose(1, 2)  # (B, C, T)

    def _to_head(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_norm(x.transpose(1, 2)).transpose(1, 2)  # (B, C, T)

    def forward(self, log_mel: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, T) -> (B, T * hop_samples), from silence."""
        B, _, T = log_mel.shape
        x = self._features(self.embed(log_mel))  # (B, C, T)
        for block in self.blocks:
            x = block(x)
        frames = self.head.frames(self.head.spectrum(self._to_head(x)))  # (B, T, n_fft)
        audio, _ = self.head.overlap_add(frames, frames.new_zeros(B, self.cfg.hop_samples))
        return audio

    def initial_state(self, batch_size: int = 1) -> VocoderState:
        conv = [self.embed.initial_state(batch_size)] + [b.initial_state(batch_size) for b in self.blocks]
        return VocoderState(conv, self.embed.weight.new_zeros(batch_size, self.cfg.hop_samples))

    def step(self, log_mel: torch.Tensor, state: VocoderState) -> tuple[torch.Tensor, VocoderState]:
        """Frames (B, n_mels, T) after those `state` has seen -> (samples (B, T * hop), new state)."""
        x, embed_state = self.embed.step(log_mel, state.conv[0])
        x = self._features(x)
        conv = [embed_state]
        for block, s in zip(self.blocks, state.conv[1:], strict=True):
            x, s = block.step(x, s)
            conv.append(s)
        frames = self.head.frames(self.head.spectrum(self._to_head(x)))
        audio, overlap = self.head.overlap_add(frames, state.overlap)
        return audio, VocoderState(conv, overlap)

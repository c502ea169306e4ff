"""The performance renderer: features of the sounding notes -> causal log-mel frames.

    r = Renderer(RendererConfig())
    log_mel = r(pitch, notes, track, program)            # offline, see forward() for shapes
    state = r.initial_state(batch_size=1)
    log_mel_k, state = r.step(pitch_k, notes_k, track_k, program, state)   # same frames, streaming

Each note slot goes through a small MLP (pitch and program embeddings plus
the numeric features of synth.note_features); empty slots are masked and the
slots are summed, so the order of slots does not matter and polyphony is the
slot count. Track features (pedal, bend) are added, then causal ConvNeXt
blocks and a GRU run over time. Nothing looks ahead: frame k depends only on
features of frames <= k, and a note-on changes the frame it lands in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from synth.blocks import CausalConvNeXtBlock
from synth.mel import SILENCE_LOG_MEL
from synth.note_features import N_NOTE_FEATURES, N_TRACK_FEATURES
from synth.streaming import cumulative_delay


@dataclass
class RendererConfig:
    n_mels: int = 80
    max_notes: int = 16
    n_note_features: int = N_NOTE_FEATURES
    n_track_features: int = N_TRACK_FEATURES
    pitch_dim: int = 32
    program_dim: int = 16
    note_hidden: int = 128
    channels: int = 256
    hidden: int = 512
    n_blocks: int = 3
    kernel_size: int = 5

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if int(value) < 1:
                raise ValueError(f"{name} must be positive, not {value}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class RendererState:
    conv: list[torch.Tensor] = field(default_factory=list)  # per block: (B, C, context_frames)
    gru: torch.Tensor | None = None  # (1, B, C)


class Renderer(nn.Module):
    def __init__(self, cfg: RendererConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.pitch_emb = nn.Embedding(128, cfg.pitch_dim)
        self.program_emb = nn.Embedding(128, cfg.program_dim)
        note_in = cfg.pitch_dim + cfg.program_dim + cfg.n_note_features
        self.note_mlp = nn.Sequential(
            nn.Linear(note_in, cfg.note_hidden), nn.GELU(), nn.Linear(cfg.note_hidden, cfg.channels)
        )
        self.track_proj = nn.Linear(cfg.n_track_features, cfg.channels)
        self.norm = nn.LayerNorm(cfg.channels)
        self.blocks = nn.ModuleList(
            CausalConvNeXtBlock(cfg.channels, cfg.hidden, cfg.kernel_size) for _ in range(cfg.n_blocks)
        )
        self.gru = nn.GRU(cfg.channels, cfg.channels, batch_first=True)
        self.out = nn.Linear(cfg.channels, cfg.n_mels)
        nn.init.constant_(self.out.bias, SILENCE_LOG_MEL)  # start from silence

    @property
    def delay_frames(self) -> int:
        return cumulative_delay(self.blocks)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _pooled(self, pitch, notes, track, program) -> torch.Tensor:
        """pitch (B, T, S), notes (B, T, S, F), track (B, T, G), program (B,) -> (B, C, T)."""
        B, T, S = pitch.shape
        prog = self.program_emb(program)[:, None, None].expand(B, T, S, -1)  # (B, T, S, program_dim)
        per_note = self.note_mlp(torch.cat([self.pitch_emb(pitch), prog, notes], dim=-1))  # (B, T, S, C)
        pooled = (per_note * notes[..., :1]).sum(dim=2) + self.track_proj(track)  # (B, T, C); notes[..., 0] = active
        return self.norm(pooled).transpose(1, 2)

    def forward(
        self, pitch: torch.Tensor, notes: torch.Tensor, track: torch.Tensor, program: torch.Tensor
    ) -> torch.Tensor:
        """pitch (B, T, S) int64, notes (B, T, S, F), track (B, T, G), program (B,) int64 -> (B, n_mels, T)."""
        x = self._pooled(pitch, notes, track, program)
        for block in self.blocks:
            x = block(x)
        h, _ = self.gru(x.transpose(1, 2))  # (B, T, C)
        return self.out(h).transpose(1, 2)

    def initial_state(self, batch_size: int = 1) -> RendererState:
        weight = self.out.weight
        return RendererState(
            [b.initial_state(batch_size) for b in self.blocks], weight.new_zeros(1, batch_size, self.cfg.channels)
        )

    def step(self, pitch, notes, track, program, state: RendererState) -> tuple[torch.Tensor, RendererState]:
        """The next frames (shapes as in forward) after those `state` has seen -> ((B, n_mels, T), new state)."""
        x = self._pooled(pitch, notes, track, program)
        conv = []
        for block, s in zip(self.blocks, state.conv, strict=True):
            x, s = block.step(x, s)
            conv.append(s)
        h, gru = self.gru(x.transpose(1, 2), state.gru)
        return self.out(h).transpose(1, 2), RendererState(conv, gru)

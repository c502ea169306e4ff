"""A causal ConvNeXt block at frame rate, shared by the vocoder and the renderer."""

from __future__ import annotations

import torch
from torch import nn

from synth.instruments.neural.streaming import CausalConv1d


class CausalConvNeXtBlock(nn.Module):
    """Depthwise causal conv -> LayerNorm -> pointwise MLP -> layer scale, residual. (B, C, T) -> (B, C, T)."""

    delay_frames = 0

    def __init__(self, channels: int, hidden: int, kernel_size: int = 7, layer_scale: float = 0.1) -> None:
        super().__init__()
        self.dwconv = CausalConv1d(channels, channels, kernel_size, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.pw1 = nn.Linear(channels, hidden)
        self.pw2 = nn.Linear(hidden, channels)
        self.gamma = nn.Parameter(torch.full((channels,), layer_scale))

    def _mlp(self, x: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        h = self.norm(h.transpose(1, 2))  # (B, T, C)
        h = self.pw2(nn.functional.gelu(self.pw1(h))) * self.gamma
        return x + h.transpose(1, 2)  # (B, C, T)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._mlp(x, self.dwconv(x))

    def initial_state(self, batch_size: int = 1) -> torch.Tensor:
        return self.dwconv.initial_state(batch_size)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, state = self.dwconv.step(x, state)
        return self._mlp(x, h), state

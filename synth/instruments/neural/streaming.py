"""Causal convolutions that stream: explicit state, left padding from the previous block's tail.

    conv = CausalConv1d(80, 256, kernel_size=7)
    y = conv(x)                                  # offline: (B, C_in, T) -> (B, C_out, T), zeros before t = 0
    state = conv.initial_state(batch_size=1)     # (B, C_in, (kernel_size - 1) * dilation), zeros
    y_k, state = conv.step(x_k, state)           # any block length; chunked == one pass

As in cached_conv, each layer knows its own delay (`delay_frames`: 0 for a
causal convolution) so a stack can report the sum (`cumulative_delay`).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

SHORT_BLOCK_FRAMES = 8  # streaming blocks up to this long take the depthwise fast path


class CausalConv1d(nn.Conv1d):
    """A Conv1d that sees only the present and the past; no look-ahead, so `delay_frames` is 0."""

    delay_frames = 0

    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, dilation: int = 1, groups: int = 1
    ) -> None:
        super().__init__(in_channels, out_channels, kernel_size, dilation=dilation, groups=groups, padding=0)

    @property
    def context_frames(self) -> int:
        """Past frames each output needs: the state's length."""
        return (self.kernel_size[0] - 1) * self.dilation[0]

    def initial_state(self, batch_size: int = 1) -> torch.Tensor:
        """Silence before the start: (B, C_in, context_frames) zeros."""
        return self.weight.new_zeros(batch_size, self.in_channels, self.context_frames)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(nn.functional.pad(x, (self.context_frames, 0)))  # (B, C_out, T)

    def step(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One block (B, C_in, T) after the frames summarised by `state`; returns (y, next state)."""
        joined = torch.cat([state, x], dim=2)  # (B, C_in, context + T)
        tail = joined[:, :, joined.shape[2] - self.context_frames :]
        if self.groups == self.in_channels == self.out_channels and x.shape[2] <= SHORT_BLOCK_FRAMES:
            return self._depthwise(joined), tail
        return super().forward(joined), tail

    def _depthwise(self, joined: torch.Tensor) -> torch.Tensor:
        """The same depthwise convolution as a windowed product: CPU conv1d costs ~60 us a call on short blocks."""
        K, d = self.kernel_size[0], self.dilation[0]
        windows = joined.unfold(2, (K - 1) * d + 1, 1)[..., ::d]  # (B, C, T, K)
        y = (windows * self.weight[:, 0][None, :, None]).sum(-1)  # (B, C, T)
        return y if self.bias is None else y + self.bias[None, :, None]


def cumulative_delay(modules: Iterable[nn.Module]) -> int:
    """The frames of delay a chain of layers adds up to (each layer's `delay_frames`, 0 if it has none)."""
    return sum(int(getattr(m, "delay_frames", 0)) for m in modules)

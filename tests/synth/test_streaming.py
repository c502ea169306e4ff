"""CausalConv1d: chunked == one pass, no look-ahead, delay reported."""

from __future__ import annotations

import pytest
import torch

from synth.instruments.neural.streaming import CausalConv1d, cumulative_delay


@pytest.mark.parametrize(
    "out_channels,kernel_size,dilation,groups",
    [(6, 1, 1, 1), (6, 3, 1, 1), (6, 7, 1, 2), (6, 3, 4, 1), (4, 7, 1, 4), (4, 3, 3, 4)],  # groups 4: depthwise
)
def test_chunked_equals_one_pass(out_channels, kernel_size, dilation, groups):
    torch.manual_seed(0)
    conv = CausalConv1d(4, out_channels, kernel_size, dilation=dilation, groups=groups)
    x = torch.randn(2, 4, 40)  # (B, C, T)
    with torch.no_grad():
        whole = conv(x)
        state = conv.initial_state(batch_size=2)
        assert state.shape == (2, 4, (kernel_size - 1) * dilation)
        pieces, t = [], 0
        for n in (1, 3, 2, 7, 1, 26):  # short blocks and one long one (the two code paths)
            y, state = conv.step(x[:, :, t : t + n], state)
            pieces.append(y)
            t += n
    assert whole.shape == (2, out_channels, 40)
    torch.testing.assert_close(torch.cat(pieces, dim=2), whole, rtol=1e-5, atol=1e-6)


def test_no_look_ahead():
    torch.manual_seed(0)
    conv = CausalConv1d(3, 3, 5, dilation=2)
    x = torch.randn(1, 3, 30)
    changed = x.clone()
    changed[:, :, 20] += 1.0
    with torch.no_grad():
        a, b = conv(x), conv(changed)
    assert torch.equal(a[:, :, :20], b[:, :, :20])
    assert not torch.equal(a[:, :, 20], b[:, :, 20])
    assert cumulative_delay([conv, conv, torch.nn.ReLU()]) == 0

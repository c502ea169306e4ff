import numpy as np
import pytest

from synth.engine.ring_buffer import FrameRing


def frames(start: int, n: int) -> np.ndarray:
    x = np.arange(start, start + n, dtype=np.float32)
    return np.stack([x, -x], axis=1)  # (n, 2)


def test_round_trip_across_the_wrap():
    ring = FrameRing(8)
    out = np.empty((3, 2), dtype=np.float32)
    expected = 0
    for block in range(10):
        assert ring.write(frames(block * 3, 3))
        assert ring.read_into(out) == 3
        np.testing.assert_array_equal(out, frames(expected, 3))
        expected += 3
    assert ring.available_frames == 0


def test_full_ring_refuses_a_block_and_keeps_its_content():
    ring = FrameRing(4)
    assert ring.write(frames(0, 3))
    assert not ring.write(frames(3, 2))
    assert ring.available_frames == 3
    out = np.empty((3, 2), dtype=np.float32)
    ring.read_into(out)
    np.testing.assert_array_equal(out, frames(0, 3))


def test_underrun_pads_with_silence():
    ring = FrameRing(8)
    ring.write(frames(1, 2))
    out = np.full((5, 2), 7.0, dtype=np.float32)
    assert ring.read_into(out) == 2
    np.testing.assert_array_equal(out[:2], frames(1, 2))
    assert not out[2:].any()
    assert ring.read_frames == 2


def test_clear_drops_unread_frames():
    ring = FrameRing(8)
    ring.write(frames(0, 5))
    ring.clear()
    assert ring.available_frames == 0 and ring.free_frames == 8


@pytest.mark.parametrize("capacity", [0, -1])
def test_capacity_must_be_positive(capacity):
    with pytest.raises(ValueError, match="capacity_frames"):
        FrameRing(capacity)

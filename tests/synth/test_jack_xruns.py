"""The xrun monitor (synth/engine/jack_xruns.py) sees the server's xruns when a client is late."""

from __future__ import annotations

import time

import numpy as np
import sounddevice

from synth.engine.jack_xruns import JackXrunMonitor


def test_a_late_client_is_counted_and_reset_clears(jack_server):
    with JackXrunMonitor("xrun-test") as xruns:
        assert xruns.available, xruns.problem
        xruns.reset()
        calls = [0]

        def late_now_and_then(out: np.ndarray, frames: int, _time, _status) -> None:
            calls[0] += 1
            out[:] = 0
            if calls[0] % 60 == 0:  # 30 ms in a 5.3 ms period: the server misses it
                time.sleep(0.03)

        with sounddevice.OutputStream(samplerate=48000, blocksize=256, channels=2, callback=late_now_and_then):
            time.sleep(3.0)
        late = calls[0] // 60
        assert late >= 5 and xruns.count >= late // 2, (late, xruns.count)
        assert len(xruns.delays_us) == xruns.count
        xruns.reset()
        assert xruns.count == 0 and xruns.delays_us == []
    assert not xruns.available  # closed


def test_no_server_is_said_not_raised(monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "no-such-server-here")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    with JackXrunMonitor() as xruns:
        assert not xruns.available and "jack_client_open failed" in xruns.problem

"""Shared fixtures. `jack_server`: a private JACK dummy server for the whole session.

Tests that use it are marked `@pytest.mark.jack`. The server runs at 48 kHz
with 256-frame periods; JACK_DEFAULT_SERVER / JACK_NO_START_SERVER point this
process (and children started with os.environ) at it, PortAudio is
re-initialized to see it, and terminated before the server is killed.
"""

from __future__ import annotations

import pytest

from synth.engine.jack_dummy import JackDummyServer, JackUnavailable


@pytest.fixture(scope="session")
def jack_server():
    server = JackDummyServer(sample_rate=48000, period_frames=256)
    try:
        server.start()
    except JackUnavailable as exc:
        pytest.fail(f"JACK dummy server: {exc}")
    try:
        yield server
    finally:
        server.stop()

"""A private JACK server on the dummy backend: a real, real-time-paced device without a sound card.

Used by the tests and benchmarks (see shared AUDIO-TESTING.md):

    with JackDummyServer(sample_rate=48000, period_frames=128) as server:
        ...   # JACK_DEFAULT_SERVER / JACK_NO_START_SERVER point at it; PortAudio re-scanned

PortAudio scans devices when it initializes, so entering re-initializes it,
and leaving terminates it *before* the server goes (otherwise pa_jack can
abort the process); it stays down until the next server starts.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid


class JackUnavailable(RuntimeError):
    pass


def reinit_portaudio() -> None:
    """Make an already-imported sounddevice scan the devices again."""
    sd = sys.modules.get("sounddevice")
    if sd is None:
        return
    while sd._initialized > 0:
        sd._terminate()
    sd._initialize()


def terminate_portaudio() -> None:
    sd = sys.modules.get("sounddevice")
    if sd is None:
        return
    while sd._initialized > 0:
        sd._terminate()


class JackDummyServer:
    """`jackd -n NAME --no-realtime -d dummy -r SAMPLE_RATE -p PERIOD_FRAMES` for the life of the object."""

    def __init__(self, sample_rate: int = 48000, period_frames: int = 256, name: str | None = None) -> None:
        self.sample_rate = sample_rate
        self.period_frames = period_frames
        self.name = name or f"composer-test-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._process: subprocess.Popen | None = None
        self._saved_env: dict[str, str | None] = {}

    @property
    def env(self) -> dict[str, str]:
        """Variables that point a child process at this server."""
        return {"JACK_DEFAULT_SERVER": self.name, "JACK_NO_START_SERVER": "1"}

    def start(self) -> None:
        if shutil.which("jackd") is None or shutil.which("jack_wait") is None:
            raise JackUnavailable("jackd is not installed (Debian package jackd2)")
        rate, period = str(self.sample_rate), str(self.period_frames)
        self._process = subprocess.Popen(
            ["jackd", "-n", self.name, "--no-realtime", "-d", "dummy", "-r", rate, "-p", period],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        env = dict(os.environ, **self.env)
        ready = subprocess.run(["jack_wait", "-w", "-t", "10"], env=env, capture_output=True, text=True)
        if ready.returncode != 0 or self._process.poll() is not None:
            self.stop()
            said = f"{ready.stdout.strip()} {ready.stderr.strip()}".strip()
            raise JackUnavailable(f"jackd -n {self.name} did not come up: {said}")
        for key, value in self.env.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        reinit_portaudio()

    def stop(self) -> None:
        terminate_portaudio()
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self._saved_env.clear()  # PortAudio stays terminated: start() (or a new server) re-initializes it

    def connect(self, source: str, destination: str) -> None:
        """`jack_connect SOURCE DESTINATION` on this server."""
        env = dict(os.environ, **self.env)
        run = subprocess.run(["jack_connect", source, destination], env=env, capture_output=True, text=True)
        if run.returncode != 0:
            raise JackUnavailable(f"jack_connect {source} {destination}: {run.stderr.strip() or run.stdout.strip()}")

    def ports(self) -> list[str]:
        """Port names as `jack_lsp` prints them."""
        env = dict(os.environ, **self.env)
        run = subprocess.run(["jack_lsp"], env=env, capture_output=True, text=True)
        return [line.strip() for line in run.stdout.splitlines() if line.strip()]

    def __enter__(self) -> JackDummyServer:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

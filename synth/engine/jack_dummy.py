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
    """`jackd -n NAME --no-realtime -d dummy -r SAMPLE_RATE -p PERIOD_FRAMES` for the life of the object.

    With `realtime` (default: $COMPOSER_JACK_REALTIME is 1), `jackd -R` instead: the server's and its
    clients' process threads (where rtmixer's C callback runs) get SCHED_FIFO, as on a studio machine;
    where the server cannot start that way it starts with --no-realtime.
    """

    def __init__(
        self, sample_rate: int = 48000, period_frames: int = 256, name: str | None = None, realtime: bool | None = None
    ) -> None:
        self.sample_rate = sample_rate
        self.period_frames = period_frames
        self.realtime = os.environ.get("COMPOSER_JACK_REALTIME") == "1" if realtime is None else realtime
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
        env = dict(os.environ, **self.env)
        for mode in (["-R", "-P", "70"], ["--no-realtime"]) if self.realtime else (["--no-realtime"],):
            self._process = subprocess.Popen(
                ["jackd", "-n", self.name, *mode, "-d", "dummy", "-r", rate, "-p", period],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            ready = subprocess.run(["jack_wait", "-w", "-t", "10"], env=env, capture_output=True, text=True)
            if ready.returncode == 0 and self._process.poll() is None:
                self.realtime = mode[0] == "-R"
                break
            self._stop_process()
        else:
            said = f"{ready.stdout.strip()} {ready.stderr.strip()}".strip()
            raise JackUnavailable(f"jackd -n {self.name} did not come up: {said}")
        for key, value in self.env.items():
            self._saved_env[key] = os.environ.get(key)
            os.environ[key] = value
        reinit_portaudio()

    def _stop_process(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def stop(self) -> None:
        terminate_portaudio()
        self._stop_process()
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

"""Starting and stopping a `composer live`/`jam` process the way a user does: Ctrl+C (SIGINT).

A process started from a background job (a CI runner under `nohup ... &`) inherits SIGINT *ignored*, and
Python then installs no KeyboardInterrupt handler: Ctrl+C would do nothing. The child gets the default
disposition back before it starts, as a terminal would give it.
"""

from __future__ import annotations

import signal
import subprocess


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(cmd: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_sigint_default
    )


def interrupt(proc: subprocess.Popen, wait_s: float = 30.0) -> tuple[str, str]:
    """Ctrl+C, then the process's (stdout, stderr) once it has exited."""
    proc.send_signal(signal.SIGINT)
    return proc.communicate(timeout=wait_s)

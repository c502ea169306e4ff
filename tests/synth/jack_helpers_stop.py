"""Stopping a `composer live`/`jam` process the way a user does: Ctrl+C, and Ctrl+C again if it lingers."""

from __future__ import annotations

import signal
import subprocess


def interrupt(proc: subprocess.Popen, first_wait_s: float = 60.0, second_wait_s: float = 30.0) -> tuple[str, str]:
    """SIGINT, then (known issue: late in a long test session the first one is sometimes not acted on) a
    second SIGINT; returns (stdout, stderr). Raises TimeoutExpired if the process ignores both."""
    proc.send_signal(signal.SIGINT)
    try:
        return proc.communicate(timeout=first_wait_s)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGINT)
        return proc.communicate(timeout=second_wait_s)

"""Process and thread settings for real-time audio, the same for the app, `composer play/live/jam` and the soak.

    tune_process()            # short GIL switch interval: the render thread gets the GIL back within ~1 ms
    ...start up: load modules, open the device, build the engine...
    freeze_heap()             # everything alive now is long-lived: full collections stop walking it
    reason = request_realtime_priority()   # in the render thread: SCHED_FIFO, or one line saying why not

Python's cyclic garbage collector walks every tracked object while holding the
GIL; after `freeze_heap()` the objects of start-up (modules, the engine, the
synths) are in the permanent generation, so a collection only walks what was
made since, and the render loop itself makes no cyclic garbage.
"""

from __future__ import annotations

import gc
import os
import sys

SWITCH_INTERVAL_S = 0.001  # as tui.app sets it: a thread waiting for the GIL gets it within about this
RENDER_PRIORITY = 10  # SCHED_FIFO priority of the render thread: above every normal thread, below JACK's (70+)


def tune_process() -> None:
    """Set the GIL switch interval the app uses (idempotent)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def freeze_heap() -> None:
    """Collect once, then move every object alive now into the permanent generation (gc.freeze)."""
    gc.collect()
    gc.freeze()


def request_realtime_priority(priority: int = RENDER_PRIORITY) -> str | None:
    """Ask for SCHED_FIFO at `priority` for the calling thread. None on success, else one line saying why not.

    Linux applies os.sched_setscheduler(0, ...) to the calling thread only; elsewhere, or without the
    right (CAP_SYS_NICE or an rtprio limit), the thread keeps the normal policy and the reason is returned.
    """
    setscheduler = getattr(os, "sched_setscheduler", None)
    fifo = getattr(os, "SCHED_FIFO", None)
    if setscheduler is None or fifo is None:
        return "real-time scheduling is not available on this system"
    try:
        setscheduler(0, fifo, os.sched_param(priority))
    except (OSError, ValueError) as exc:
        return f"real-time priority refused ({exc.strerror or exc}); the render thread runs at normal priority"
    return None

"""Time from process start to the studio's first drawn frame (goal: <= 1.5 s).

Each run starts a fresh Python process that opens the app headless at 120x40
(the real default: sound opens lazily in a worker after the first frame) and
prints the wall-clock time once the first frame has been drawn. Ends with one
JSON line.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOAL_S = 1.5
RUNS = 5

CHILD = """
import asyncio, time
from tui.app import ComposerApp

async def main():
    app = ComposerApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # mount done, first refresh flushed
        print(repr(time.time()), flush=True)
        await app.action_quit()

asyncio.run(main())
"""


def one_run(home: str) -> float:
    env = {**os.environ, "COMPOSER_HOME": home, "OMP_NUM_THREADS": "1"}
    started = time.time()
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    first_frame = float(out.stdout.strip().splitlines()[0])
    return first_frame - started


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        one_run(home)  # warm the file cache (.pyc files)
        times = [one_run(home) for _ in range(RUNS)]
    import textual

    result = {
        "benchmark": "startup",
        "first_frame_s_median": round(statistics.median(times), 3),
        "first_frame_s_max": round(max(times), 3),
        "runs": RUNS,
        "goal_s": GOAL_S,
        "meets_goal": statistics.median(times) <= GOAL_S,
        "cpu_threads": os.cpu_count(),
        "python": platform.python_version(),
        "textual": textual.__version__,
        "load_avg_1m": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""The child side of tests/composer/test_save_faults.py: saves and autosaves edit after edit until killed.

    python crash_worker.py HOME PROJECT        then, on standard input, one line per run:
    run FIRST_EDIT LOG                         fork a session; it answers "pid PID", later "exit STATUS"

A forked session acts as the app does after a crash: it restores the autosave offered (if any), opens the
project, then for n = FIRST_EDIT, FIRST_EDIT + 1, ... saves song_for(n) to PROJECT and autosaves it, writing
"begin n", "saved n", "autosaved n" to LOG around the steps. The test SIGKILLs it at a random moment. The
worker imports once and forks, so a run costs milliseconds, not an interpreter start.
"""

from __future__ import annotations

import itertools
import os
import sys
import traceback
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from composer.files.project import save_project  # noqa: E402
from composer.song import AudioClip, Note, Song, Track  # noqa: E402
from tui.autosave import Autosave  # noqa: E402

RATE = 24000


def song_for(n: int) -> Song:
    """Edit n: tempo, notes and one clip change every time; a second clip never; a third comes and goes."""
    notes = [Note(40 + (n + i) % 40, 1 + (n * 7 + i) % 127, i * 0.25, i * 0.25 + 0.2) for i in range(n % 40 + 1)]
    t = np.arange(2400 + (n % 7) * 600) / RATE
    changing = (0.3 * np.sin(2 * np.pi * (200 + n) * t)).astype(np.float32)
    fixed = np.random.default_rng(1).uniform(-0.5, 0.5, (4800, 2)).astype(np.float32)
    clips = [
        AudioClip(name="voice", start_s=0.5, samples=changing, sample_rate=RATE),
        AudioClip(name="pad / wide", start_s=1.0, gain=0.5, samples=fixed, sample_rate=RATE),
    ]
    if n % 3 == 0:
        clips.append(AudioClip(name="hit", samples=np.full(1200, (n // 3 % 50) / 100, np.float32), sample_rate=RATE))
    return Song(tempo_bpm=60.0 + n % 100, tracks=[Track(name=f"edit {n}", notes=notes)], clips=clips)


def session(home: Path, project: Path, first: int, log: Path) -> None:
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def mark(text: str) -> None:
        os.write(fd, f"{text}\n".encode())

    autosave = Autosave(home)
    if autosave.crashed_session():
        autosave.load()  # the app restores it; the test has checked what it holds
    autosave.begin_session()
    autosave.set_project(project)
    for n in itertools.count(first):
        song = song_for(n)
        mark(f"begin {n}")
        save_project(song, project)
        mark(f"saved {n}")
        autosave.save(song)
        mark(f"autosaved {n}")


def main() -> None:
    home, project = Path(sys.argv[1]), Path(sys.argv[2])
    for line in sys.stdin:
        _, first, log = line.split(maxsplit=2)
        pid = os.fork()
        if pid == 0:
            try:
                session(home, project, int(first), Path(log.strip()))
            except BaseException:
                traceback.print_exc()
                os._exit(1)
            os._exit(0)
        print(f"pid {pid}", flush=True)
        _, status = os.waitpid(pid, 0)
        print(f"exit {os.waitstatus_to_exitcode(status)}", flush=True)


if __name__ == "__main__":
    main()

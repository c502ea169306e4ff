"""Saves killed at random moments: the project opens as before or as after, the autosave holds the last edit.

A worker process (crash_worker.py) forks sessions that save and autosave edit after edit; each is killed with
SIGKILL after a random delay. After every kill the project must open, whole (no clip missing), as it was before
the save in progress or as after it, and the crashed session's autosave must restore the last edit autosaved
(or the one being autosaved). The figures are printed (pytest -s shows them).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from composer.files.project import load_project, missing_clips, save_project
from composer.song import Song
from tui.autosave import Autosave

sys.path.insert(0, str(Path(__file__).parent))
from crash_worker import song_for  # noqa: E402

RUNS = 100
MAX_DELAY_S = 0.08  # a save of the test song takes about 15 ms: kills land all over several saves
STARTUP_SHARE = 0.2  # the kills that come before the first save


def same(a: Song, b: Song) -> bool:
    if (a.tempo_bpm, a.time_signature, len(a.tracks), len(a.clips)) != (
        b.tempo_bpm,
        b.time_signature,
        len(b.tracks),
        len(b.clips),
    ):
        return False
    for s, t in zip(a.tracks, b.tracks, strict=True):
        if s.name != t.name or [(n.pitch, n.velocity) for n in s.notes] != [(n.pitch, n.velocity) for n in t.notes]:
            return False
        if not np.allclose([n.start_s for n in s.notes], [n.start_s for n in t.notes], atol=1e-6):
            return False
    for c, d in zip(a.clips, b.clips, strict=True):
        if (c.name, c.start_s, c.gain, c.sample_rate) != (d.name, d.start_s, d.gain, d.sample_rate):
            return False
        if c.samples is None or d.samples is None or not np.array_equal(c.samples, d.samples):
            return False
    return True


def which(song: Song, candidates: dict[str, int]) -> str | None:
    for name, n in candidates.items():
        if same(song, song_for(n)):
            return name
    return None


def marks(log: Path) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {"begin": [], "saved": [], "autosaved": []}
    if log.exists():
        for line in log.read_text().splitlines():
            word, n = line.split()
            out[word].append(int(n))
    return out


@pytest.mark.slow
def test_sigkill_during_save_and_autosave_loses_nothing(tmp_path):
    home, project = tmp_path / "home", tmp_path / "songs" / "song.json"
    project.parent.mkdir()
    save_project(song_for(0), project)
    worker = subprocess.Popen(
        [sys.executable, str(Path(__file__).with_name("crash_worker.py")), str(home), str(project)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    rng = random.Random(20240611)
    project_state = 0  # the edit the project holds
    autosaved: int | None = None  # the edit the newest autosave holds
    next_edit = 1
    figures: Counter[str] = Counter()
    problems: list[str] = []
    t0 = time.monotonic()
    try:
        for run in range(RUNS):
            log = tmp_path / "logs" / f"{run}.log"
            log.parent.mkdir(exist_ok=True)
            worker.stdin.write(f"run {next_edit} {log}\n")
            worker.stdin.flush()
            pid = int(worker.stdout.readline().split()[1])
            if rng.random() < STARTUP_SHARE:  # while the session restores the autosave and opens the project
                time.sleep(rng.uniform(0.0, 0.03))
            else:  # once it saves
                deadline = time.monotonic() + 5
                while not (log.exists() and log.stat().st_size) and time.monotonic() < deadline:
                    time.sleep(0.001)
                time.sleep(rng.uniform(0.0, MAX_DELAY_S))
            os.kill(pid, signal.SIGKILL)
            status = worker.stdout.readline().strip()
            assert status == f"exit {-signal.SIGKILL}", f"run {run}: the session ended by itself ({status})"
            m = marks(log)

            # The project: as before or as after the last save begun (only as after once it finished).
            if m["begin"]:
                last = m["begin"][-1]
                before = max([project_state] + [n for n in m["saved"] if n < last])
                candidates = {"after": last} if last in m["saved"] else {"before": before, "after": last}
            else:
                figures["killed before its first save"] += 1
                candidates = {"before": project_state}
            song = load_project(project, notify=lambda line, run=run: problems.append(f"run {run}: {line}"))
            if missing_clips(song):
                problems.append(f"run {run}: clips missing {[c.path for c in missing_clips(song)]}")
            state = which(song, candidates)
            if state is None:
                figures["project lost"] += 1
                problems.append(f"run {run}: the project is none of {candidates}")
            else:
                figures[f"project as {state}"] += 1
                if m["begin"] and last not in m["saved"]:
                    figures[f"killed inside the project save, opened as {state}"] += 1
                project_state = candidates[state]

            # The autosave: the last one finished, or the one going on.
            offered = {}
            if m["autosaved"]:
                autosaved = m["autosaved"][-1]
            if autosaved is not None:
                offered["last"] = autosaved
            if m["saved"] and (not m["autosaved"] or m["saved"][-1] > m["autosaved"][-1]):
                offered["going on"] = m["saved"][-1]
            check = Autosave(home)
            if not check.crashed_session():
                if "last" in offered:
                    figures["autosave lost"] += 1
                    problems.append(f"run {run}: no autosave offered, expected one of {offered}")
            else:
                restored = which(load_project(check.offered.path), offered)  # read only
                if restored is None:
                    figures["autosave lost"] += 1
                    problems.append(f"run {run}: the autosave is none of {offered}")
                else:
                    figures[f"autosave restored {restored}"] += 1
                    autosaved = offered[restored]
            next_edit = max(m["begin"], default=next_edit - 1) + 1
    finally:
        worker.stdin.close()
        worker.wait(timeout=10)
    elapsed = time.monotonic() - t0
    print(f"\n{RUNS} SIGKILLs in {elapsed:.1f} s, edits up to {next_edit - 1}: {dict(sorted(figures.items()))}")
    assert not problems, "\n".join(problems[:20])
    assert figures["project as before"] + figures["project as after"] == RUNS
    # the kills did land inside project saves, before and after the JSON's rename
    assert figures["killed inside the project save, opened as before"] >= 5
    assert figures["killed inside the project save, opened as after"] >= 1

    # Afterwards one ordinary save leaves no orphans: the clips folder holds exactly what the JSON names.
    save_project(song_for(next_edit), project)
    named = {Path(c.path).name for c in load_project(project).clips}
    on_disk = {p.name for p in project.with_suffix(".clips").iterdir()} - {".lock"}
    assert on_disk == named
    assert len(Autosave(home).kept()) <= 1  # a restored autosave is not kept twice

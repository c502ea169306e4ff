"""Autosave under faults: two apps at once, locks of dead and reused pids, declined restores, old layouts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from composer.files.project import load_project, save_project
from composer.song import Note, Song, Track
from tui.autosave import LEFTOVERS_KEPT, Autosave, _process_start

ROOT = Path(__file__).resolve().parents[2]


def song_of(*pitches: int) -> Song:
    return Song(tracks=[Track(name="T", notes=[Note(p, 90, i * 0.5, i * 0.5 + 0.4) for i, p in enumerate(pitches)])])


def dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def pitches(song: Song) -> list[int]:
    return [n.pitch for n in song.tracks[0].notes]


def crash(home: Path, song: Song, project: Path | None = None) -> None:
    """A session in another process that autosaves `song` and dies by SIGKILL."""
    code = textwrap.dedent(
        f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from composer.files.project import load_project
        from tui.autosave import Autosave
        a = Autosave(Path({str(home)!r}))
        a.begin_session()
        if {str(project) if project else None!r}:
            a.set_project({str(project) if project else None!r})
        a.save(load_project(sys.argv[1]))
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    home.mkdir(parents=True, exist_ok=True)
    song_file = home.parent / f"crash-song-{time.monotonic_ns()}.json"
    save_project(song, song_file)
    result = subprocess.run([sys.executable, "-c", code, str(song_file)], capture_output=True, text=True, timeout=60)
    assert result.returncode == -signal.SIGKILL, result.stderr


def test_two_apps_at_once_see_no_crash_and_keep_their_own_autosaves(tmp_path):
    first, second = Autosave(tmp_path), Autosave(tmp_path)
    assert not first.crashed_session()
    first.begin_session()
    first.save(song_of(60))
    assert not second.crashed_session()  # the first app's lock is alive: no false restore
    second.begin_session()
    second.save(song_of(70, 71))
    first.save(song_of(60, 62))
    assert first.path != second.path
    assert pitches(load_project(first.path)) == [60, 62] and pitches(load_project(second.path)) == [70, 71]
    first.end_session(song_of(60, 62, 64))
    assert not Autosave(tmp_path).crashed_session()  # one ended cleanly, the other still runs
    assert pitches(load_project(second.path)) == [70, 71]


def test_an_app_in_another_process_is_alive_until_it_is_killed(tmp_path):
    code = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from composer.song import Note, Song, Track
        from tui.autosave import Autosave
        a = Autosave(Path({str(tmp_path)!r}))
        a.begin_session()
        a.save(Song(tracks=[Track(notes=[Note(50, 90, 0.0, 1.0)])]))
        print("saved", flush=True)
        time.sleep(60)
        """
    )
    other = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert other.stdout.readline().strip() == "saved"
        mine = Autosave(tmp_path)
        assert not mine.crashed_session()
        mine.begin_session()
        mine.save(song_of(60))
    finally:
        other.send_signal(signal.SIGKILL)
        other.wait()
    later = Autosave(tmp_path)
    assert later.crashed_session() and pitches(later.load()) == [50]
    assert pitches(load_project(mine.path)) == [60]  # untouched by the other's crash or its restore


def _lock(home: Path, name: str, **info) -> None:
    (home / "sessions").mkdir(parents=True, exist_ok=True)
    (home / "sessions" / f"{name}.lock").write_text(json.dumps(info))
    folder = home / "autosave" / info["key"]
    folder.mkdir(parents=True)
    save_project(song_of(40, 41), folder / "song.json")


def test_a_lock_whose_pid_now_belongs_to_another_process_is_stale(tmp_path):
    me = os.getpid()
    _lock(tmp_path, "reused", pid=me, start=_process_start(me) + 12345, key="new-reused")
    assert Autosave(tmp_path).crashed_session()


def test_a_lock_of_a_process_that_is_gone_is_stale_and_of_a_live_one_is_not(tmp_path):
    _lock(tmp_path, "gone", pid=dead_pid(), start=1, key="new-gone")
    _lock(tmp_path, "alive", pid=os.getpid(), start=_process_start(os.getpid()), key="new-alive")
    autosave = Autosave(tmp_path)
    assert autosave.crashed_session()
    assert len(autosave.kept()) == 1  # only the dead one's autosave was put aside
    assert (tmp_path / "autosave" / "new-alive" / "song.json").exists()
    assert (tmp_path / "sessions" / "alive.lock").exists() and not (tmp_path / "sessions" / "gone.lock").exists()


def test_a_declined_restore_is_kept_with_its_time_until_discarded(tmp_path):
    project = tmp_path / "tune.json"
    save_project(song_of(60), project)
    crash(tmp_path / "home", song_of(60, 61, 62), project)
    app = Autosave(tmp_path / "home")
    assert app.crashed_session()
    offered = app.offered
    assert offered.project == os.path.realpath(project) and abs(offered.saved_at - time.time()) < 120
    assert "tune.json" in offered.describe()
    app.keep()  # "not now"
    app.begin_session()
    app.set_project(project)  # the same project: its autosave key
    app.save(song_of(99))
    app.save(song_of(99, 98))  # the next ticks do not touch the declined one
    kept = app.kept()
    assert [pitches(load_project(k.path)) for k in kept] == [[60, 61, 62]] and kept[0].declined
    assert "@" in kept[0].folder.name  # renamed with its time
    app.end_session(song_of(99, 98))
    assert not Autosave(tmp_path / "home").crashed_session()  # declined: listed, not offered again
    later = Autosave(tmp_path / "home")
    later.discard(later.kept()[0])  # on purpose
    assert later.kept() == []


def test_an_unanswered_restore_is_not_overwritten_and_is_offered_again(tmp_path):
    crash(tmp_path, song_of(50, 52, 55))
    app = Autosave(tmp_path)
    assert app.crashed_session()
    app.begin_session()  # the app as it was: the answer "start fresh" tells the autosave nothing
    app.save(song_of(1))
    app.end_session(song_of(1, 2))
    again = Autosave(tmp_path)
    assert again.crashed_session() and pitches(load_project(again.offered.path)) == [50, 52, 55]


def test_a_restored_autosave_becomes_the_sessions_own_and_a_second_crash_offers_it_again(tmp_path):
    crash(tmp_path, song_of(50, 52))
    app = Autosave(tmp_path)
    assert app.crashed_session()
    app.begin_session()
    assert pitches(app.load()) == [50, 52]
    assert app.kept() == [] and pitches(load_project(app.path)) == [50, 52]
    assert not Autosave(tmp_path).crashed_session()  # it is this live session's now
    lock = json.loads(app.lock_path.read_text())
    app.lock_path.write_text(json.dumps({**lock, "pid": dead_pid()}))  # as if it crashed before its next autosave
    after = Autosave(tmp_path)
    assert after.crashed_session() and pitches(load_project(after.offered.path)) == [50, 52]


def test_one_autosave_per_project_and_a_new_songs_moves_along_when_saved_as(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    first, second = Autosave(tmp_path / "home"), Autosave(tmp_path / "home")
    first.begin_session()
    second.begin_session()
    first.save(song_of(60))
    first.set_project(a)  # saved as a.json: its autosave moves to a.json's key
    assert pitches(load_project(first.path)) == [60] and "a-" in first.key
    second.set_project(b)
    assert first.path != second.path
    third = Autosave(tmp_path / "home")
    third.begin_session(a)  # a.json open in two apps at once: each its own
    assert third.path != first.path
    first.end_session(song_of(60))
    second.end_session(song_of(70))
    third.end_session(song_of(80))


def test_an_earlier_versions_autosave_after_a_crash_is_offered_and_moved_into_the_new_layout(tmp_path):
    tmp_path.mkdir(exist_ok=True)
    save_project(song_of(50, 52, 55), tmp_path / "autosave.json")
    (tmp_path / "session.lock").write_text(json.dumps({"pid": 1}))
    app = Autosave(tmp_path)
    assert app.crashed_session() and not (tmp_path / "session.lock").exists()
    app.begin_session()
    assert pitches(app.load()) == [50, 52, 55]
    assert not (tmp_path / "autosave.json").exists() and pitches(load_project(app.path)) == [50, 52, 55]


def test_an_earlier_versions_lock_of_a_running_app_is_left_alone(tmp_path):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        save_project(song_of(50), tmp_path / "autosave.json")
        (tmp_path / "session.lock").write_text(json.dumps({"pid": other.pid, "started": time.time()}))
        assert not Autosave(tmp_path).crashed_session()
        assert (tmp_path / "autosave.json").exists()
    finally:
        other.kill()
        other.wait()


def test_a_clean_exit_offers_nothing_and_old_leftovers_are_pruned(tmp_path):
    for i in range(LEFTOVERS_KEPT + 3):
        app = Autosave(tmp_path)
        assert not app.crashed_session()
        app.begin_session()
        app.end_session(song_of(60 + i))
        os.utime(app.path.parent, (time.time() - 1000 + i, time.time() - 1000 + i))
    Autosave(tmp_path).begin_session()
    assert len(list((tmp_path / "autosave").iterdir())) == LEFTOVERS_KEPT


def test_a_hostile_lock_names_no_folder_outside_the_autosaves(tmp_path):
    (tmp_path / "victim").mkdir()
    (tmp_path / "victim" / "song.json").write_text("the user's")
    (tmp_path / "home" / "sessions").mkdir(parents=True)
    lock = {"pid": 999999999, "key": "../../victim"}
    (tmp_path / "home" / "sessions" / "x.lock").write_text(json.dumps(lock))
    assert not Autosave(tmp_path / "home").crashed_session()
    assert (tmp_path / "victim" / "song.json").read_text() == "the user's"


@pytest.mark.parametrize("content", ["", "{", "[1]", '{"pid": "x"}', '{"pid": true, "key": 5}'])
def test_a_garbled_lock_is_stale_and_harmless(tmp_path, content):
    (tmp_path / "sessions").mkdir(parents=True)
    (tmp_path / "sessions" / "bad.lock").write_text(content)
    assert not Autosave(tmp_path).crashed_session()
    assert not (tmp_path / "sessions" / "bad.lock").exists()

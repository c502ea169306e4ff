"""The app after a crash: the restore screen offers the crashed session's autosave (restore, not now, discard),
lists the other kept ones; the autosave follows the project opened, saved or new; a missing clip is one line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from app_helpers import answer, run_async, song_of
from textual.widgets import Label

from composer.errors import ComposerError
from composer.files.project import load_project, save_project
from composer.song import AudioClip, Song
from tui.app import ComposerApp
from tui.autosave import Autosave
from tui.screens.main import MainScreen
from tui.screens.restore import RestoreScreen
from tui.widgets.status_bar import StatusBar

SIZE = (120, 40)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def pitches(song: Song) -> list[int]:
    return [n.pitch for n in song.tracks[0].notes]


def dead_pid() -> int:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def crash(home: Path, song: Song, project: Path | None = None) -> None:
    """A session that autosaved `song` (of `project`) and then died: its lock names a process that is gone."""
    session = Autosave(home)
    session.begin_session(project)
    session.save(song)
    lock = json.loads(session.lock_path.read_text())
    session.lock_path.write_text(json.dumps({**lock, "pid": dead_pid()}))


def shown_text(screen) -> str:
    return "\n".join(str(label.render()) for label in screen.query(Label))


def status(app) -> StatusBar:
    return app.screen.query_one(StatusBar)


@run_async
async def test_the_restore_screen_shows_the_crashed_sessions_autosave_and_restores_it(home, tmp_path):
    project = tmp_path / "tune.json"
    save_project(song_of(60), project)
    crash(home, song_of(50, 52, 55), project)
    app = ComposerApp(sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RestoreScreen)
        offered = screen.offered
        text = shown_text(screen)
        assert str(offered.path) in text and "tune.json" in text  # the crashed one, described
        assert str(app.autosave.path) not in text  # not this session's own file
        assert offered.path.parent.parent == home / "kept"
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert pitches(app.song) == [50, 52, 55]
        assert app.autosave.kept() == []  # it is this session's autosave now
        assert "Restored the autosave of tune.json" in status(app).message
        assert app.project_path == os.path.realpath(project) and app.dirty  # the project it came from, unsaved
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert pitches(load_project(project)) == [50, 52, 55], "Save writes the restored song back to its project"
    assert not Autosave(home).crashed_session()


@pytest.mark.parametrize("key", ["escape", "n"])
@run_async
async def test_not_now_keeps_the_autosave_with_its_time_and_it_is_not_offered_again(home, key):
    crash(home, song_of(50, 52))
    app = ComposerApp(song_of(70), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, RestoreScreen)
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        assert pitches(app.song) == [70]  # untouched
        kept = app.autosave.kept()
        assert len(kept) == 1 and kept[0].declined and pitches(load_project(kept[0].path)) == [50, 52]
        assert "not offered again" in status(app).message
        await pilot.press("ctrl+q")
    later = Autosave(home)
    assert not later.crashed_session()  # escape did not discard it, and it is not offered again
    assert [pitches(load_project(k.path)) for k in later.kept()] == [[50, 52]]


@run_async
async def test_discard_removes_the_autosave_for_good(home):
    crash(home, song_of(50, 52))
    app = ComposerApp(song_of(70), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, RestoreScreen)
        folder = app.screen.offered.folder
        await pilot.press("d")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and pitches(app.song) == [70]
        assert not folder.exists() and app.autosave.kept() == []


@run_async
async def test_the_buttons_answer_as_the_keys(home):
    crash(home, song_of(50, 52))
    app = ComposerApp(song_of(70), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.click("#restore-later")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and app.autosave.kept()[0].declined


@run_async
async def test_other_kept_autosaves_are_listed_each_to_restore_or_discard(home):
    crash(home, song_of(40))
    crash(home, song_of(41))
    declined = Autosave(home)
    assert declined.crashed_session()
    declined.keep()  # the newest: "not now" in an earlier run
    crash(home, song_of(42))  # the newest now: offered
    app = ComposerApp(song_of(70), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RestoreScreen)
        assert pitches(load_project(screen.offered.path)) == [42]
        listed = {pitches(load_project(k.path))[0]: i for i, k in enumerate(screen.kept)}
        assert sorted(listed) == [40, 41]
        await pilot.click(f"#kept-discard-{listed[40]}")
        await pilot.pause()
        assert isinstance(app.screen, RestoreScreen)  # discarding one of the list keeps the dialog
        assert sorted(pitches(load_project(k.path))[0] for k in app.autosave.kept()) == [41, 42]
        await pilot.click(f"#kept-restore-{listed[41]}")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen) and pitches(app.song) == [41]
        await pilot.press("ctrl+q")
    after = Autosave(home)
    assert after.crashed_session() and pitches(load_project(after.offered.path)) == [42]  # still unanswered


@run_async
async def test_a_restore_that_fails_is_one_line_and_the_song_stays(home):
    crash(home, song_of(50))
    app = ComposerApp(song_of(70), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.screen.offered.path.write_text("{broken")
        await pilot.press("r")
        await pilot.pause()
        assert pitches(app.song) == [70]
        assert any("Autosave not restored" in str(n.message) for n in app._notifications)


@run_async
async def test_the_autosave_follows_the_project_opened_saved_and_new(tmp_path):
    opened, saved = tmp_path / "opened.json", tmp_path / "saved.json"
    save_project(song_of(60, 61), opened)
    app = ComposerApp(song_of(70), sound=False, autosave_every_s=3600)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await answer(pilot, str(opened))
        assert pitches(app.song) == [60, 61]
        assert app.autosave.project == os.path.realpath(opened) and "opened-" in app.autosave.key
        app.autosave_now()
        assert pitches(load_project(app.autosave.path)) == [60, 61]
        await pilot.press("S")
        await pilot.pause()
        await answer(pilot, str(saved))
        assert app.autosave.project == os.path.realpath(saved) and "saved-" in app.autosave.key
        assert pitches(load_project(app.autosave.path)) == [60, 61]  # moved along with it
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.autosave.project is None and app.autosave.key.startswith("new-")


@run_async
async def test_opening_a_midi_file_makes_a_new_songs_autosave(tmp_path):
    from composer.files.midi_io import write_midi

    project, midi = tmp_path / "p.json", tmp_path / "m.mid"
    save_project(song_of(60), project)
    write_midi(song_of(72), midi)
    app = ComposerApp(sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await answer(pilot, str(project))
        assert app.project_path == str(project)
        await pilot.press("ctrl+o")
        await answer(pilot, str(midi))
        assert pitches(app.song) == [72]
        assert app.project_path is None  # ctrl+s asks for a name: the MIDI file's song never overwrites p.json
        assert app.autosave.project is None and app.autosave.key.startswith("new-")


@run_async
async def test_an_autosave_that_cannot_follow_is_one_line(tmp_path, monkeypatch):
    project = tmp_path / "p.json"
    save_project(song_of(60), project)
    app = ComposerApp(sound=False)

    def refuse(path):
        raise ComposerError(tmp_path / "home", "cannot write: disk full")

    async with app.run_test(size=SIZE) as pilot:
        monkeypatch.setattr(app.autosave, "set_project", refuse)
        await pilot.press("ctrl+o")
        await answer(pilot, str(project))
        assert pitches(app.song) == [60]  # opened all the same
        assert "Autosave:" in status(app).message and "disk full" in status(app).message
        assert status(app).is_error


@run_async
async def test_a_missing_clip_is_one_line_in_the_status_bar(tmp_path):
    project = tmp_path / "with-clip.json"
    song = song_of(60)
    samples = np.zeros(2400, dtype=np.float32)
    samples[::100] = 0.5
    song.clips.append(AudioClip(name="Drums", samples=samples, sample_rate=24000))
    save_project(song, project)
    for wav in (tmp_path / "with-clip.clips").glob("*.wav"):
        wav.unlink()
    app = ComposerApp(sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+o")
        await answer(pilot, str(project))
        assert pitches(app.song) == [60] and len(app.song.clips) == 1  # it opened, the clip silent
        bar = status(app)
        assert "'Drums' is missing" in bar.message and bar.is_error

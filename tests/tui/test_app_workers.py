"""A job that fails in a worker (export, the neural synth switch, a prompted clip) is one line and the app stays
up; any other unhandled error still ends the app, after a last autosave. `composer` without Textual: one line."""

from __future__ import annotations

import importlib
import json

import numpy as np
import pytest
from app_helpers import run_async, song_of
from textual.widgets import Button, Input

from composer.files.project import load_project
from composer.song import AudioClip, Note
from tui import cli
from tui.app import ComposerApp
from tui.autosave import Autosave
from tui.screens.export import ExportScreen
from tui.screens.main import MainScreen
from tui.widgets.status_bar import StatusBar

SIZE = (120, 40)

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def toasts(app) -> list[str]:
    return [str(n.message) for n in app._notifications]


async def settle(pilot) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@run_async
async def test_a_neural_switch_that_raises_is_one_line_and_the_app_stays_up(monkeypatch):
    app = ComposerApp(song_of(60), sound=False)

    def broken(track, kind):
        raise RuntimeError("the model file is\ncorrupt")

    async with app.run_test(size=SIZE) as pilot:
        monkeypatch.setattr(app.playback, "prepare_synth", broken)
        screen = app.screen
        assert isinstance(screen, MainScreen)
        screen.switch_to_neural(app.song.tracks[0])
        await settle(pilot)
        assert app.is_running and app.return_code is None
        line = "Switch to neural failed: RuntimeError: the model file is corrupt"
        assert line in toasts(app)
        bar = screen.query_one(StatusBar)
        assert bar.message == line and bar.is_error
        assert app.song.tracks[0].synth != "neural"


@run_async
async def test_an_export_that_raises_is_one_line_and_the_app_stays_up(tmp_path, monkeypatch):
    import tui.screens.export as export

    def broken(song, path):
        raise MemoryError("no room for the render")

    monkeypatch.setattr(export, "write_midi", broken)
    app = ComposerApp(song_of(60), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        app.screen.action_export()
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, ExportScreen)
        dialog.query_one("#export-path", Input).value = str(tmp_path / "out.mid")
        dialog.query_one("#export-go", Button).press()
        await settle(pilot)
        assert app.is_running and app.return_code is None
        # the export worker says it in its own dialog, which stays usable
        assert "Not exported: MemoryError: no room for the render" in str(dialog.query_one("#export-message").render())
        assert not dialog.query_one("#export-go", Button).disabled
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
    assert not (tmp_path / "out.mid").exists()


@run_async
async def test_a_prompt_job_that_fails_after_generating_ends_the_job(monkeypatch):
    app = ComposerApp(song_of(60), sound=False)

    def make(generator, progress):
        return AudioClip(name="A", samples=np.zeros(100, dtype=np.float32), prompt="x", seed=1), None

    def broken(clip):
        raise ValueError("cannot resample")

    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        screen._prompt_models = object()  # no model loads: `make` stands for the generation
        monkeypatch.setattr(app.playback, "prepare_clip", broken)
        screen._prompt_start("soft pad", make)
        assert screen.prompt_busy
        await settle(pilot)
        assert not screen.prompt_busy  # not "Still generating" for ever
        bar = screen.query_one(StatusBar)
        assert "No audio track" in bar.message and "cannot resample" in bar.message and bar.is_error
        assert app.song.clips == []


@run_async
async def test_any_other_unhandled_error_ends_the_app_after_a_last_autosave(home):
    app = ComposerApp(song_of(60), sound=False, autosave_every_s=3600)

    def boom() -> None:
        raise RuntimeError("a bug in a handler")

    with pytest.raises(RuntimeError, match="a bug in a handler"):
        async with app.run_test(size=SIZE) as pilot:
            app.song.tracks[0].notes.append(Note(64, 90, 2.0, 2.5))
            app.call_later(boom)
            await pilot.pause()
            await pilot.pause()
    assert app.return_code == 1
    assert [n.pitch for n in load_project(app.autosave.path).tracks[0].notes] == [60, 64]
    lock = json.loads(app.autosave.lock_path.read_text())  # kept: the next start offers it
    assert lock["key"] == app.autosave.key
    assert Autosave(home).kept() == []  # this process is alive: not a crash yet


def test_composer_without_textual_is_one_line_and_exit_2(monkeypatch, capsys):
    real = importlib.import_module

    def no_textual(name, *args):
        if name == "tui.app":
            raise ModuleNotFoundError("No module named 'textual'", name="textual")
        return real(name, *args)

    monkeypatch.setattr(cli.importlib, "import_module", no_textual)
    assert cli.main([]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1 and "Textual" in err


@pytest.mark.parametrize("missing", ["numpy", "tui.widgets.gone", None])
def test_composer_with_another_import_error_raises_it(monkeypatch, missing):
    real = importlib.import_module

    def broken(name, *args):
        if name == "tui.app":
            if missing is None:
                raise ImportError("cannot import name 'Thing' from 'tui.widgets'")
            raise ModuleNotFoundError(f"No module named {missing!r}", name=missing)
        return real(name, *args)

    monkeypatch.setattr(cli.importlib, "import_module", broken)
    with pytest.raises(ImportError):
        cli.main([])

"""Files, autosave and crash restore, the help overlay, key remapping and the command palette."""

from __future__ import annotations

import json

import pytest
from app_helpers import answer, run_async, song_of

from composer.files.midi_io import write_midi
from composer.files.project import load_project, save_project
from tui.app import ComposerApp
from tui.keymap import MAIN_KEYS
from tui.screens.help import HelpScreen, help_text
from tui.screens.restore import RestoreScreen

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@run_async
async def test_save_as_then_open_and_import(tmp_path):
    app = ComposerApp(song_of(60, 62), sound=False)
    target = tmp_path / "mine.json"
    midi = tmp_path / "in.mid"
    write_midi(song_of(70, 71, 72), midi)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("S")
        await pilot.pause()
        await answer(pilot, str(target))
        assert [n.pitch for n in load_project(target).tracks[0].notes] == [60, 62]
        assert app.project_path == str(target)
        await pilot.press("I")
        await answer(pilot, str(midi))
        assert len(app.song.tracks) == 2 and [n.pitch for n in app.song.tracks[1].notes] == [70, 71, 72]
        await pilot.press("ctrl+z")
        assert len(app.song.tracks) == 1
        await pilot.press("ctrl+o")
        await pilot.pause()
        await answer(pilot, str(midi))
        assert [n.pitch for n in app.song.tracks[0].notes] == [70, 71, 72]
        await pilot.press("ctrl+z")  # opening is one undo step: the old song comes back
        assert [n.pitch for n in app.song.tracks[0].notes] == [60, 62]


@run_async
async def test_bad_files_are_a_message_and_the_song_stays(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    app = ComposerApp(song_of(60), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        for path in (bad, tmp_path / "missing.mid", tmp_path):
            await pilot.press("ctrl+o")
            await pilot.pause()
            await answer(pilot, str(path))
            status = app.screen.status
            assert status.is_error and str(path) in status.message, status.message
            assert [n.pitch for n in app.song.tracks[0].notes] == [60]
        await pilot.press("S")
        await pilot.pause()
        await answer(pilot, str(tmp_path / "no" / "such" / "dir" / "x.json"))
        assert app.screen.status.is_error and "does not exist" in app.screen.status.message


@run_async
async def test_export_midi_with_dialog(tmp_path):
    app = ComposerApp(song_of(60, 64, 67), sound=False)
    out = tmp_path / "out.mid"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+e")
        await pilot.pause()
        field = app.screen.query_one("#export-path")
        field.value = str(out)
        await pilot.click("#export-go")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert out.exists() and "Wrote" in str(app.screen.query_one("#export-message").render())


@run_async
async def test_an_unexpected_export_error_is_one_line_and_the_dialog_works_again(tmp_path, monkeypatch):
    def out_of_memory(song, path):
        raise MemoryError("no room")

    monkeypatch.setattr("tui.screens.export.write_midi", out_of_memory)
    app = ComposerApp(song_of(60, 64, 67), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+e")
        await pilot.pause()
        app.screen.query_one("#export-path").value = str(tmp_path / "out.mid")
        await pilot.click("#export-go")
        await app.workers.wait_for_complete()
        await pilot.pause()
        message = str(app.screen.query_one("#export-message").render())
        assert "Not exported: MemoryError: no room" in message
        assert not app.screen.query_one("#export-go").disabled
        assert not (tmp_path / "out.mid").exists()


@run_async
async def test_autosave_on_timer_and_on_quit(home):
    app = ComposerApp(song_of(60), autosave_every_s=0.1, sound=False)
    async with app.run_test(size=SIZE) as pilot:
        assert app.autosave.lock_path.exists()
        await pilot.press("up", "enter")
        await pilot.pause(0.4)
        assert [n.pitch for n in load_project(app.autosave.path).tracks[0].notes] == [60, 61]
        await pilot.press("up", "enter")
        await pilot.press("ctrl+q")
    assert not app.autosave.lock_path.exists()
    assert [n.pitch for n in load_project(app.autosave.path).tracks[0].notes] == [60, 61, 62]


@run_async
async def test_crash_leaves_lock_and_next_start_offers_restore(home):
    home.mkdir(parents=True)
    save_project(song_of(50, 52, 55), home / "autosave.json")
    (home / "session.lock").write_text(json.dumps({"pid": 1}))
    app = ComposerApp(sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, RestoreScreen)
        await pilot.press("r")
        await pilot.pause()
        assert [n.pitch for n in app.song.tracks[0].notes] == [50, 52, 55]
        await pilot.press("ctrl+z")  # restoring is one undo step
        assert app.song.tracks[0].notes == []


@run_async
async def test_help_lists_every_key_and_follows_the_keymap(home):
    home.mkdir(parents=True)
    (home / "keys.toml").write_text('[keys]\nadd_note = "a"\n')
    app = ComposerApp(sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("a")  # remapped: adds a note
        assert len(app.song.tracks[0].notes) == 1
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = help_text(app._keymap)
        for action in MAIN_KEYS:
            assert action.description in text
        assert "a" in next(line for line in text.splitlines() if "Add a note" in line)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


@run_async
async def test_bad_keymap_is_a_message_not_a_crash(home):
    home.mkdir(parents=True)
    (home / "keys.toml").write_text('[keys]\nfly = "f"\n')
    app = ComposerApp(sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert any("unknown key id 'fly'" in n.message for n in app._notifications)
        await pilot.press("enter")
        assert len(app.song.tracks[0].notes) == 1


@run_async
async def test_command_palette_runs_studio_actions():
    app = ComposerApp(sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"add a track")
        await pilot.pause(0.5)
        await pilot.press("enter")
        await pilot.pause()
        assert len(app.song.tracks) == 2


@run_async
async def test_export_wav_through_the_renderer(tmp_path):
    import soundfile as sf

    app = ComposerApp(song_of(60, 64), sound=False)
    out = tmp_path / "out.wav"
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+e")
        await pilot.pause()
        await pilot.click("#fmt-wav")
        app.screen.query_one("#export-path").value = str(out)
        await pilot.click("#export-go")
        await app.workers.wait_for_complete()
        await pilot.pause()
        audio, sample_rate = sf.read(out)
        assert sample_rate == 48000 and audio.shape[1] == 2 and abs(audio).max() > 0.01
        assert app.screen.query_one("#export-progress").percentage == 1.0


def test_ai_panel_says_why_ai_is_unavailable(tmp_path):
    from tui.widgets.ai_panel import ai_status

    ready, line = ai_status(tmp_path / "a" / "b" / "models" / "transformer" / "model.safetensors")
    assert not ready and line.startswith("AI unavailable: no weights") and "\n" not in line

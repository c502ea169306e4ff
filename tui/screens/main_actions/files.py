"""File keys of the main screen (new, open, import MIDI, save, save as, export) and the app's own (help, theme).

A file is read in a worker thread; the song changes only once it was read whole, as one undo step.
The autosave follows the project (tui/autosave.py `set_project`): a project opened or saved goes to that
project's own autosave, a new song or an opened MIDI file to a new song's.
"""

from __future__ import annotations

from pathlib import Path

from textual import work

from composer.errors import ComposerError
from composer.files.loader import load_song
from composer.files.midi_io import read_midi
from composer.files.project import save_project
from composer.history import restore
from composer.song import Song, Track
from tui.screens.help import HelpScreen
from tui.screens.prompt import PromptScreen


class FileActions:
    """Mixed into MainScreen (tui/screens/main.py)."""

    def action_new_song(self) -> None:
        with self.edit("new song"):
            restore(self.song, Song(tracks=[Track(name="Track 1")]))
        self.app.project_path = None
        self.roll.track_index = 0
        self.refresh_all("New song (ctrl+z brings the old one back)")
        self._autosave_follows(None)

    @work
    async def action_open(self) -> None:
        path = await self.app.push_screen_wait(
            PromptScreen("Open a project (.json) or MIDI file (.mid)", self.app.project_path or "", "")
        )
        if path:
            self.load_file(Path(path).expanduser(), merge=False)

    @work
    async def action_import_midi(self) -> None:
        path = await self.app.push_screen_wait(PromptScreen("Import the tracks of a MIDI file", "", ""))
        if path:
            self.load_file(Path(path).expanduser(), merge=True)

    @work(thread=True, exclusive=True, group="files")
    def load_file(self, path: Path, merge: bool) -> None:
        """Read in a thread; the song changes only once the file was read whole."""
        missing: list[str] = []  # a line per audio clip whose WAV file is gone (the project still opens)

        def notify(line: str) -> None:
            missing.append(line)
            self.app.call_from_thread(self.say, line, True)

        try:
            loaded = read_midi(path) if merge else load_song(path, notify=notify)
        except ComposerError as exc:
            self.app.call_from_thread(self.say, str(exc), True)
            return
        self.app.call_from_thread(self._apply_loaded, path, loaded, merge, missing)

    def _apply_loaded(self, path: Path, loaded: Song, merge: bool, missing: list[str] | None = None) -> None:
        if merge:
            with self.edit(f"import {path.name}"):
                self.song.tracks.extend(loaded.tracks)
            return
        self.app.history.replace(self.song, loaded, f"open {path.name}")
        self.app.dirty = True
        self.app.playback.notes_changed()
        self.roll.track_index, self.roll.anchor = 0, None
        self.roll.set_cursor(0.0, self.roll.cursor_pitch)
        project = path.suffix.lower() == ".json"
        self.app.project_path = str(path) if project else None  # a MIDI file is a new song: saved as a project
        if missing:  # the missing clip's line stays in the status bar, not "Opened"
            more = f" (and {len(missing) - 1} more audio clips missing)" if len(missing) > 1 else ""
            self.refresh_all(missing[0] + more, error=True)
        else:
            self.refresh_all(f"Opened {path} ({sum(len(t.notes) for t in self.song.tracks)} notes)")
        self._autosave_follows(path if project else None)

    def action_save(self) -> None:
        if self.app.project_path:
            self.save_file(Path(self.app.project_path))
        else:
            self.action_save_as()

    @work
    async def action_save_as(self) -> None:
        path = await self.app.push_screen_wait(
            PromptScreen("Save the project as (.json)", self.app.project_path or "song.json", "")
        )
        if path:
            path = Path(path).expanduser()
            self.save_file(path if path.suffix.lower() == ".json" else path.with_suffix(".json"))

    def save_file(self, path: Path) -> None:
        try:
            save_project(self.song, path)
        except (ComposerError, OSError) as exc:
            self.say(f"Not saved: {exc}", error=True)
            return
        self.app.project_path = str(path)
        self.app.dirty = False
        self.say(f"Saved {path}")
        self._autosave_follows(path)

    def _autosave_follows(self, path: Path | None) -> None:
        """Later autosaves go to the autosave of the project at `path` (None: a new song's)."""
        try:
            self.app.autosave.set_project(path)
        except (OSError, ComposerError) as exc:
            self.say(f"Autosave: {exc}", error=True)

    def action_export(self) -> None:
        from tui.screens.export import ExportScreen

        self.app.push_screen(ExportScreen(self.song, self.app.project_path))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_toggle_dark(self) -> None:
        self.app.theme = "textual-light" if self.app.theme == "textual-dark" else "textual-dark"
        self.say(f"Theme {self.app.theme}")

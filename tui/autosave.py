"""Autosave to a known place, and notice after a crash that there is one to restore.

Files live in `$COMPOSER_HOME` (tests set it) or `~/.local/share/composer`:

    autosave.json     the song as last autosaved (a project file)
    session.lock      exists while an app is running; left behind by a crash

A clean exit saves one last time and removes the lock, so the next start only
offers a restore when the previous session ended without cleaning up.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from composer.files.atomic import atomic_write_text
from composer.files.project import load_project, save_project
from composer.song import Song


def composer_home() -> Path:
    home = os.environ.get("COMPOSER_HOME")
    if home:
        return Path(home)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "composer"


class Autosave:
    def __init__(self, home: Path | None = None) -> None:
        self.home = composer_home() if home is None else home
        self.path = self.home / "autosave.json"
        self.lock_path = self.home / "session.lock"

    def crashed_session(self) -> bool:
        """True when a previous session left its lock and an autosave behind."""
        return self.lock_path.exists() and self.path.exists()

    def begin_session(self, project_path: str | None = None) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        info = {"pid": os.getpid(), "started": time.time(), "project": project_path}
        atomic_write_text(self.lock_path, json.dumps(info))

    def save(self, song: Song) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        save_project(song, self.path)

    def load(self) -> Song:
        return load_project(self.path)

    def end_session(self, song: Song) -> None:
        """Final save on a clean exit, then drop the lock."""
        self.save(song)
        self.lock_path.unlink(missing_ok=True)

"""Open any song file the app understands: a MIDI file or a project (JSON)."""

from __future__ import annotations

from pathlib import Path

from composer.errors import ComposerError
from composer.files.midi_io import read_midi
from composer.files.project import Notify, load_project
from composer.song import Song


def load_song(path: str | Path, notify: Notify | None = None) -> Song:
    """Read FILE.mid / FILE.midi or FILE.json into a Song (ComposerError on bad input).

    A project whose clip WAV is missing still opens: `notify(line)` (default: standard error) names the file."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in (".mid", ".midi", ".smf", ".kar"):
        return read_midi(path)
    if suffix == ".json":
        return load_project(path, notify)
    if not path.exists():
        raise ComposerError(path, "no such file")
    raise ComposerError(path, "unknown file type, expected .mid or .json")

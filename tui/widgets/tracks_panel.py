"""The list of tracks: instrument, mute, solo, volume and pan; click a row to select it."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from composer.gm import instrument_name
from composer.song import Song, Track


def pan_label(pan: float) -> str:
    if abs(pan) < 0.05:
        return "C"
    return f"{'L' if pan < 0 else 'R'}{round(abs(pan) * 100)}"


def track_line(index: int, track: Track, selected: bool, armed: bool = False) -> str:
    marker = "▶" if selected else " "
    instrument = "Drum kit" if track.is_drum else instrument_name(track.program)
    mute = "[b red]M[/]" if track.mute else "[dim]m[/]"
    solo = "[b yellow]S[/]" if track.solo else "[dim]s[/]"
    arm = "[b red]●[/]" if armed else "[dim]○[/]"
    name = escape(track.name[:16])
    line = (
        f"[@click=screen.select_track({index})]{marker}{index + 1:>2} [b]{name}[/b]\n"
        f"    {escape(instrument[:22])}\n"
        f"  {arm} {mute} {solo} vol {round(track.volume * 100):>3} pan {pan_label(track.pan):>4}"
        f" {len(track.notes):>4}♪[/]"
    )
    return f"[reverse]{line}[/reverse]" if selected else line


class TracksPanel(Widget):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    selected: reactive[int] = reactive(0)
    armed: reactive[int | None] = reactive(None)  # the index of the track armed for recording
    song_version: reactive[int] = reactive(0)

    def __init__(self, song: Song, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.song = song

    def render(self) -> Text:
        if not self.song.tracks:
            return Text.from_markup("[dim]No tracks.\nPress [b]N[/b] to add one.[/]")
        lines = [track_line(i, t, i == self.selected, i == self.armed) for i, t in enumerate(self.song.tracks)]
        return Text.from_markup("\n".join(lines))

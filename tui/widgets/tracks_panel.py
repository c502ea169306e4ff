"""The list of tracks: instrument, mute, solo, volume and pan, and while the engine plays each track's level
meter (the status bar's, post-fader, peak held); click a row to select it."""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from composer.gm import instrument_name
from composer.song import AudioClip, Song, Track
from tui.widgets.status_bar import meter_markup


def pan_label(pan: float) -> str:
    if abs(pan) < 0.05:
        return "C"
    return f"{'L' if pan < 0 else 'R'}{round(abs(pan) * 100)}"


def track_line(index: int, track: Track, selected: bool, armed: bool = False, level: float | None = None) -> str:
    marker = "▶" if selected else " "
    instrument = "Drum kit" if track.is_drum else instrument_name(track.program)
    mute = "[b red]M[/]" if track.mute else "[dim]m[/]"
    solo = "[b yellow]S[/]" if track.solo else "[dim]s[/]"
    arm = "[b red]●[/]" if armed else "[dim]○[/]"
    name = escape(track.name[:16])
    meter = "" if level is None else " " * (17 - len(track.name[:16])) + meter_markup(level)
    neural, out = track.synth == "neural", track.midi_out is not None  # out: also sent to the MIDI output
    voice = escape(instrument[: 22 - 7 * neural - 6 * out])
    voice += (" [b cyan]neural[/]" if neural else "") + (f" [b magenta]→ch{track.midi_out}[/]" if out else "")
    line = (
        f"[@click=screen.select_track({index})]{marker}{index + 1:>2} [b]{name}[/b]{meter}\n"
        f"    {voice}\n"
        f"  {arm} {mute} {solo} vol {round(track.volume * 100):>3} pan {pan_label(track.pan):>4}"
        f" {len(track.notes):>4}♪[/]"
    )
    return f"[reverse]{line}[/reverse]" if selected else line


def clip_line(index: int, clip: AudioClip, selected: bool) -> str:
    """An audio track (clip): its prompt (or name), where it starts, how long it is, its seed."""
    marker = "▶" if selected else " "
    about = f"“{clip.prompt}”" if clip.prompted else "audio file"
    detail = f"{clip.start_s:.1f}s +{clip.duration_s:.1f}s"
    if clip.prompted:
        detail += f" seed {clip.seed}" + (" loop" if clip.loop else "")
    mute = "[b red]M[/]" if clip.mute else "[dim]m[/]"
    line = (
        f"[@click=screen.select_clip({index})]{marker}A{index + 1:<2} [b]{escape(clip.name[:24])}[/b]\n"
        f"    {escape(_fit(about, 28))}\n"
        f"  {mute} {escape(_fit(detail, 28))}[/]"
    )
    return f"[reverse]{line}[/reverse]" if selected else line


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class TracksPanel(Widget):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    selected: reactive[int] = reactive(0)
    armed: reactive[int | None] = reactive(None)  # the index of the track armed for recording
    selected_clip: reactive[int | None] = reactive(None)  # the audio track (song.clips index) selected
    song_version: reactive[int] = reactive(0)
    levels: reactive[tuple[float, ...] | None] = reactive(None)  # each track's held peak; None: no sound

    def __init__(self, song: Song, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.song = song

    def render(self) -> Text:
        if not self.song.tracks and not self.song.clips:
            return Text.from_markup("[dim]No tracks.\nPress [b]N[/b] to add one.[/]")
        levels = self.levels

        def level(i: int) -> float | None:
            return None if levels is None else levels[i] if i < len(levels) else 0.0

        lines = [
            track_line(i, t, i == self.selected, i == self.armed, level(i)) for i, t in enumerate(self.song.tracks)
        ]
        lines += [clip_line(i, c, i == self.selected_clip) for i, c in enumerate(self.song.clips)]
        return Text.from_markup("\n".join(lines))

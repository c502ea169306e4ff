"""The transport: play state, position in bars:beats, tempo, meter, metronome, loop.

Every field is clickable (Textual `@click` actions on the screen) and has a key.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from composer.song import Song


def bars_beats(song: Song, time_s: float) -> str:
    """A time as 'bar:beat.sixteenth', all counted from 1."""
    beats = song.s_to_beats(max(0.0, time_s))
    bpb = song.beats_per_bar
    bar = int(beats // bpb)
    in_bar = beats - bar * bpb
    beat = int(in_bar)
    sixteenth = int((in_bar - beat) * 4 + 1e-6)
    return f"{bar + 1:>3}:{beat + 1}.{sixteenth + 1}"


class TransportBar(Widget):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    playing: reactive[bool] = reactive(False)
    recording: reactive[bool] = reactive(False)
    position_s: reactive[float] = reactive(0.0)
    metronome: reactive[bool] = reactive(False)
    loop_s: reactive[tuple[float, float] | None] = reactive(None)
    song_version: reactive[int] = reactive(0)

    def __init__(self, song: Song, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.song = song

    def render(self) -> Text:
        song = self.song
        play = "■ Stop" if self.playing else "▶ Play"
        rec = " [b red]● REC[/]" if self.recording else ""
        num, den = song.time_signature
        loop = "off"
        if self.loop_s is not None:
            loop = f"{bars_beats(song, self.loop_s[0]).strip()} – {bars_beats(song, self.loop_s[1]).strip()}"
        markup = (
            f"[@click=screen.play][b]{play}[/b][/]{rec}   "
            f"[b]{bars_beats(song, self.position_s)}[/b]   "
            f"[@click=screen.tempo]♩ = {song.tempo_bpm:g} BPM[/]   "
            f"[@click=screen.meter]{num}/{den}[/]   "
            f"[@click=screen.metronome]metronome {'on' if self.metronome else 'off'}[/]   "
            f"[@click=screen.loop]loop {loop}[/]"
        )
        return Text.from_markup(markup)

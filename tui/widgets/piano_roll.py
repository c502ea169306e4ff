"""The piano roll: one track's notes against a pitch axis and a bar/beat grid.

Drawn line by line with `render_line` (one Strip per row, runs of equal style
merged), so a dense song costs a few thousand cell writes per frame, not
thousands of widgets. The roll is a view with a cursor; it does not edit the
song itself: the screen does, through composer.edit, and calls
`notes_changed()` afterwards.

Row 0 is the ruler (bar numbers); each row below is one pitch (or several
rows per pitch when zoomed in). Column width is `1 / cols_per_beat` beats.
"""

from __future__ import annotations

import bisect
import math
from pathlib import Path

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from composer.edit import Region
from composer.song import Note, Song, Track

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
BLACK_KEYS = {1, 3, 6, 8, 10}
GUTTER = 5
ZOOM_LEVELS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)  # columns per beat


def note_name(pitch: int) -> str:
    """MIDI pitch to a name with octave, middle C (60) = C4."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


class PianoRoll(Widget, can_focus=True):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    COMPONENT_CLASSES = {
        "pianoroll--white",
        "pianoroll--black",
        "pianoroll--beat",
        "pianoroll--bar",
        "pianoroll--ruler",
        "pianoroll--key-white",
        "pianoroll--key-black",
        "pianoroll--note",
        "pianoroll--note-selected",
        "pianoroll--ghost",
        "pianoroll--selection",
        "pianoroll--cursor",
        "pianoroll--playhead",
        "pianoroll--loop",
    }

    cursor_beat: reactive[float] = reactive(0.0)
    cursor_pitch: reactive[int] = reactive(60)
    left_beat: reactive[float] = reactive(0.0)
    top_pitch: reactive[int] = reactive(79)
    cols_per_beat: reactive[float] = reactive(4.0)
    rows_per_pitch: reactive[int] = reactive(1)
    grid_beats: reactive[float] = reactive(0.25)
    playhead_s: reactive[float] = reactive(0.0)

    class CellClicked(Message):
        """A click on the grid: the cursor is already there; `chain` 2 is a double click."""

        def __init__(self, roll: PianoRoll, beat: float, pitch: int, chain: int) -> None:
            super().__init__()
            self.roll = roll
            self.beat = beat
            self.pitch = pitch
            self.chain = chain

        @property
        def control(self) -> PianoRoll:
            return self.roll

    def __init__(self, song: Song, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.song = song
        self.track_index = 0
        self.anchor: tuple[float, int] | None = None
        self.ghost_notes: list[Note] = []
        self.replaced_s: tuple[float, float] | None = None  # notes starting here are not drawn (an infill shows)
        self.loop_s: tuple[float, float] | None = None
        self._version = 0
        self._index: dict[int, list[tuple[float, float, int]]] = {}
        self._index_key: tuple | None = None
        self._starts: list[float] = []
        self._longest_s = 0.0
        self._starts_key: tuple | None = None

    # ----- model access -----

    @property
    def track(self) -> Track | None:
        tracks = self.song.tracks
        return tracks[self.track_index] if 0 <= self.track_index < len(tracks) else None

    @property
    def cursor_s(self) -> float:
        return self.song.beats_to_s(self.cursor_beat)

    def selection(self) -> Region | None:
        """The rectangle between the anchor and the cursor (inclusive of the cursor cell), in seconds."""
        if self.anchor is None:
            return None
        (b0, p0), (b1, p1) = self.anchor, (self.cursor_beat, self.cursor_pitch)
        lo, hi = min(b0, b1), max(b0, b1) + self.grid_beats
        return Region(self.song.beats_to_s(lo), self.song.beats_to_s(hi), min(p0, p1), max(p0, p1))

    def notes_changed(self) -> None:
        """Call after the song's notes (or tempo) changed."""
        self._version += 1
        self.refresh()

    # ----- cursor and view -----

    def move_cursor(self, steps: int = 0, semitones: int = 0, extend: bool = False) -> None:
        if extend and self.anchor is None:
            self.anchor = (self.cursor_beat, self.cursor_pitch)
        elif not extend:
            self.anchor = None
        self.cursor_beat = max(0.0, self.cursor_beat + steps * self.grid_beats)
        self.cursor_pitch = max(0, min(127, self.cursor_pitch + semitones))
        self.refresh()

    def set_cursor(self, beat: float, pitch: int) -> None:
        self.cursor_beat = max(0.0, beat)
        self.cursor_pitch = max(0, min(127, pitch))

    def shift_selection(self, beats: float, semitones: int) -> None:
        """Move the anchor and cursor together (the selection follows moved notes)."""
        if self.anchor is not None:
            self.anchor = (max(0.0, self.anchor[0] + beats), max(0, min(127, self.anchor[1] + semitones)))
        self.cursor_beat = max(0.0, self.cursor_beat + beats)
        self.cursor_pitch = max(0, min(127, self.cursor_pitch + semitones))
        self.refresh()

    def zoom_time(self, factor: float) -> None:
        levels = ZOOM_LEVELS
        i = min(range(len(levels)), key=lambda k: abs(levels[k] - self.cols_per_beat))
        i = max(0, min(len(levels) - 1, i + (1 if factor > 1 else -1)))
        self.cols_per_beat = levels[i]

    def zoom_pitch(self, delta: int) -> None:
        self.rows_per_pitch = max(1, min(3, self.rows_per_pitch + delta))

    @property
    def grid_cols(self) -> int:
        return max(1, self.size.width - GUTTER)

    @property
    def visible_pitches(self) -> int:
        return max(1, (self.size.height - 1) // self.rows_per_pitch)

    @property
    def visible_beats(self) -> float:
        return self.grid_cols / self.cols_per_beat

    def _scroll_to(self, beat: float, pitch: int) -> None:
        """Keep (beat, pitch) on screen, paging the view when it leaves."""
        span = self.visible_beats
        if beat < self.left_beat or beat >= self.left_beat + span:
            bar = self.song.beats_per_bar
            self.left_beat = max(0.0, math.floor(max(0.0, beat - span * 0.25) / bar) * bar)
        rows = self.visible_pitches
        if pitch > self.top_pitch or pitch <= self.top_pitch - rows:
            self.top_pitch = max(rows - 1, min(127, pitch + rows // 2))

    def watch_cursor_beat(self) -> None:
        self._scroll_to(self.cursor_beat, self.cursor_pitch)

    def watch_cursor_pitch(self) -> None:
        self._scroll_to(self.cursor_beat, self.cursor_pitch)

    def watch_playhead_s(self, playhead_s: float) -> None:
        beat = self.song.s_to_beats(playhead_s)
        if playhead_s > 0 and not self.left_beat <= beat < self.left_beat + self.visible_beats:
            self.left_beat = max(0.0, math.floor(beat / self.song.beats_per_bar) * self.song.beats_per_bar)

    def on_resize(self) -> None:
        rows = self.visible_pitches
        self.top_pitch = max(rows - 1, min(127, self.cursor_pitch + rows // 2))
        self._scroll_to(self.cursor_beat, self.cursor_pitch)

    # ----- mouse -----

    def _cell_at(self, x: int, y: int) -> tuple[float, int] | None:
        if x < GUTTER or y < 1:
            return None
        beat = self.left_beat + (x - GUTTER) / self.cols_per_beat
        beat = math.floor(beat / self.grid_beats + 1e-9) * self.grid_beats
        pitch = self.top_pitch - (y - 1) // self.rows_per_pitch
        return beat, max(0, min(127, pitch))

    def on_click(self, event: events.Click) -> None:
        cell = self._cell_at(event.x, event.y)
        if cell is None:
            return
        if event.shift and self.anchor is None:
            self.anchor = (self.cursor_beat, self.cursor_pitch)
        elif not event.shift:
            self.anchor = None
        self.set_cursor(*cell)
        self.refresh()
        self.post_message(self.CellClicked(self, cell[0], cell[1], event.chain))

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        if event.shift or event.ctrl:
            self.left_beat = max(0.0, self.left_beat - self.song.beats_per_bar)
        else:
            self.top_pitch = min(127, self.top_pitch + 3)

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        if event.shift or event.ctrl:
            self.left_beat += self.song.beats_per_bar
        else:
            self.top_pitch = max(self.visible_pitches - 1, self.top_pitch - 3)

    # ----- drawing -----

    def _note_index(self) -> dict[int, list[tuple[float, float, int]]]:
        """pitch -> [(start_beat, end_beat, kind)], kind 0 note, 1 selected, 2 ghost."""
        region = self.selection()
        lo_s = self.song.beats_to_s(self.left_beat)
        hi_s = self.song.beats_to_s(self.left_beat + self.visible_beats)
        track = self.track
        replaced = self.replaced_s
        key = (self._version, self.track_index, id(track), region, len(self.ghost_notes), replaced, lo_s, hi_s)
        if key == self._index_key:
            return self._index
        index: dict[int, list[tuple[float, float, int]]] = {}
        to_beats = self.song.s_to_beats
        for n in self._visible_notes(track, lo_s, hi_s) if track else ():
            if replaced is not None and replaced[0] <= n.start_s < replaced[1]:
                continue
            kind = 1 if region is not None and region.contains(n) else 0
            index.setdefault(n.pitch, []).append((to_beats(n.start_s), to_beats(n.end_s), kind))
        for n in self.ghost_notes:
            index.setdefault(n.pitch, []).append((to_beats(n.start_s), to_beats(n.end_s), 2))
        self._index, self._index_key = index, key
        return index

    def _visible_notes(self, track: Track, lo_s: float, hi_s: float) -> list[Note]:
        """Notes sounding in [lo_s, hi_s): a bisect on the sorted starts, not a scan of the track."""
        if self._starts_key != (self._version, id(track), id(track.notes), len(track.notes)):
            self._starts = [n.start_s for n in track.notes]
            self._longest_s = max((n.duration_s for n in track.notes), default=0.0)
            self._starts_key = (self._version, id(track), id(track.notes), len(track.notes))
        first = bisect.bisect_left(self._starts, lo_s - self._longest_s)
        last = bisect.bisect_left(self._starts, hi_s)
        return [n for n in track.notes[first:last] if n.end_s > lo_s]

    def _col(self, beat: float) -> int:
        return math.floor((beat - self.left_beat) * self.cols_per_beat + 1e-9)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if width <= GUTTER:
            return Strip.blank(width)
        style = self.get_component_rich_style
        cols = width - GUTTER
        bpb = self.song.beats_per_bar
        if y == 0:
            return self._ruler(cols, bpb, style)
        pitch = self.top_pitch - (y - 1) // self.rows_per_pitch
        if pitch < 0:
            return Strip.blank(width, self.rich_style)
        black = pitch % 12 in BLACK_KEYS
        first_row = (y - 1) % self.rows_per_pitch == 0
        base = style("pianoroll--black" if black else "pianoroll--white")
        beat_style, bar_style = base + style("pianoroll--beat"), base + style("pianoroll--bar")
        chars = [" "] * cols
        styles = [base] * cols
        left_beat, cols_per_beat = self.left_beat, self.cols_per_beat  # reactive reads are slow in a cell loop
        for c in range(cols):
            b0 = left_beat + c / cols_per_beat
            b1 = b0 + 1 / cols_per_beat
            bar_line = math.floor(b1 / bpb - 1e-9) > math.floor(b0 / bpb - 1e-9) or b0 % bpb < 1e-9
            beat_line = math.floor(b1 - 1e-9) > math.floor(b0 - 1e-9) or b0 % 1 < 1e-9
            if bar_line:
                chars[c], styles[c] = "│", bar_style
            elif beat_line:
                chars[c], styles[c] = "┆", beat_style
            elif pitch % 12 == 0:
                chars[c], styles[c] = "·", beat_style
        loop = self.loop_s
        if loop is not None:
            lo = max(0, self._col(self.song.s_to_beats(loop[0])))
            hi = min(cols, self._col(self.song.s_to_beats(loop[1])))
            loop_style = style("pianoroll--loop")
            for c in range(lo, hi):
                styles[c] = styles[c] + loop_style
        region = self.selection()
        if region is not None and region.pitch_lo <= pitch <= region.pitch_hi:
            lo = max(0, self._col(self.song.s_to_beats(region.start_s)))
            hi = min(cols, self._col(self.song.s_to_beats(region.end_s)))
            sel_style = style("pianoroll--selection")
            for c in range(lo, hi):
                styles[c] = styles[c] + sel_style
        kinds = (style("pianoroll--note"), style("pianoroll--note-selected"), style("pianoroll--ghost"))
        for start_b, end_b, kind in self._note_index().get(pitch, ()):
            c0, c1 = self._col(start_b), max(self._col(start_b) + 1, self._col(end_b))
            if c1 <= 0 or c0 >= cols:
                continue
            for c in range(max(0, c0), min(cols, c1)):
                chars[c], styles[c] = " ", kinds[kind]
            if 0 <= c0 < cols and first_row:
                chars[c0] = "▌" if kind != 2 else "░"
        play_c = self._col(self.song.s_to_beats(self.playhead_s))
        if 0 <= play_c < cols:
            styles[play_c] = styles[play_c] + style("pianoroll--playhead")
            if chars[play_c] in " ·┆│":
                chars[play_c] = "┃"
        if pitch == self.cursor_pitch:
            cur_c = self._col(self.cursor_beat)
            if 0 <= cur_c < cols:
                styles[cur_c] = styles[cur_c] + style("pianoroll--cursor")
                if chars[cur_c] in " ·┆│┃":
                    chars[cur_c] = "◆" if self.has_focus else "◇"
        key_style = style("pianoroll--key-black" if black else "pianoroll--key-white")
        label = note_name(pitch) if first_row else ""
        segments = [Segment(f"{label:<4} "[:GUTTER], key_style)]
        segments.extend(_runs(chars, styles))
        return Strip(segments, width)

    def _ruler(self, cols: int, bpb: float, style) -> Strip:
        chars = [" "] * cols
        left_beat, cols_per_beat = self.left_beat, self.cols_per_beat
        for c in range(cols):
            b0 = left_beat + c / cols_per_beat
            b1 = b0 + 1 / cols_per_beat
            if math.floor(b1 / bpb - 1e-9) > math.floor(b0 / bpb - 1e-9) or b0 % bpb < 1e-9:
                bar = int(round(math.ceil(b0 / bpb - 1e-9))) + 1
                for i, ch in enumerate(str(bar)):
                    if c + i < cols:
                        chars[c + i] = ch
            elif (math.floor(b1 - 1e-9) > math.floor(b0 - 1e-9) or b0 % 1 < 1e-9) and chars[c] == " ":
                chars[c] = "·"
        ruler = style("pianoroll--ruler")
        play_c = self._col(self.song.s_to_beats(self.playhead_s))
        styles = [ruler] * cols
        if 0 <= play_c < cols:
            chars[play_c], styles[play_c] = "▼", ruler + style("pianoroll--playhead")
        head = Segment(" bar ", style("pianoroll--key-black"))
        return Strip([head, *_runs(chars, styles)], cols + GUTTER)


def _runs(chars: list[str], styles: list[Style]) -> list[Segment]:
    """Merge neighbouring cells of equal style into one Segment each."""
    segments: list[Segment] = []
    start = 0
    for i in range(1, len(chars) + 1):
        if i == len(chars) or styles[i] != styles[start]:
            segments.append(Segment("".join(chars[start:i]), styles[start]))
            start = i
    return segments

"""Every AI candidate at once: one mini piano roll per candidate, stacked on one time axis.

Shown under the piano roll while the AI panel holds (or samples) several candidates: variations, or an
infill's fills. Each lane is LANE_ROWS rows of braille (2 dots across, 4 down per cell), so a lane shows
the candidate's notes at twice the column resolution over the request's span [at_s, end_s); every lane
shares one pitch scale, fitted to the lowest and highest note of all candidates, so registers compare.
Beside each lane: its number, note count, pitch range and seed (and an infill's log p). The picked lane
is highlighted; the main roll keeps drawing it as its ghost. The roll's playhead runs down the lanes too,
so an audition ("a") shows where it is. Drawn with `render_line`, so a streamed
batch costs a repaint, and the height changes only when a lane is added or dropped.

    cells = lane_cells(notes, start_s=0.0, end_s=8.0, cols=64, low=60, high=72, rows=2)   # rows of text
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rich.segment import Segment
from textual import events
from textual.message import Message
from textual.strip import Strip
from textual.widget import Widget

from composer.song import Note
from tui.widgets.piano_roll import GUTTER, PianoRoll, note_name

LANE_ROWS = 2
DOTS_DOWN = 4  # braille: 4 dots down, 2 across per cell
INFO_W = 30  # the column right of the lanes: notes, range, seed
BRAILLE = 0x2800
# dot (x, y) of a braille cell -> its bit (Unicode's order: the left column 1-2-3, the right 4-5-6, then 7, 8)
DOT_BITS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
BAR_MARK = "┆"


def pitch_rows(low: int, high: int, dots: int) -> dict[int, int]:
    """Each pitch in [low, high] -> its dot row (0 = top). A range that fits gets one row per semitone,
    centred; a wider one is scaled onto the rows."""
    span = high - low
    if span < dots:
        top = (dots - 1 - span) // 2
        return {p: top + high - p for p in range(low, high + 1)}
    return {p: round((high - p) * (dots - 1) / span) for p in range(low, high + 1)}


def lane_cells(
    notes: Sequence[Note], start_s: float, end_s: float, cols: int, low: int, high: int, rows: int = LANE_ROWS
) -> list[str]:
    """The lane's `rows` strings of `cols` braille cells: each note a line of dots at its pitch's row from
    its start to its end (its last dot left out when it is longer than two, so repeated notes part)."""
    dots_across, dots_down = 2 * cols, DOTS_DOWN * rows
    bits = [[0] * cols for _ in range(rows)]
    if cols <= 0 or end_s <= start_s:
        return ["" for _ in range(rows)]
    per_dot_s = (end_s - start_s) / dots_across
    row_of = pitch_rows(low, high, dots_down)
    for n in notes:
        if n.end_s <= start_s or n.start_s >= end_s or n.pitch not in row_of:
            continue
        d0 = max(0, int((n.start_s - start_s) / per_dot_s + 1e-9))
        d1 = min(dots_across, max(d0 + 1, round((n.end_s - start_s) / per_dot_s)))
        if d1 - d0 > 2:
            d1 -= 1
        y = row_of[n.pitch]
        row, bit_y = divmod(y, DOTS_DOWN)
        line = bits[row]
        for d in range(d0, d1):
            line[d // 2] |= DOT_BITS[d % 2][bit_y]
    return ["".join(chr(BRAILLE + b) if b else " " for b in line) for line in bits]


def bar_columns(start_s: float, end_s: float, cols: int, bar_s: float) -> dict[int, int]:
    """Column -> bar number (1-based, in the song) of each bar line inside [start_s, end_s)."""
    if cols <= 0 or end_s <= start_s or bar_s <= 0:
        return {}
    marks: dict[int, int] = {}
    bar = int(start_s / bar_s + 1e-9)
    if bar * bar_s < start_s - 1e-9:
        bar += 1
    while bar * bar_s < end_s - 1e-9:
        marks[int((bar * bar_s - start_s) / (end_s - start_s) * cols + 1e-9)] = bar + 1
        bar += 1
    return marks


@dataclass
class Lanes:
    """What the view draws: the candidates (the panel's own lists, read while they grow) and their facts."""

    candidates: list[list[Note]] = field(default_factory=list)
    expected: int = 0  # lanes while sampling: the request's count
    current: int = 0
    seeds: list[int] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)
    sampling: int | None = None  # the lane being sampled
    start_s: float = 0.0
    end_s: float = 0.0
    bar_s: float = 2.0

    @property
    def count(self) -> int:
        return max(self.expected, len(self.candidates))

    def pitch_span(self) -> tuple[int, int]:
        pitches = [n.pitch for c in self.candidates for n in c]
        if not pitches:
            return 60, 72
        return min(pitches), max(pitches)


class VariationsView(Widget):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    COMPONENT_CLASSES = {
        "variations--title",
        "variations--lane",
        "variations--lane-alt",
        "variations--picked",
        "variations--notes",
        "variations--notes-picked",
        "variations--bar",
        "variations--info",
        "variations--dim",
        "variations--playhead",
    }

    class Picked(Message):
        """A lane was clicked: pick candidate `index`."""

        def __init__(self, view: VariationsView, index: int) -> None:
            super().__init__()
            self.view = view
            self.index = index

        @property
        def control(self) -> VariationsView:
            return self.view

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lanes = Lanes()
        self._height = 0
        self.rows = LANE_ROWS  # per lane; 1 where the lanes would take over half the editor's height
        self.playhead_s = 0.0  # the song's playhead (the piano roll's): where an audition is
        self._playhead_col: int | None = None
        self.display = False

    def on_mount(self) -> None:
        for roll in self.screen.query(PianoRoll).results():  # the lanes show the roll's playhead too
            self.watch(roll, "playhead_s", self._playhead_moved, init=False)

    def _playhead_moved(self, playhead_s: float) -> None:
        self.playhead_s = playhead_s
        col = self.playhead_col()
        if self.display and col != self._playhead_col:
            self.refresh()
        self._playhead_col = col

    def playhead_col(self) -> int | None:
        """The lanes' column of the playhead, None when it is outside their span."""
        lanes, cols = self.lanes, self._grid_cols()
        if cols <= 0 or not lanes.start_s <= self.playhead_s < lanes.end_s:
            return None
        return int((self.playhead_s - lanes.start_s) / (lanes.end_s - lanes.start_s) * cols)

    def show_lanes(self, lanes: Lanes | None) -> None:
        """Draw these lanes (None or fewer than two: hide). Re-lays out only when the lane count changes."""
        shown = lanes is not None and lanes.count > 1
        self.lanes = lanes if lanes is not None else Lanes()
        room = self.parent.size.height if isinstance(self.parent, Widget) else 0
        self.rows = LANE_ROWS if not room or 1 + LANE_ROWS * self.lanes.count <= room // 2 else 1
        height = 1 + self.rows * self.lanes.count
        if shown and height != self._height:
            self._height = height
            self.styles.height = height
        if self.display != shown:
            self.display = shown
        self.refresh()

    def lane_at(self, y: int) -> int | None:
        if y < 1:
            return None
        index = (y - 1) // self.rows
        return index if index < self.lanes.count else None

    def on_click(self, event: events.Click) -> None:
        index = self.lane_at(event.y)
        if index is not None and index < len(self.lanes.candidates):
            self.post_message(self.Picked(self, index))

    # ----- drawing -----

    def _grid_cols(self) -> int:
        return max(0, self.size.width - GUTTER - INFO_W)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        style = self.get_component_rich_style
        lanes = self.lanes
        cols = self._grid_cols()
        if y == 0:
            return self._title(width, cols)
        index = self.lane_at(y)
        if index is None:
            return Strip.blank(width, self.rich_style)
        row = (y - 1) % self.rows
        picked = index == lanes.current and index < len(lanes.candidates)
        base = style("variations--picked" if picked else "variations--lane-alt" if index % 2 else "variations--lane")
        notes = lanes.candidates[index] if index < len(lanes.candidates) else []
        low, high = lanes.pitch_span()
        cells = lane_cells(notes, lanes.start_s, lanes.end_s, cols, low, high, self.rows)[row] if cols else ""
        note_style = base + style("variations--notes-picked" if picked else "variations--notes")
        bar_style = base + style("variations--bar")
        marks = bar_columns(lanes.start_s, lanes.end_s, cols, lanes.bar_s)
        play_c = self.playhead_col()
        play_style = style("variations--playhead")
        marker = "▶" if picked else " "
        gutter = f"{marker}{index + 1:>2}  "[:GUTTER] if row == 0 else " " * GUTTER
        segments = [Segment(gutter, base)]
        run, run_style = "", None
        for c, ch in enumerate(cells):
            cell, cell_style = (BAR_MARK, bar_style) if ch == " " and c in marks else (ch, note_style)
            if c == play_c:
                cell, cell_style = ("┃" if ch == " " else ch), cell_style + play_style
            if cell_style is not run_style and run:
                segments.append(Segment(run, run_style))
                run = ""
            run, run_style = run + cell, cell_style
        if run:
            segments.append(Segment(run, run_style))
        info = self._info(index, row)
        info_style = base + style("variations--info" if index < len(lanes.candidates) else "variations--dim")
        segments.append(Segment(f" {info}"[:INFO_W].ljust(INFO_W), info_style))
        return Strip(segments).adjust_cell_length(width, base)

    def _info(self, index: int, row: int) -> str:
        """Row 0: the note count and range; row 1: seed, log p, sampling (one row a lane: all of it)."""
        lanes = self.lanes
        if index >= len(lanes.candidates):
            return "waiting" if row == 0 else ""
        notes = lanes.candidates[index]
        facts = [f"{len(notes)} note{'s' if len(notes) != 1 else ''}"]
        if notes:
            facts.append(f"{note_name(min(n.pitch for n in notes))}–{note_name(max(n.pitch for n in notes))}")
        if row == 0 and self.rows > 1:
            return " · ".join(facts)
        if self.rows > 1:
            facts = []
        if index == lanes.sampling:
            facts.append("sampling…")
        if index < len(lanes.seeds):
            facts.append(f"seed {lanes.seeds[index]}")
        if index < len(lanes.scores):
            facts.append(f"log p {lanes.scores[index]:.1f}")
        return " · ".join(facts)

    def _title(self, width: int, cols: int) -> Strip:
        style = self.get_component_rich_style
        title = style("variations--title")
        lanes = self.lanes
        chars = [" "] * cols
        for c, bar in bar_columns(lanes.start_s, lanes.end_s, cols, lanes.bar_s).items():
            for i, ch in enumerate(str(bar)):
                if c + i < cols:
                    chars[c + i] = ch
        low, high = lanes.pitch_span()
        picks = f"1–{len(lanes.candidates)}" if len(lanes.candidates) > 1 else "n/p"
        info = f" {picks} pick · {note_name(low)}–{note_name(high)}"
        play_c = self.playhead_col()
        if play_c is None:
            line = " var " + "".join(chars) + info[:INFO_W].ljust(INFO_W)
            return Strip([Segment(line, title)]).adjust_cell_length(width, title)
        segments = [
            Segment(" var " + "".join(chars[:play_c]), title),
            Segment("▼", title + style("variations--playhead")),
            Segment("".join(chars[play_c + 1 :]) + info[:INFO_W].ljust(INFO_W), title),
        ]
        return Strip(segments).adjust_cell_length(width, title)

"""The audio clips' lanes under the piano roll: one row per clip, its waveform on the roll's time axis.

Each row is the clip's label in the roll's gutter, then a peak per column drawn with ▁▂▃▄▅▆▇█ (scaled to
the clip's own loudest peak) where the clip is heard, every repeat of a loop and only its trimmed part;
the selected clip's row is highlighted, a muted one dimmed, the playhead drawn as on the roll. The view
(first beat, columns per beat, playhead) is the roll's: the screen hands it over with `view()`.

Peaks are computed once per clip's samples (an envelope of the peak in each BUCKET samples, cached by the
samples object, which clips treat as immutable), and a row's characters once per clip and view; a frame
that only moves the playhead redraws from the cache. At most MAX_ROWS rows show, around the selected clip.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from rich.segment import Segment
from textual.strip import Strip
from textual.widget import Widget

from composer.song import AudioClip, Song
from tui.widgets.piano_roll import GUTTER

BLOCKS = "▁▂▃▄▅▆▇█"
BUCKET = 128  # samples per envelope value: 5 ms at 24 kHz, finer than a column at the roll's deepest zoom
MAX_ROWS = 4


def envelope(samples: np.ndarray) -> np.ndarray:
    """The peak |sample| of each BUCKET samples (all channels), float32 of shape (ceil(n / BUCKET),)."""
    if samples.ndim == 1:
        mono = np.abs(samples)
    else:  # channel by channel: a max over the short last axis is 25 times slower
        mono = np.abs(samples[:, 0])
        for channel in range(1, samples.shape[1]):
            np.maximum(mono, np.abs(samples[:, channel]), out=mono)
    n = mono.shape[0]
    if n == 0:
        return np.zeros(0, np.float32)
    padded = np.zeros(math.ceil(n / BUCKET) * BUCKET, np.float32)
    padded[:n] = mono
    return padded.reshape(-1, BUCKET).max(axis=1)


def column_peaks(
    song: Song, clip: AudioClip, env: np.ndarray, left_beat: float, cols_per_beat: float, cols: int
) -> list[float | None]:
    """Per roll column: the clip's peak heard there (0..1 of its loudest), or None where it is not heard."""
    peaks: list[float | None] = [None] * cols
    pass_s = clip.pass_s
    if pass_s <= 0 or env.size == 0:
        return peaks
    top = float(env.max()) or 1.0
    per_bucket = clip.sample_rate / BUCKET  # envelope values per second of the samples
    col_s = song.beats_to_s(1 / cols_per_beat)
    start, end = clip.start_s, clip.end_s
    first = max(0, math.floor((song.s_to_beats(start) - left_beat) * cols_per_beat))
    for c in range(first, cols):
        t0 = song.beats_to_s(left_beat + c / cols_per_beat)
        t1 = t0 + col_s
        if t0 >= end:
            break
        if t1 <= start:
            continue
        u0, u1 = max(t0, start) - start, min(t1, end) - start  # seconds into the clip's repeats
        if u1 - u0 >= pass_s:
            spans = [(0.0, pass_s)]
        else:
            p0, p1 = u0 % pass_s, u0 % pass_s + (u1 - u0)
            spans = [(p0, p1)] if p1 <= pass_s else [(p0, pass_s), (0.0, p1 - pass_s)]
        peak = 0.0
        for a, b in spans:
            lo = int((clip.offset_s + a) * per_bucket)
            hi = max(lo + 1, math.ceil((clip.offset_s + b) * per_bucket))
            part = env[lo:hi]
            if part.size:
                peak = max(peak, float(part.max()))
        peaks[c] = peak / top
    return peaks


def wave_text(peaks: list[float | None]) -> str:
    """▁ (quiet) to █ (the clip's loudest) per heard column; a space where the clip is not heard."""
    top = len(BLOCKS) - 1
    return "".join(" " if p is None else BLOCKS[max(0, min(top, math.ceil(p * top - 1e-9)))] for p in peaks)


class ClipStrip(Widget):
    DEFAULT_CSS = Path(__file__).with_suffix(".tcss").read_text(encoding="utf-8")

    COMPONENT_CLASSES = {
        "clipstrip--label",
        "clipstrip--label-selected",
        "clipstrip--lane",
        "clipstrip--wave",
        "clipstrip--wave-selected",
        "clipstrip--muted",
        "clipstrip--playhead",
    }

    def __init__(self, song: Song, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.song = song
        self.selected: int | None = None
        self.left_beat = 0.0
        self.cols_per_beat = 4.0
        self.playhead_s = 0.0
        self._envelopes: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # id(samples) -> (samples, envelope)
        self._rows: dict[tuple, tuple[np.ndarray | None, str]] = {}  # clip and view -> (samples, characters)
        self.envelopes_made = 0  # how many clips' peaks were computed (each clip's once)

    def show(self, song: Song, selected: int | None) -> None:
        """After any change of the song or the selected clip: one row per clip, at most MAX_ROWS."""
        self.song, self.selected = song, selected
        rows = min(len(song.clips), MAX_ROWS)
        self.display = rows > 0
        self.styles.height = max(1, rows)
        keep = {id(c.samples) for c in song.clips if c.samples is not None}
        if any(k not in keep for k in self._envelopes):
            self._envelopes = {k: v for k, v in self._envelopes.items() if k in keep}
            self._rows.clear()
        self.refresh()

    def view(self, left_beat: float, cols_per_beat: float, playhead_s: float) -> None:
        """The roll's time axis (and playhead) changed."""
        if (left_beat, cols_per_beat, playhead_s) != (self.left_beat, self.cols_per_beat, self.playhead_s):
            self.left_beat, self.cols_per_beat, self.playhead_s = left_beat, cols_per_beat, playhead_s
            self.refresh()

    def shown_clips(self) -> list[int]:
        """The clip indices the rows show: the first MAX_ROWS, or a window that holds the selected one."""
        n = len(self.song.clips)
        first = 0
        if self.selected is not None and self.selected >= MAX_ROWS:
            first = min(self.selected - MAX_ROWS + 1, n - MAX_ROWS)
        return list(range(first, min(n, first + MAX_ROWS)))

    def _envelope(self, clip: AudioClip) -> np.ndarray:
        samples = clip.samples
        if samples is None:
            return np.zeros(0, np.float32)
        cached = self._envelopes.get(id(samples))
        if cached is None or cached[0] is not samples:
            cached = (samples, envelope(samples))
            self._envelopes[id(samples)] = cached
            self.envelopes_made += 1
        return cached[1]

    def row_text(self, index: int, cols: int) -> str:
        """The waveform characters of clip `index` across `cols` columns (cached per clip and view)."""
        clip = self.song.clips[index]
        key = (
            id(clip.samples),
            clip.start_s,
            clip.offset_s,
            clip.pass_s,
            clip.repeats,
            clip.sample_rate,
            self.song.tempo_bpm,
            self.left_beat,
            self.cols_per_beat,
            cols,
        )
        cached = self._rows.get(key)
        if cached is not None and cached[0] is clip.samples:  # the same samples, not a new array at a freed id
            return cached[1]
        if len(self._rows) > 64:
            self._rows.clear()
        peaks = column_peaks(self.song, clip, self._envelope(clip), self.left_beat, self.cols_per_beat, cols)
        text = wave_text(peaks)
        self._rows[key] = (clip.samples, text)
        return text

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        shown = self.shown_clips()
        if y >= len(shown) or width <= GUTTER:
            return Strip.blank(width, self.rich_style)
        index = shown[y]
        clip = self.song.clips[index]
        style = self.get_component_rich_style
        chosen = index == self.selected
        cols = width - GUTTER
        text = self.row_text(index, cols)
        lane = style("clipstrip--lane")
        wave = style("clipstrip--wave-selected" if chosen else "clipstrip--wave")
        if clip.mute:
            wave = wave + style("clipstrip--muted")
        label = style("clipstrip--label-selected" if chosen else "clipstrip--label")
        marker = "▶" if chosen else " "
        segments = [Segment(f"{marker}A{index + 1:<3}"[:GUTTER].ljust(GUTTER), label)]
        play_c = math.floor((self.song.s_to_beats(self.playhead_s) - self.left_beat) * self.cols_per_beat + 1e-9)
        c = 0
        while c < cols:  # runs of heard / not heard cells, the playhead cell on its own
            if c == play_c:
                segments.append(Segment(text[c] if text[c] != " " else "┃", style("clipstrip--playhead")))
                c += 1
                continue
            heard = text[c] != " "
            end = c + 1
            while end < cols and end != play_c and (text[end] != " ") == heard:
                end += 1
            segments.append(Segment(text[c:end], wave if heard else lane))
            c = end
        return Strip(segments, width)

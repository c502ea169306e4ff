"""Audio clip editing on a Song: move, trim, duplicate, repeat. The app's clip keys call these.

Each function returns a new AudioClip (dataclasses.replace) and leaves the one passed in untouched, so the
caller swaps it into `song.clips` in one reference assignment: the audio thread, which reads the clips
every block, sees the old clip or the new one, never half of an edit. Samples are never copied or cut:
a trim moves the clip's `offset_s` / `length_s` window over them (composer.song.AudioClip), so a trimmed
end can be lengthened again up to the audio's end.

Times are seconds; grids are beats, turned into seconds through the song's tempo. A move or a trim lands
on a grid line: an edge off the grid goes first to the nearest line that way. An edit that cannot be made
(the start at 0, the end at the audio's end, a pass shorter than MIN_PASS_S) raises ComposerError naming
the clip and why, and changes nothing.
"""

from __future__ import annotations

import math
from dataclasses import replace

from composer.errors import ComposerError
from composer.song import AudioClip, Song

MIN_PASS_S = 0.05  # the shortest trimmed pass: shorter ones are a click, not a clip
MAX_REPEATS = 10_000  # as composer.files.project reads them
_EPS = 1e-6


def grid_line(beat: float, steps: int, grid_beats: float) -> float:
    """The grid line `steps` lines later (earlier when negative) than `beat`; off the grid, the first step
    goes to the nearest line that way."""
    if grid_beats <= 0:
        raise ValueError(f"grid must be a positive number of beats, got {grid_beats}")
    position = beat / grid_beats
    if steps > 0:
        return (math.floor(position + _EPS) + steps) * grid_beats
    if steps < 0:
        return (math.ceil(position - _EPS) + steps) * grid_beats
    return round(position) * grid_beats


def _snapped_s(song: Song, at_s: float, steps: int, grid_beats: float) -> float:
    return song.beats_to_s(grid_line(song.s_to_beats(at_s), steps, grid_beats))


def _require_audio(clip: AudioClip) -> None:
    if clip.samples is None:
        raise ComposerError(clip.name, "has no audio (its file is missing), so it cannot be trimmed")


def moved(song: Song, clip: AudioClip, steps: int, grid_beats: float) -> AudioClip:
    """`clip` starting `steps` grid lines later (earlier when negative), not before the song's start."""
    start_s = max(0.0, _snapped_s(song, clip.start_s, steps, grid_beats))
    if abs(start_s - clip.start_s) < _EPS:
        raise ComposerError(clip.name, "already starts at the song's start")
    return replace(clip, start_s=start_s)


def trimmed_end(song: Song, clip: AudioClip, steps: int, grid_beats: float) -> AudioClip:
    """`clip` whose pass ends `steps` grid lines later (longer) or earlier (shorter): a loop's length.

    Lengthening stops at the audio's end (a pass cannot play samples it does not have)."""
    _require_audio(clip)
    end_s = _snapped_s(song, clip.start_s + clip.pass_s, steps, grid_beats)
    most = clip.source_s - clip.offset_s  # the longest pass from this offset
    length_s = min(end_s - clip.start_s, most)
    if length_s < MIN_PASS_S - _EPS:
        raise ComposerError(clip.name, f"is as short as it gets at this grid ({clip.pass_s:.2f} s)")
    if abs(length_s - clip.pass_s) < _EPS:
        raise ComposerError(clip.name, "already ends at the end of its audio")
    return replace(clip, length_s=None if abs(length_s - most) < _EPS else length_s)


def trimmed_start(song: Song, clip: AudioClip, steps: int, grid_beats: float) -> AudioClip:
    """`clip` whose start moves `steps` grid lines later (trimming it) or earlier (revealing audio trimmed
    before), its end where it was. The start stops at the audio's start and at the song's start."""
    _require_audio(clip)
    start_s = _snapped_s(song, clip.start_s, steps, grid_beats)
    delta_s = max(start_s - clip.start_s, -clip.offset_s, -clip.start_s)
    if abs(delta_s) < _EPS:
        where = "its audio" if clip.offset_s < _EPS else "the song"
        raise ComposerError(clip.name, f"already starts at the start of {where}")
    length_s = clip.pass_s - delta_s
    if length_s < MIN_PASS_S - _EPS:
        raise ComposerError(clip.name, f"is as short as it gets at this grid ({clip.pass_s:.2f} s)")
    offset_s = clip.offset_s + delta_s
    if offset_s < _EPS:
        offset_s = 0.0
    untrimmed_end = abs(offset_s + length_s - clip.source_s) < _EPS
    return replace(
        clip,
        start_s=clip.start_s + delta_s,
        offset_s=offset_s,
        length_s=None if untrimmed_end else length_s,
    )


def duplicated(clip: AudioClip) -> AudioClip:
    """A copy of `clip` starting where it ends (its samples shared: clips treat them as immutable)."""
    return replace(clip, start_s=clip.end_s)


def repeated(clip: AudioClip, delta: int) -> AudioClip:
    """A loop clip heard `delta` more times (fewer when negative), 1 to MAX_REPEATS."""
    if not clip.loop:
        raise ComposerError(clip.name, "is not a loop: only loops repeat (make it with Loop ticked)")
    repeats = max(1, min(MAX_REPEATS, int(clip.repeats) + delta))
    if repeats == clip.repeats:
        raise ComposerError(clip.name, f"already plays {'once' if repeats == 1 else f'{repeats} times'}")
    return replace(clip, repeats=repeats)

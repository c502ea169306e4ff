"""Note editing on a Song: the operations the app and the command line share.

Notes are addressed by object identity (a `Note` compares by value, so two
equal notes in one track stay distinct). Operations change the notes in place
and keep the track sorted; times are seconds, grids are given in beats and
turned into seconds through the song's tempo. Pitches are clamped to 0..127,
velocities to 1..127, starts to >= 0, and a group moves as one so its shape is
kept when it hits an edge.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from composer.song import Note, Song, Track

MIN_DURATION_S = 0.01


@dataclass(frozen=True)
class Region:
    """A rectangle of the piano roll: notes starting in [start_s, end_s) with pitch_lo <= pitch <= pitch_hi."""

    start_s: float
    end_s: float
    pitch_lo: int = 0
    pitch_hi: int = 127

    def contains(self, note: Note) -> bool:
        return self.start_s <= note.start_s < self.end_s and self.pitch_lo <= note.pitch <= self.pitch_hi


def select(track: Track, region: Region) -> list[Note]:
    """The notes of `track` that start inside `region`, in time order."""
    return [n for n in track.notes if region.contains(n)]


def note_at(track: Track, pitch: int, time_s: float) -> Note | None:
    """The note of `pitch` sounding at `time_s` (the latest started one), if any."""
    hits = [n for n in track.notes if n.pitch == pitch and n.start_s <= time_s < n.end_s]
    return hits[-1] if hits else None


def add_note(track: Track, pitch: int, start_s: float, duration_s: float, velocity: int = 90) -> Note:
    """Add one note (clamped to valid values) and return it."""
    note = Note(
        pitch=_clamp(int(pitch), 0, 127),
        velocity=_clamp(int(velocity), 1, 127),
        start_s=max(0.0, float(start_s)),
        end_s=max(0.0, float(start_s)) + max(MIN_DURATION_S, float(duration_s)),
    )
    track.notes.append(note)
    track.sort()
    return note


def delete_notes(track: Track, notes: Iterable[Note]) -> int:
    """Remove these note objects from `track`; returns how many went."""
    doomed = {id(n) for n in notes}
    before = len(track.notes)
    track.notes[:] = [n for n in track.notes if id(n) not in doomed]
    return before - len(track.notes)


def move_notes(track: Track, notes: list[Note], delta_s: float = 0.0, delta_pitch: int = 0) -> tuple[float, int]:
    """Shift notes in time and pitch as one group; returns the (delta_s, delta_pitch) actually applied."""
    if not notes:
        return 0.0, 0
    delta_s = max(delta_s, -min(n.start_s for n in notes))
    delta_pitch = _clamp(delta_pitch, -min(n.pitch for n in notes), 127 - max(n.pitch for n in notes))
    for n in notes:
        n.start_s += delta_s
        n.end_s += delta_s
        n.pitch += delta_pitch
    track.sort()
    return delta_s, delta_pitch


def transpose(track: Track, notes: list[Note], semitones: int) -> int:
    """Move notes in pitch only; returns the semitones applied (less at the edges of 0..127)."""
    return move_notes(track, notes, 0.0, semitones)[1]


def resize_notes(notes: Iterable[Note], delta_s: float, min_duration_s: float = MIN_DURATION_S) -> None:
    """Lengthen (or shorten, with a negative delta) each note, never below `min_duration_s`."""
    for n in notes:
        n.end_s = max(n.start_s + min_duration_s, n.end_s + delta_s)


def change_velocity(notes: Iterable[Note], delta: int) -> None:
    for n in notes:
        n.velocity = _clamp(n.velocity + int(delta), 1, 127)


def set_velocity(notes: Iterable[Note], velocity: int) -> None:
    for n in notes:
        n.velocity = _clamp(int(velocity), 1, 127)


def quantize(song: Song, track: Track, notes: list[Note], grid_beats: float, strength: float = 1.0) -> None:
    """Pull note starts toward the nearest grid line by `strength` (0..1), keeping durations.

    The grid is in beats (0.25 = sixteenth notes), so it follows the tempo.
    """
    if grid_beats <= 0:
        raise ValueError("grid_beats must be > 0")
    if not 0.0 <= strength <= 1.0:
        raise ValueError("strength must be between 0 and 1")
    grid_s = song.beats_to_s(grid_beats)
    for n in notes:
        target_s = round(n.start_s / grid_s) * grid_s
        shift_s = (target_s - n.start_s) * strength
        n.start_s = max(0.0, n.start_s + shift_s)
        n.end_s = max(n.start_s + MIN_DURATION_S, n.end_s + shift_s)
    track.sort()


def copy_notes(notes: Iterable[Note], origin_s: float) -> list[Note]:
    """Copies of the notes with times relative to `origin_s` (a clipboard)."""
    return [Note(n.pitch, n.velocity, n.start_s - origin_s, n.end_s - origin_s) for n in notes]


def paste_notes(track: Track, clipboard: Iterable[Note], at_s: float) -> list[Note]:
    """Insert copies of clipboard notes placed at `at_s`; returns the new notes."""
    pasted = []
    for c in clipboard:
        start_s = at_s + c.start_s
        if start_s < 0:
            continue
        pasted.append(Note(c.pitch, c.velocity, start_s, at_s + c.end_s))
    track.notes.extend(pasted)
    track.sort()
    return pasted


def set_tempo(song: Song, tempo_bpm: float, keep_beats: bool = True) -> None:
    """Change the tempo; with `keep_beats` every note and clip stays on its beat (times rescale)."""
    if not 10.0 <= tempo_bpm <= 1000.0:
        raise ValueError("tempo must be between 10 and 1000 BPM")
    scale = song.tempo_bpm / tempo_bpm if keep_beats else 1.0
    song.tempo_bpm = float(tempo_bpm)
    if scale == 1.0:
        return
    for track in song.tracks:
        for n in track.notes:
            n.start_s *= scale
            n.end_s *= scale
    for clip in song.clips:
        clip.start_s *= scale


def _clamp(value: int, lo: int, hi: int) -> int:
    return max(lo, min(hi, value))

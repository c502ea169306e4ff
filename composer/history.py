"""Undo and redo as snapshots of the Song.

Every edit, an AI edit included, is one step:

    with history.edit(song, "transpose"):
        ...change song in place...

records the song as it was before, only if the edit changed something.
`undo(song)` / `redo(song)` restore a snapshot *into the same Song object*, so
whoever holds a reference to it (the audio engine, the widgets) sees the
change. Audio clip samples are shared between snapshots, never copied: they
are treated as immutable.

Copy-on-write per track: the snapshot before an edit copies only the tracks that
changed since the last snapshot; every other track is the same frozen copy the
last snapshot holds (found equal by comparing, which makes no objects). So an
edit of one track in a song of many costs one track's copy, and the undo stack
holds each note once per change, not once per step (fewer objects for the garbage
collector to walk, too). Frozen copies are never handed to the song itself:
undo and redo give it fresh copies of them (opening a file and its undo still
hand the contents over without copying).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from composer.song import Note, Song, Track


def snapshot(song: Song) -> Song:
    """A copy of `song` that later edits of `song` do not touch."""
    return Song(
        tempo_bpm=song.tempo_bpm,
        time_signature=tuple(song.time_signature),
        tracks=[_copy_track(t) for t in song.tracks],
        clips=[replace(c) for c in song.clips],
    )


def restore(song: Song, snap: Song) -> None:
    """Make `song` equal to `snap` in place (copying, so `snap` stays untouched)."""
    fresh = snapshot(snap)
    song.tempo_bpm = fresh.tempo_bpm
    song.time_signature = fresh.time_signature
    song.tracks = fresh.tracks
    song.clips = fresh.clips


def swap(song: Song, new: Song) -> Song:
    """Put `new`'s contents into `song` without copying; returns the old contents, detached.

    O(1) whatever the size of the song: used for undo, redo and opening files,
    where the incoming contents are owned by no one else.
    """
    old = Song(song.tempo_bpm, song.time_signature, song.tracks, song.clips)
    song.tempo_bpm, song.time_signature, song.tracks, song.clips = (
        new.tempo_bpm,
        new.time_signature,
        new.tracks,
        new.clips,
    )
    return old


def same(a: Song, b: Song) -> bool:
    """Whether two songs hold the same music (clip samples compared by identity)."""
    if (a.tempo_bpm, tuple(a.time_signature)) != (b.tempo_bpm, tuple(b.time_signature)):
        return False
    if a.tracks != b.tracks or len(a.clips) != len(b.clips):
        return False
    for x, y in zip(a.clips, b.clips, strict=True):
        if x.samples is not y.samples or replace(x, samples=None) != replace(y, samples=None):
            return False
    return True


def _copy_track(track: Track) -> Track:
    return replace(track, notes=[Note(n.pitch, n.velocity, n.start_s, n.end_s) for n in track.notes])


_FROZEN = "_history_frozen"  # attribute set on the snapshots (and their tracks) that History shares


def _is_frozen(obj) -> bool:
    return getattr(obj, _FROZEN, False)


def _freeze_track(track: Track) -> Track:
    copy = _copy_track(track)
    setattr(copy, _FROZEN, True)
    return copy


def _thaw(snap: Song) -> Song:
    """`snap` as contents the song may own: fresh copies of its shared (frozen) tracks and clips."""
    if not _is_frozen(snap):
        return snap
    return Song(
        snap.tempo_bpm,
        tuple(snap.time_signature),
        [_copy_track(t) if _is_frozen(t) else t for t in snap.tracks],
        [replace(c) for c in snap.clips],
    )


@dataclass
class Step:
    label: str
    before: Song


class History:
    """Undo/redo stacks of song snapshots, at most `limit` steps deep."""

    def __init__(self, limit: int = 500) -> None:
        self.limit = limit
        self._undo: list[Step] = []
        self._redo: list[Step] = []
        self._base: Song | None = None  # the last frozen snapshot: its tracks are shared while unchanged
        self.tracks_copied = 0  # tracks copied into snapshots (the copy-on-write at work, for tests)

    def _snapshot(self, song: Song) -> Song:
        """A frozen snapshot of `song` that shares each track copy of the last one the song still equals."""
        base = self._base
        shared = list(base.tracks) if base is not None else []
        tracks = []
        for i, track in enumerate(song.tracks):
            old = shared[i] if i < len(shared) else None
            if old is None or old != track:
                old = _freeze_track(track)
                self.tracks_copied += 1
            tracks.append(old)
        snap = Song(song.tempo_bpm, tuple(song.time_signature), tracks, [replace(c) for c in song.clips])
        setattr(snap, _FROZEN, True)
        self._base = snap
        return snap

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    @property
    def redo_label(self) -> str | None:
        return self._redo[-1].label if self._redo else None

    def __len__(self) -> int:
        return len(self._undo)

    def record(self, before: Song, label: str) -> None:
        """Push a snapshot taken before an edit; clears the redo stack."""
        self._undo.append(Step(label, before))
        del self._undo[: -self.limit]
        self._redo.clear()

    @contextmanager
    def edit(self, song: Song, label: str) -> Iterator[Song]:
        """Record one undo step around an in-place edit of `song`, if it changed anything.

        If the block raises, the song is put back as it was and nothing is recorded.
        """
        before = self._snapshot(song)
        try:
            yield song
        except BaseException:
            restore(song, before)
            raise
        if not same(before, song):
            self.record(before, label)

    def replace(self, song: Song, new: Song, label: str) -> None:
        """Replace the song's contents with `new` (taken over, not copied) as one undo step."""
        self.record(swap(song, new), label)

    def undo(self, song: Song) -> str | None:
        """Put `song` back as it was before the last edit; returns that edit's label (None: nothing to undo).

        The song's old contents become the redo step as they are; a snapshot's shared track copies are
        copied once for the song (the contents of an open or replace change hands without a copy).
        """
        if not self._undo:
            return None
        step = self._undo.pop()
        self._redo.append(Step(step.label, self._hand_over(song, step.before)))
        return step.label

    def _hand_over(self, song: Song, snap: Song) -> Song:
        """Put `snap` into `song` (thawed); returns the song's old contents, which nothing else holds."""
        self._base = snap if _is_frozen(snap) else None  # its frozen tracks equal the song's fresh copies
        return swap(song, _thaw(snap))

    def redo(self, song: Song) -> str | None:
        """Apply the last undone edit again; returns its label (None: nothing to redo)."""
        if not self._redo:
            return None
        step = self._redo.pop()
        self._undo.append(Step(step.label, self._hand_over(song, step.before)))
        return step.label

    def clear(self) -> None:
        self._undo.clear()
        self._redo.clear()
        self._base = None

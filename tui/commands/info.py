"""`composer info FILE.mid|FILE.json`: tracks, instruments, notes, duration, tempo."""

from __future__ import annotations

import argparse
import unicodedata

from composer.files.loader import load_song
from composer.gm import instrument_name


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a MIDI or project file")
    p.add_argument("file", help="a .mid or .json file")
    p.set_defaults(run=run)


def _printable(name: str) -> str:
    """A name from a file, safe for one terminal line: control characters become spaces."""
    return "".join(" " if unicodedata.category(c).startswith("C") else c for c in name)


def run(args: argparse.Namespace) -> int:
    song = load_song(args.file)
    num, den = song.time_signature
    n_notes = sum(len(t.notes) for t in song.tracks)
    print(f"{args.file}")
    duration = f"{song.duration_s:.2f} s"
    print(f"  tempo {song.tempo_bpm:g} BPM, {num}/{den}, {duration}, {len(song.tracks)} tracks, {n_notes} notes")
    for i, track in enumerate(song.tracks, 1):
        instrument = "Drum kit" if track.is_drum else instrument_name(track.program)
        pitches = [n.pitch for n in track.notes]
        span = f"pitch {min(pitches)}-{max(pitches)}" if pitches else "empty"
        name = _printable(track.name)
        count = f"{len(track.notes):6d} notes"
        print(f"  {i:2d}. {name:<24.24} {instrument:<28.28} ch {track.channel + 1:2d}  {count}  {span}")
    for clip in song.clips:
        print(f"  audio {clip.name!r} at {clip.start_s:.2f} s, {clip.duration_s:.2f} s")
    return 0

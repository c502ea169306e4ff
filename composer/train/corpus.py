"""Build token shards from the music21 corpus and a folder of MIDI files.

`build_corpus(out_dir)` parses every piece (in a process pool), turns it into
performance tokens `[BOS, events..., EOS]`, splits by piece with a stable hash
and writes, per split, one flat uint16 array (`train.npy`, `valid.npy`,
`test.npy`) plus `manifest.jsonl` (piece id, source, style, split, offset,
token count) and `summary.json`. A piece that fails to parse is counted and
listed; it never aborts the build.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.files.atomic import atomic_write, atomic_write_text
from composer.song import Note
from composer.tokens import BOS, EOS, decode, encode

SPLITS = ("train", "valid", "test")
DEFAULT_VELOCITY = 80

# First path component under music21/corpus -> style token name.
SOURCE_STYLES = {
    "bach": "chorale",
    "palestrina": "renaissance",
    "josquin": "renaissance",
    "monteverdi": "renaissance",
    "lusitano": "renaissance",
    "essenFolksong": "folk",
    "ryansMammoth": "folk",
    "oneills1850": "folk",
    "airdsAirs": "folk",
    "miscFolk": "folk",
    "nottingham-dataset": "folk",
    "trecento": "medieval",
    "ciconia": "medieval",
    "luca": "medieval",
    "beethoven": "classical",
    "mozart": "classical",
    "haydn": "classical",
    "chopin": "classical",
    "schumann_robert": "classical",
    "schumann_clara": "classical",
    "schubert": "classical",
    "joplin": "classical",
    "handel": "classical",
    "corelli": "classical",
    "cpebach": "classical",
    "beach": "classical",
    "weber": "classical",
    "verdi": "classical",
}
# Preferred first: where a piece ships in two formats, the first one found is kept.
# Roman-numeral analyses (.rntxt) are chord labels, not music, and are left out.
MUSIC_SUFFIXES = (".mxl", ".musicxml", ".xml", ".krn", ".abc", ".mid", ".midi", ".md", ".mus")


@dataclass
class Piece:
    piece_id: str
    source: str
    style: str
    tokens: np.ndarray  # uint16, [BOS, events..., EOS]


def split_of(piece_id: str) -> str:
    """Stable split by piece: 90% train, 5% valid, 5% test (never by token)."""
    bucket = int(hashlib.sha1(piece_id.encode()).hexdigest()[:8], 16) % 100
    return "train" if bucket < 90 else "valid" if bucket < 95 else "test"


def music21_sources() -> list[tuple[str, str, str]]:
    """(path, source, style) for every file of the corpus shipped in music21."""
    import music21.corpus

    root = Path(music21.corpus.__file__).parent
    by_stem: dict[Path, Path] = {}
    rank = {suffix: i for i, suffix in enumerate(MUSIC_SUFFIXES)}
    for path in map(Path, music21.corpus.getPaths()):
        suffix = path.suffix.lower()
        if suffix not in rank:
            continue
        stem = path.with_suffix("")
        if stem not in by_stem or rank[suffix] < rank[by_stem[stem].suffix.lower()]:
            by_stem[stem] = path
    out = []
    for path in sorted(by_stem.values()):
        rel = path.relative_to(root)
        out.append((str(path), str(rel), SOURCE_STYLES.get(rel.parts[0], "other")))
    return out


def midi_dir_sources(midi_dir: Path) -> list[tuple[str, str, str]]:
    files = sorted(p for p in midi_dir.rglob("*") if p.suffix.lower() in (".mid", ".midi"))
    return [(str(p), f"user/{p.relative_to(midi_dir)}", "other") for p in files]


def music21_notes(score) -> list[Note]:
    """All pitched notes of a music21 score, in seconds through its tempo marks.

    Ties are merged here in one pass (music21's stripTies is quadratic on
    large scores); quarter-note offsets become seconds through the
    metronome-mark boundaries.
    """
    boundaries = [(float(a), float(b), mark.getQuarterBPM() or 120.0) for a, b, mark in score.metronomeMarkBoundaries()]
    starts_s, t_s = [], 0.0
    for a, b, bpm in boundaries:
        starts_s.append(t_s)
        t_s += (b - a) * 60.0 / bpm

    def seconds(offset_ql: float) -> float:
        for (a, b, bpm), start_s in zip(boundaries, starts_s, strict=True):
            if offset_ql < b or (a, b, bpm) == boundaries[-1]:
                return start_s + (offset_ql - a) * 60.0 / bpm
        return offset_ql * 0.5

    spans: list[list] = []  # [start_ql, end_ql, velocity, midi pitch]
    for part in score.parts or [score]:
        spans.extend(_tied_spans(part))
    notes = [Note(int(m), int(v), seconds(a), seconds(b)) for a, b, v, m in spans if 0 <= m <= 127 and b > a]
    return sorted(notes, key=lambda n: (n.start_s, n.pitch))


def _tied_spans(part) -> list[list]:
    """One part's notes as [start_ql, end_ql, velocity, pitch], ties merged."""
    from music21 import chord, note

    open_ties: dict[int, list] = {}  # midi pitch -> its open span
    spans: list[list] = []
    for element in part.flatten().notes:
        if isinstance(element, note.Note):
            members = [(element.pitch.midi, element.tie)]
        elif isinstance(element, chord.Chord):
            members = [(n.pitch.midi, n.tie or element.tie) for n in element.notes]
        else:
            continue
        start_ql = float(element.offset)
        end_ql = start_ql + float(element.quarterLength)
        velocity = element.volume.velocity if element.volume.velocity else DEFAULT_VELOCITY
        for midi, tie in members:
            kind = tie.type if tie is not None else None
            held = open_ties.get(midi)
            if held is not None and kind in ("continue", "stop") and abs(held[1] - start_ql) < 1e-6:
                held[1] = end_ql
                if kind == "stop":
                    del open_ties[midi]
                continue
            span = [start_ql, end_ql, velocity, midi]
            spans.append(span)
            if kind in ("start", "continue"):
                open_ties[midi] = span
            else:
                open_ties.pop(midi, None)
    return spans


def parse_file(job: tuple[str, str, str]) -> tuple[list[Piece], list[tuple[str, str]]]:
    """Parse one file (an opus gives several pieces): (pieces, failures)."""
    path, rel, style = job
    pieces: list[Piece] = []
    failures: list[tuple[str, str]] = []
    try:
        if path.lower().endswith((".mid", ".midi")):
            from composer.files.midi_io import read_midi

            scores = [("", read_midi(path).all_notes())]
        else:
            from music21 import converter, stream

            parsed = converter.parse(path, forceSource=True)
            items = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
            scores = [(f"#{i}" if len(items) > 1 else "", item) for i, item in enumerate(items)]
        for suffix, item in scores:
            piece_id = rel + suffix
            try:
                notes = item if isinstance(item, list) else music21_notes(item)
                events = encode(notes)
                if len(notes) < 8:
                    failures.append((piece_id, "fewer than 8 notes"))
                    continue
                if encode(decode(events)) != events:
                    failures.append((piece_id, "token round trip mismatch"))
                    continue
                tokens = np.asarray([BOS, *events, EOS], dtype=np.uint16)
                pieces.append(Piece(piece_id, rel.split("/")[0], style, tokens))
            except Exception as exc:  # one bad piece of an opus never loses the rest
                failures.append((piece_id, f"{type(exc).__name__}: {exc}"[:200]))
    except Exception as exc:
        failures.append((rel, f"{type(exc).__name__}: {exc}"[:200]))
    return pieces, failures


def iter_parsed(jobs: list[tuple[str, str, str]], workers: int) -> Iterator[tuple[list[Piece], list[tuple[str, str]]]]:
    if workers <= 1:
        yield from map(parse_file, jobs)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from pool.map(parse_file, jobs, chunksize=1)


def build_corpus(
    out_dir: Path,
    midi_dir: Path | None = None,
    include_music21: bool = True,
    workers: int | None = None,
    limit: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Build the shards; returns the summary (also written to summary.json)."""
    t0 = time.monotonic()
    jobs = music21_sources() if include_music21 else []
    if midi_dir is not None:
        jobs += midi_dir_sources(midi_dir)
    if limit is not None:
        jobs = jobs[:limit]
    workers = workers or min(os.cpu_count() or 1, 4)
    out_dir.mkdir(parents=True, exist_ok=True)

    split_tokens: dict[str, list[np.ndarray]] = {s: [] for s in SPLITS}
    split_offsets = dict.fromkeys(SPLITS, 0)
    manifest: list[dict] = []
    failures: list[tuple[str, str]] = []
    for done, (pieces, failed) in enumerate(iter_parsed(jobs, workers), 1):
        failures.extend(failed)
        for piece in pieces:
            split = split_of(piece.piece_id)
            manifest.append(
                {
                    "piece_id": piece.piece_id,
                    "source": piece.source,
                    "style": piece.style,
                    "split": split,
                    "offset": split_offsets[split],
                    "tokens": len(piece.tokens),
                }
            )
            split_tokens[split].append(piece.tokens)
            split_offsets[split] += len(piece.tokens)
        if progress:
            progress(done, len(jobs))

    for split in SPLITS:
        flat = np.concatenate(split_tokens[split]) if split_tokens[split] else np.zeros(0, np.uint16)
        atomic_write(out_dir / f"{split}.npy", lambda tmp, a=flat: np.save(tmp, a, allow_pickle=False))
    atomic_write_text(out_dir / "manifest.jsonl", "".join(json.dumps(m) + "\n" for m in manifest))
    summary = {
        "files": len(jobs),
        "pieces": len(manifest),
        "failed": len(failures),
        "failures": [f"{pid}: {why}" for pid, why in failures],
        "tokens": {s: int(split_offsets[s]) for s in SPLITS},
        "pieces_per_split": {s: sum(m["split"] == s for m in manifest) for s in SPLITS},
        "pieces_per_style": _count(m["style"] for m in manifest),
        "workers": workers,
        "seconds": round(time.monotonic() - t0, 1),
    }
    atomic_write_text(out_dir / "summary.json", json.dumps(summary, indent=1))
    return summary


def _count(values) -> dict[str, int]:
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return counts

"""The neural instruments' training data: notes and the FluidSynth audio they make, in shards.

    summary = build_audio_data(Path("data/audio"), minutes_per_program=60)
    manifest = read_manifest(Path("data/audio"))
    for entry in manifest["shards"]:                       # split, program, audio, notes, n_samples, ...
        audio, notes = load_shard(Path("data/audio"), entry)

For each GM program, half the minutes are music21 corpus pieces transposed
into the instrument's range (a different, stable choice of pieces per
program, the styles taken in turn, up to MAX_PIECE_S each, a dynamic level
and tempo drawn per piece),
half generated material (synth.data.material, in chunks of 20 s taking the kinds
in turn, so a small build has every kind). Each piece goes to train, valid or
test by `composer.train.corpus.split_of(piece_id)`, the transformer corpus's split,
and each split gets its share of the minutes (90/5/5).

Layout of OUT (a rebuild replaces the shards):

    manifest.json                     format, sample_rate, programs, shards[], seconds per split and program
    pieces.jsonl                      one line per piece: piece_id, kind, source, program, split, shard,
                                      start_sample, n_samples, n_notes, transpose_semitones, peak
    {split}/{program:03d}-{k:03d}.npy        float16 (n_samples,), mono at sample_rate, pieces back to back
    {split}/{program:03d}-{k:03d}.notes.npz  pitch, velocity, program (uint8, (N,)); start_s, end_s (float64,
                                      seconds from the shard's first sample); piece (int32, index into
                                      piece_start_sample and piece_n_samples, int64 (P,)); sample_rate

Note times are exactly as rendered (synth.data.fluid.snap_to_fluid): a note sounds
from sample round(start_s * sample_rate); each piece's audio runs to the end
of its last release tail.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from composer.errors import ComposerError
from composer.files.atomic import atomic_write, atomic_write_text
from composer.gm import instrument_name
from composer.song import Note
from composer.train.corpus import SPLITS, music21_notes, music21_sources, split_of
from synth.data.fluid import DEFAULT_SOUNDFONT, FLUID_GAIN, snap_to_fluid
from synth.data.manifest import read_manifest_file, relative_file, shard_entries, whole_number
from synth.data.material import instrument_range, material_pieces

FORMAT = "composer-audio-data/1"
# One program of each of the 16 GM families (the instrument families of composer.gm), in this order:
# piano, chromatic percussion (vibraphone), organ (church), guitar (nylon), bass (finger), strings (cello),
# ensemble (strings), brass (trumpet), reed (clarinet), pipe (flute), synth lead (saw), synth pad (warm),
# synth effects (atmosphere), ethnic (banjo), percussive (steel drums), sound effects (guitar fret noise).
PROGRAMS = (0, 11, 19, 24, 33, 42, 48, 56, 71, 73, 81, 89, 99, 105, 114, 120)
SAMPLE_RATE = 24000
SPLIT_SHARES = {"train": 0.90, "valid": 0.05, "test": 0.05}
MATERIAL_SHARE = 0.5
MAX_PIECE_S = 60.0
MIN_PIECE_S = 8.0  # a piece cut to a split's remaining minutes is never shorter than this
SHARD_SECONDS = 300.0
MAX_SOURCE_BYTES = 400_000
MAX_ABC_BYTES = 16_000  # .abc files over this are tune collections that take music21 seconds to parse
MAX_MATERIAL_SEEDS = 1000
MATERIAL_CHUNK_S = 20.0

Render = Callable[[Mapping[int, Sequence[Note]]], np.ndarray]
Progress = Callable[[float, float], None]


@dataclass
class Piece:
    piece_id: str
    kind: str  # "corpus" or "material"
    source: str
    program: int
    split: str
    notes: list[Note]  # as rendered, from 0 s
    transpose_semitones: int = 0


def build_audio_data(
    out_dir: Path,
    programs: Sequence[int] = PROGRAMS,
    minutes_per_program: float = 60.0,
    sample_rate: int = SAMPLE_RATE,
    seed: int = 0,
    sources: Sequence[tuple[str, str, str]] | None = None,
    render: Render | None = None,
    progress: Progress | None = None,
) -> dict:
    """Render and write the shards; returns the summary (manifest.json without the shard list).

    `sources` are (path, id, style) as composer.train.corpus.music21_sources gives (the default);
    `render` maps {program: notes} to mono float32 audio (default: synth.data.fluid.FluidRenderer).
    `progress(seconds_done, seconds_total)` follows the minutes of notes placed.
    """
    programs = list(dict.fromkeys(programs))
    if not programs or not all(isinstance(p, int) and 0 <= p <= 127 for p in programs):
        raise ComposerError("--programs", f"{programs}: expected GM programs 0-127")
    if not 0 < minutes_per_program <= 6000:
        raise ComposerError("--minutes-per-program", f"{minutes_per_program}: expected more than 0, at most 6000")
    t0 = time.monotonic()
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ComposerError(out_dir, "is a file, expected a folder")
    closer = None
    if render is None:
        from synth.data.fluid import FluidRenderer

        fluid = FluidRenderer(sample_rate)
        render, closer = fluid.render, fluid.close
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _clear_old_build(out_dir)
        sources = list(music21_sources() if sources is None else sources)
        budget_s = minutes_per_program * 60.0
        total_s = budget_s * len(programs)
        writer = _ShardWriter(out_dir, sample_rate)
        failures: list[str] = []
        for index, program in enumerate(programs):
            done_before = index * budget_s

            def report(seconds: float, done_before: float = done_before) -> None:
                if progress is not None:
                    progress(done_before + min(seconds, budget_s), total_s)

            for piece in _program_pieces(program, budget_s, sample_rate, sources, seed, failures, report):
                writer.add(piece, render({piece.program: piece.notes}))
            report(budget_s)
        shards = writer.close()
    finally:
        if closer is not None:
            closer()
    seconds = {s: {str(p): 0.0 for p in programs} for s in SPLITS}
    for shard in shards:
        seconds[shard["split"]][str(shard["program"])] += shard["seconds"]
    summary = {
        "format": FORMAT,
        "sample_rate": sample_rate,
        "programs": {str(p): instrument_name(p) for p in programs},
        "minutes_per_program": minutes_per_program,
        "seed": seed,
        "soundfont": str(DEFAULT_SOUNDFONT),
        "fluid_gain": FLUID_GAIN,
        "seconds": {s: {p: round(v, 2) for p, v in by_p.items()} for s, by_p in seconds.items()},
        "pieces": len(writer.pieces),
        "pieces_per_kind": {k: sum(p["kind"] == k for p in writer.pieces) for k in ("corpus", "material")},
        "failed": len(failures),
        "failures": failures,
        "bytes": sum(shard["bytes"] for shard in shards),
        "build_seconds": round(time.monotonic() - t0, 1),
    }
    atomic_write_text(out_dir / "pieces.jsonl", "".join(json.dumps(p) + "\n" for p in writer.pieces))
    atomic_write_text(out_dir / "manifest.json", json.dumps({**summary, "shards": shards}, indent=1))
    return summary


def read_manifest(out_dir: Path) -> dict:
    """The manifest of a finished build; ComposerError (one line, naming the file) if there is none, it is not
    one, or its sample rate, programs or shard list are not what a build writes."""
    path = Path(out_dir) / "manifest.json"
    manifest = read_manifest_file(path, FORMAT, "audio-data", "build the data with `composer audio-data build`")
    whole_number(manifest, "sample_rate", path, 1000, 768_000)
    programs = manifest.get("programs", {})
    if not isinstance(programs, dict | list) or not all(
        (isinstance(p, int) and not isinstance(p, bool)) or (isinstance(p, str) and p.isdigit()) for p in programs
    ):
        raise ComposerError(path, "programs is not a list (or table) of GM program numbers")
    if not all(0 <= int(p) <= 128 for p in programs):
        raise ComposerError(path, "programs holds a number outside 0-128")
    shard_entries(manifest, path, tuple(SPLITS))
    return manifest


def load_shard(out_dir: Path, entry: Mapping) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(audio float16 (n_samples,) memory-mapped, notes arrays) of one manifest shard entry."""
    audio_path = Path(out_dir) / relative_file(entry.get("audio"), Path(out_dir) / "manifest.json", "audio")
    notes_path = Path(out_dir) / relative_file(entry.get("notes"), Path(out_dir) / "manifest.json", "notes")
    try:
        audio = np.load(audio_path, mmap_mode="r", allow_pickle=False)
    except Exception as exc:  # missing, truncated, not .npy, an object array: numpy raises many types
        raise ComposerError(audio_path, f"unreadable shard ({_first_line(exc)})") from None
    try:
        with np.load(notes_path, allow_pickle=False) as npz:
            notes = {name: npz[name] for name in npz.files}
    except Exception as exc:
        raise ComposerError(notes_path, f"unreadable shard ({_first_line(exc)})") from None
    return audio, notes


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]


def fit_to_range(notes: Sequence[Note], low: int, high: int, center_offset: int = 0) -> tuple[list[Note], int]:
    """Transpose into [low, high] with the fewest notes outside, the median near the middle
    (+ center_offset); notes still outside move by octaves. Returns (notes, semitones)."""
    pitches = np.array([n.pitch for n in notes])
    if pitches.size == 0:
        return [], 0
    target = (low + high) / 2 + center_offset
    median = float(np.median(pitches))

    def cost(shift: int) -> tuple[int, float]:
        moved = pitches + shift
        return int(np.sum((moved < low) | (moved > high))), abs(median + shift - target)

    shift = min(range(-60, 61), key=cost)
    out = []
    for note in notes:
        pitch = note.pitch + shift
        while pitch < low:
            pitch += 12
        while pitch > high:
            pitch -= 12
        out.append(Note(pitch, note.velocity, note.start_s, note.end_s))
    return out, shift


def _program_pieces(program, budget_s, sample_rate, sources, seed, failures, report):
    """The pieces of one program, material then corpus, until every split has its minutes of each."""
    left = {
        kind: {s: budget_s * share * (MATERIAL_SHARE if kind == "material" else 1 - MATERIAL_SHARE)
               for s, share in SPLIT_SHARES.items()}
        for kind in ("material", "corpus")
    }  # fmt: skip
    placed = 0.0

    def corpus_wanted(piece_id: str) -> bool:
        return left["corpus"][split_of(piece_id)] > 0

    streams = {
        "material": _material_stream(program, seed),
        "corpus": _corpus_stream(program, sources, seed, failures, corpus_wanted),
    }
    for kind, stream in streams.items():
        for piece_id, notes, source, transpose in stream:
            split = split_of(piece_id)
            if left[kind][split] <= 0:
                if all(v <= 0 for v in left[kind].values()):
                    break
                continue
            notes = _excerpt(notes, min(MAX_PIECE_S, max(left[kind][split], MIN_PIECE_S)))
            if not notes:
                continue
            notes = snap_to_fluid(notes, sample_rate)
            length_s = max(n.end_s for n in notes)
            left[kind][split] -= length_s
            placed += length_s
            report(placed)
            yield Piece(piece_id, kind, source, program, split, notes, transpose)


def _material_stream(program, seed):
    """Material in chunks of up to MATERIAL_CHUNK_S, one chunk of each kind in turn, so that even a
    small build hears every kind; each chunk is a piece of its own (`material/PPP/KIND/SEED@K`)."""
    for n in range(MAX_MATERIAL_SEEDS):
        chunked = [
            _chunks(piece_id, notes) for piece_id, notes in material_pieces(program, seed * MAX_MATERIAL_SEEDS + n)
        ]
        for k in range(max(len(c) for c in chunked)):
            for chunks in chunked:
                if k < len(chunks):
                    yield *chunks[k], "material", 0


def _chunks(piece_id: str, notes: list[Note]) -> list[tuple[str, list[Note]]]:
    """Notes grouped by onset into windows of MATERIAL_CHUNK_S, each moved to start at 0 s."""
    by_window: dict[int, list[Note]] = {}
    for note in notes:
        by_window.setdefault(int(note.start_s // MATERIAL_CHUNK_S), []).append(note)
    out = []
    for k, (_, group) in enumerate(sorted(by_window.items())):
        t0 = group[0].start_s
        out.append((f"{piece_id}@{k}", [Note(n.pitch, n.velocity, n.start_s - t0, n.end_s - t0) for n in group]))
    return out


def _corpus_stream(program, sources, seed, failures, wanted):
    """Corpus pieces in a stable order of their own for each program, fitted to its range.

    A file whose piece would go to a split that has its minutes is not parsed (an .abc file may hold
    several pieces, each with a split of its own, so those are always parsed)."""
    low, high = instrument_range(program)

    def order(source: tuple[str, str, str]) -> str:
        return hashlib.sha1(f"{seed}/{program}/{source[1]}".encode()).hexdigest()

    by_style: dict[str, list[tuple[str, str, str]]] = {}
    for source in sorted(sources, key=order):
        by_style.setdefault(source[2], []).append(source)
    # One file of each style in turn, so chorales, renaissance polyphony, folk tunes and piano music
    # all come in early, whatever their share of the corpus's files.
    interleaved = [s for group in itertools.zip_longest(*by_style.values()) for s in group if s is not None]
    for path, rel, _style in interleaved:
        size = Path(path).stat().st_size if Path(path).is_file() else 0
        is_abc = rel.lower().endswith(".abc")
        if size > MAX_SOURCE_BYTES or (is_abc and size > MAX_ABC_BYTES) or not (is_abc or wanted(rel)):
            continue
        for piece_id, notes in _parse(path, rel, failures):
            rng = np.random.default_rng(int(order((path, piece_id, ""))[:8], 16))
            fitted, shift = fit_to_range(notes, low, high, int(rng.integers(-5, 6)))
            yield piece_id, _perform(fitted, rng), rel.split("/")[0], shift


def _parse(path: str, rel: str, failures: list[str]) -> list[tuple[str, list[Note]]]:
    """(piece id, notes) of every piece in a file, ids as composer.train.corpus gives them."""
    try:
        if path.lower().endswith((".mid", ".midi")):
            from composer.files.midi_io import read_midi

            return [(rel, read_midi(path).all_notes())]
        from music21 import converter, stream

        parsed = converter.parse(path, forceSource=True)
        items = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
        out = []
        for i, item in enumerate(items):
            piece_id = rel + (f"#{i}" if len(items) > 1 else "")
            try:
                notes = music21_notes(item)
            except Exception as exc:  # one bad piece of an opus never loses the rest
                failures.append(f"{piece_id}: {type(exc).__name__}: {exc}"[:200])
                continue
            if len(notes) >= 8:
                out.append((piece_id, notes))
        return out
    except Exception as exc:  # music21 raises many types on files it cannot read
        failures.append(f"{rel}: {type(exc).__name__}: {exc}"[:200])
        return []


def _perform(notes: list[Note], rng: np.random.Generator) -> list[Note]:
    """A tempo (x0.8-1.25) and, where the score has one flat velocity, a dynamic level with some spread."""
    stretch = float(rng.uniform(0.8, 1.25))
    flat = len({n.velocity for n in notes}) == 1
    level = int(rng.integers(35, 120))
    out = []
    for note in notes:
        velocity = int(np.clip(round(level + rng.normal(0, 9)), 1, 127)) if flat else note.velocity
        out.append(Note(note.pitch, velocity, note.start_s * stretch, note.end_s * stretch))
    return out


def _excerpt(notes: Sequence[Note], max_s: float) -> list[Note]:
    """Notes from the first onset (moved to 0 s), those starting before max_s, cut there."""
    if not notes:
        return []
    t0 = min(n.start_s for n in notes)
    out = []
    for note in sorted(notes, key=lambda n: (n.start_s, n.pitch)):
        start_s = note.start_s - t0
        if start_s < max_s:
            out.append(Note(note.pitch, note.velocity, start_s, min(note.end_s - t0, max_s)))
    return [n for n in out if n.end_s > n.start_s]


class _ShardWriter:
    """Collects rendered pieces per (split, program) and writes a shard every SHARD_SECONDS."""

    def __init__(self, out_dir: Path, sample_rate: int) -> None:
        self.out_dir = out_dir
        self.sample_rate = sample_rate
        self.open: dict[tuple[str, int], list[tuple[Piece, np.ndarray]]] = {}
        self.counts: dict[tuple[str, int], int] = {}
        self.shards: list[dict] = []
        self.pieces: list[dict] = []

    def add(self, piece: Piece, audio: np.ndarray) -> None:
        key = (piece.split, piece.program)
        self.open.setdefault(key, []).append((piece, audio))
        if sum(len(a) for _, a in self.open[key]) >= SHARD_SECONDS * self.sample_rate:
            self._flush(key)

    def close(self) -> list[dict]:
        for key in list(self.open):
            self._flush(key)
        return sorted(self.shards, key=lambda s: s["audio"])

    def _flush(self, key: tuple[str, int]) -> None:
        items = self.open.pop(key, [])
        if not items:
            return
        split, program = key
        k = self.counts.get(key, 0)
        self.counts[key] = k + 1
        name = f"{split}/{program:03d}-{k:03d}"
        (self.out_dir / split).mkdir(exist_ok=True)
        sr = self.sample_rate
        starts = np.cumsum([0] + [len(a) for _, a in items[:-1]]).astype(np.int64)
        lengths = np.array([len(a) for _, a in items], np.int64)
        audio = np.concatenate([a for _, a in items]).astype(np.float16)
        columns: dict[str, list] = {c: [] for c in ("pitch", "velocity", "start_s", "end_s", "piece")}
        for index, ((piece, piece_audio), start) in enumerate(zip(items, starts, strict=True)):
            for note in piece.notes:
                columns["pitch"].append(note.pitch)
                columns["velocity"].append(note.velocity)
                columns["start_s"].append(start / sr + note.start_s)
                columns["end_s"].append(start / sr + note.end_s)
                columns["piece"].append(index)
            self.pieces.append(
                {
                    "piece_id": piece.piece_id,
                    "kind": piece.kind,
                    "source": piece.source,
                    "program": program,
                    "split": split,
                    "shard": name,
                    "start_sample": int(start),
                    "n_samples": len(piece_audio),
                    "n_notes": len(piece.notes),
                    "transpose_semitones": piece.transpose_semitones,
                    "peak": round(float(np.abs(piece_audio).max(initial=0.0)), 4),
                }
            )
        n = len(columns["pitch"])
        arrays = {
            "pitch": np.array(columns["pitch"], np.uint8),
            "velocity": np.array(columns["velocity"], np.uint8),
            "program": np.full(n, program, np.uint8),
            "start_s": np.array(columns["start_s"], np.float64),
            "end_s": np.array(columns["end_s"], np.float64),
            "piece": np.array(columns["piece"], np.int32),
            "piece_start_sample": starts,
            "piece_n_samples": lengths,
            "sample_rate": np.array(sr, np.int32),
        }
        audio_path, notes_path = self.out_dir / f"{name}.npy", self.out_dir / f"{name}.notes.npz"
        atomic_write(audio_path, lambda tmp: np.save(tmp, audio, allow_pickle=False))
        atomic_write(notes_path, lambda tmp: _save_npz(tmp, arrays))
        self.shards.append(
            {
                "split": split,
                "program": program,
                "audio": f"{name}.npy",
                "notes": f"{name}.notes.npz",
                "n_samples": int(audio.size),
                "seconds": round(audio.size / sr, 3),
                "pieces": len(items),
                "notes_count": n,
                "bytes": audio_path.stat().st_size + notes_path.stat().st_size,
            }
        )


def _save_npz(tmp: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(tmp, "wb") as handle:  # a file object, so numpy does not append .npz to the temporary name
        np.savez(handle, **arrays)


def _clear_old_build(out_dir: Path) -> None:
    """Remove a previous build's manifest first (so a half-done rebuild has none), then its shards."""
    for name in ("manifest.json", "pieces.jsonl"):
        (out_dir / name).unlink(missing_ok=True)
    for split in SPLITS:
        for pattern in ("[0-9][0-9][0-9]-[0-9][0-9][0-9].npy", "[0-9][0-9][0-9]-[0-9][0-9][0-9].notes.npz"):
            for path in (out_dir / split).glob(pattern):
                path.unlink()

"""Do the accompaniment's notes fit the melody's harmony? Generated against real accompaniments (issue 16).

Held-out pieces: music21's corpus files whose piece id (composer.train.corpus.split_of, the transformer
corpus's own split) falls in the test split, taken round-robin over the sources (bach, palestrina, trecento,
mozart, ...) so one source does not fill the set; folk sources are single-line tunes and are not parsed. A
piece counts when at least two of its parts have notes in the window [0, --seconds). Each part's notes are
what the corpus holds (composer.train.corpus.music21_notes, seconds through the score's tempo marks). The
melody is, of the parts sounding for at least half the window, the one with the highest mean pitch (a piece
without one is skipped: imitative voices entering one by one); the real accompaniment is every other part.
`composer.model.accompany.accompany` writes the generated accompaniment for the melody over the same window
(as `composer accompany --seconds S` does: nothing before it, MIDI 21..108, temperature 1, top-p 0.95),
under the piece's own style, piece n with seed --seed + n.

Per accompaniment, on a 10 ms grid over the window (every figure is in note-seconds, so it is duration-weighted,
and pooled over the pieces: the sum of the fitting time over the sum of the time):

    harmony_fit     share of accompaniment note-time whose pitch class is in the local harmony: the pitch
                    classes of the melody notes sounding within HARMONY_WINDOW_S (1 s, centred: two beats at
                    120 BPM, music21's tempo where a score has none) plus the scale of the melody's key
                    (Krumhansl-Kessler over the window's melody, composer.model.phrase.estimate_key; a minor
                    key also admits its raised 7th, the leading tone)
    melody_pc_fit   the same without the scale: only the melody's own local pitch classes (stricter)
    consonance      share of the time an accompaniment note sounds against a melody note (each pair counted,
                    weighted by their overlap) at a consonant interval: unison/octave, minor and major 3rd,
                    perfect 5th, minor and major 6th (mod 12: 0, 3, 4, 7, 8, 9); the 4th counts as dissonant
    chance          what pitch classes drawn uniformly at random at the same note-times would score: the mean
                    share of the 12 classes the local harmony admits (consonance: 6/12, always)

Beside them: notes per second of both (a sparse accompaniment can fit perfectly and say little), their notes
and note-seconds, the ratio generated/real of each figure, and the seconds the generation took.

    python benchmarks/accompany_harmony.py [--pieces 24] [--seconds 16] [--seed 1] [--threads 1] [--model PATH]

Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from composer.errors import ComposerError
from composer.keys import parse_key, scale_pitch_classes
from composer.model.accompany import CONSONANCE_NATS, accompany
from composer.model.phrase import estimate_key
from composer.model.sample import SampleOptions, load_model
from composer.song import Note
from composer.train.corpus import music21_notes, music21_sources, split_of

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import machine_facts, run_or_fail  # noqa: E402

FRAME_S = 0.01
HARMONY_WINDOW_S = 1.0
CONSONANT_SEMITONES = frozenset({0, 3, 4, 7, 8, 9})
PITCH_RANGE = (21, 108)  # composer accompany's --low/--high defaults
MEASURES = ("harmony_fit", "melody_pc_fit", "consonance")


@dataclass
class Fit:
    """One accompaniment's figures against its melody, in note-seconds (summable over pieces)."""

    notes: int = 0
    note_s: float = 0.0  # accompaniment note-time in the window
    harmony_s: float = 0.0  # of it, pitch class in the local melody classes or the key's scale
    melody_pc_s: float = 0.0  # of it, pitch class in the local melody classes
    pair_s: float = 0.0  # accompaniment x melody note pairs, their overlap
    consonant_s: float = 0.0  # of it, at a consonant interval
    harmony_chance_s: float = 0.0  # note_s x the share of the 12 classes the local harmony admits, frame by frame
    melody_pc_chance_s: float = 0.0  # the same for the local melody classes alone

    def __add__(self, other: Fit) -> Fit:
        return Fit(*(getattr(self, f) + getattr(other, f) for f in Fit.__dataclass_fields__))

    def shares(self) -> dict[str, float | None]:
        def share(part: float, whole: float) -> float | None:
            return round(part / whole, 4) if whole > 0 else None

        return {
            "harmony_fit": share(self.harmony_s, self.note_s),
            "melody_pc_fit": share(self.melody_pc_s, self.note_s),
            "consonance": share(self.consonant_s, self.pair_s),
        }

    def chance(self) -> dict[str, float | None]:
        """The shares uniformly random pitch classes would get at the same note-times."""
        if self.note_s <= 0:
            return dict.fromkeys(MEASURES)
        return {
            "harmony_fit": round(self.harmony_chance_s / self.note_s, 4),
            "melody_pc_fit": round(self.melody_pc_chance_s / self.note_s, 4),
            "consonance": round(len(CONSONANT_SEMITONES) / 12, 4),
        }


def key_classes(melody: Sequence[Note]) -> frozenset[int]:
    """The scale of the melody's Krumhansl-Kessler key; a minor key with its raised 7th. Empty without notes."""
    key = estimate_key(melody)
    if key is None:
        return frozenset()
    tonic, mode = parse_key(key)
    leading_tone = {(tonic + 11) % 12} if mode == "minor" else set()
    return scale_pitch_classes(key) | leading_tone


def sounding(notes: Sequence[Note], frames_s: np.ndarray, pad_s: float = 0.0) -> np.ndarray:
    """(N, F) bool: note n sounds at some time within pad_s of frame f's centre."""
    starts = np.array([n.start_s for n in notes])[:, None]
    ends = np.array([n.end_s for n in notes])[:, None]
    return (starts <= frames_s[None, :] + pad_s) & (ends > frames_s[None, :] - pad_s)


def harmony_fit(accompaniment: Sequence[Note], melody: Sequence[Note], seconds: float) -> Fit:
    """The Fit of `accompaniment` against `melody` over [0, seconds) (both in seconds, cut to the window)."""
    accompaniment = [n for n in accompaniment if n.start_s < seconds and n.end_s > n.start_s]
    fit = Fit(notes=len(accompaniment))
    if not accompaniment:
        return fit
    frames_s = (np.arange(round(seconds / FRAME_S)) + 0.5) * FRAME_S  # (F,) frame centres
    acc_on = sounding(accompaniment, frames_s)  # (A, F)
    acc_pc = np.array([n.pitch % 12 for n in accompaniment])
    scale = np.zeros(12, bool)
    scale[list(key_classes(melody))] = True
    local = np.zeros((12, len(frames_s)), bool)  # (12, F): melody classes within the harmony window
    if melody:
        near = sounding(melody, frames_s, HARMONY_WINDOW_S / 2)  # (M, F)
        for pc in range(12):
            rows = [i for i, n in enumerate(melody) if n.pitch % 12 == pc]
            local[pc] = near[rows].any(axis=0) if rows else False
    in_melody = local[acc_pc] & acc_on  # (A, F)
    allowed = local | scale[:, None]  # (12, F)
    voices = acc_on.sum(axis=0)  # (F,) accompaniment notes sounding
    fit.note_s = float(voices.sum()) * FRAME_S
    fit.harmony_chance_s = float((voices * allowed.sum(axis=0)).sum()) / 12 * FRAME_S
    fit.melody_pc_chance_s = float((voices * local.sum(axis=0)).sum()) / 12 * FRAME_S
    fit.melody_pc_s = float(in_melody.sum()) * FRAME_S
    fit.harmony_s = float((acc_on & (in_melody | scale[acc_pc][:, None])).sum()) * FRAME_S
    if melody:
        mel_on = sounding(melody, frames_s)  # (M, F)
        overlap = acc_on.astype(np.int32) @ mel_on.T.astype(np.int32)  # (A, M) frames both sound
        intervals = np.abs(np.array([n.pitch for n in accompaniment])[:, None] - np.array([n.pitch for n in melody]))
        consonant = np.isin(intervals % 12, list(CONSONANT_SEMITONES))  # (A, M)
        fit.pair_s = float(overlap.sum()) * FRAME_S
        fit.consonant_s = float(overlap[consonant].sum()) * FRAME_S
    return fit


def in_window(notes: Sequence[Note], seconds: float) -> list[Note]:
    """Notes starting in [0, seconds), cut at its end."""
    return [Note(n.pitch, n.velocity, n.start_s, min(n.end_s, seconds)) for n in notes if n.start_s < seconds]


class _OnePart:
    """A score seen as one of its parts, its tempo marks the whole score's: what music21_notes reads."""

    def __init__(self, score, part):
        self.parts, self._score = [part], score

    def metronomeMarkBoundaries(self):  # noqa: N802 (music21's name)
        return self._score.metronomeMarkBoundaries()


def held_out_sources(split: str = "test") -> list[tuple[str, str, str]]:
    """(path, id, style) of the split's non-folk files, round-robin over their sources."""
    by_source: dict[str, list[tuple[str, str, str]]] = {}
    for path, rel, style in music21_sources():
        if style != "folk" and split_of(rel) == split:
            by_source.setdefault(rel.split("/")[0], []).append((path, rel, style))
    queues = list(by_source.values())
    return [q[i] for i in range(max(map(len, queues), default=0)) for q in queues if i < len(q)]


def held_out_pieces(seconds: float, split: str = "test") -> Iterator[tuple[str, str, list[list[Note]]]]:
    """(piece id, style, parts' notes in the window) of every held-out piece with two parts sounding in it."""
    from music21 import converter, stream

    for path, rel, style in held_out_sources(split):
        try:
            parsed = converter.parse(path, forceSource=True)
        except Exception as exc:  # a file music21 cannot read is skipped, as the corpus build skips it
            print(f"accompany_harmony: skipped {rel}: {type(exc).__name__}", file=sys.stderr)
            continue
        items = list(parsed.scores) if isinstance(parsed, stream.Opus) else [parsed]
        for i, score in enumerate(items):
            piece_id = rel + (f"#{i}" if len(items) > 1 else "")
            if split_of(piece_id) != split:
                continue
            parts = [in_window(music21_notes(_OnePart(score, part)), seconds) for part in score.parts]
            parts = [p for p in parts if p]
            if len(parts) >= 2:
                yield piece_id, style, parts


def sounding_s(notes: Sequence[Note]) -> float:
    """Seconds during which at least one of `notes` sounds."""
    total_s, reach_s = 0.0, -math.inf
    for n in sorted(notes, key=lambda n: n.start_s):
        if n.end_s > reach_s:
            total_s += n.end_s - max(n.start_s, reach_s)
            reach_s = n.end_s
    return total_s


def split_melody(parts: list[list[Note]], seconds: float) -> tuple[list[Note], list[Note]] | None:
    """(melody, real accompaniment): of the parts sounding for half the window or more, the one with the
    highest mean pitch, and the others merged; None without such a part (an imitative piece whose voices
    enter one by one would otherwise give a melody of one late note)."""
    candidates = [i for i, p in enumerate(parts) if sounding_s(p) >= seconds / 2]
    if not candidates:
        return None
    top = max(candidates, key=lambda i: np.mean([n.pitch for n in parts[i]]))
    rest = sorted((n for i, p in enumerate(parts) if i != top for n in p), key=lambda n: (n.start_s, n.pitch))
    return parts[top], rest


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pieces", type=int, default=24, help="held-out pieces (default 24)")
    parser.add_argument("--seconds", type=float, default=16.0, help="the window, from each piece's start (16)")
    parser.add_argument("--seed", type=int, default=1, help="piece n is accompanied with seed SEED + n (1)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--model", type=Path, help="weights (default: the shipped model)")
    parser.add_argument(
        "--consonance", type=float, default=CONSONANCE_NATS,
        help=f"the consonance prior's strength in nats (default {CONSONANCE_NATS:g}, as `composer accompany`)",
    )  # fmt: skip
    parser.add_argument(
        "--split", choices=("test", "valid"), default="test", help="held-out pieces: test (default), valid to tune"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.pieces <= 500:
        raise ComposerError("--pieces", f"must be 1..500, got {args.pieces}")
    if not (math.isfinite(args.seconds) and 1 <= args.seconds <= 120):
        raise ComposerError("--seconds", f"must be in [1, 120], got {args.seconds}")
    if args.threads < 1:
        raise ComposerError("--threads", f"must be at least 1, got {args.threads}")
    if not (math.isfinite(args.consonance) and 0 <= args.consonance <= 10):
        raise ComposerError("--consonance", f"must be in [0, 10] nats, got {args.consonance}")
    if args.model is not None and not args.model.is_file():
        raise ComposerError("--model", f"no file {args.model}")
    return args


def summary(fit: Fit, pieces: int, seconds: float) -> dict:
    return fit.shares() | {
        "chance": fit.chance(),
        "notes": fit.notes,
        "note_s": round(fit.note_s, 2),
        "notes_per_s": round(fit.notes / (pieces * seconds), 3),
    }


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = load_model(args.model)
    real, generated = Fit(), Fit()
    ids, melody_notes, generation_s = [], 0, 0.0
    for piece_id, style, parts in held_out_pieces(args.seconds, args.split):
        split = split_melody(parts, args.seconds)
        if split is None:
            continue
        melody, accompaniment = split
        options = SampleOptions(style=style, seed=args.seed + len(ids))
        t0 = time.perf_counter()
        result = accompany(
            model, melody, melody, 0.0, args.seconds, options, PITCH_RANGE, consonance_nats=args.consonance
        )
        generation_s += time.perf_counter() - t0
        real_fit = harmony_fit(accompaniment, melody, args.seconds)
        generated_fit = harmony_fit(in_window(result.notes, args.seconds), melody, args.seconds)
        real, generated = real + real_fit, generated + generated_fit
        ids.append(piece_id)
        melody_notes += len(melody)
        print(f"accompany_harmony: {len(ids)}/{args.pieces} {piece_id} real {real_fit.shares()} "
              f"generated {generated_fit.shares()}", file=sys.stderr)  # fmt: skip
        if len(ids) == args.pieces:
            break
    if not ids:
        raise ComposerError("music21", f"no held-out piece has two parts sounding in the first {args.seconds:g} s")
    real_out, generated_out = summary(real, len(ids), args.seconds), summary(generated, len(ids), args.seconds)
    ratio = {}
    for name in (*MEASURES, "notes_per_s"):
        a, b = generated_out[name], real_out[name]
        ratio[name] = round(a / b, 4) if a is not None and b else None
    return {
        "benchmark": "accompany_harmony",
        "model": str(args.model) if args.model else "shipped",
        "split": args.split,
        "consonance_nats": args.consonance,
        "pieces": len(ids),
        "piece_ids": ids,
        "seconds": args.seconds,
        "seed": args.seed,
        "harmony_window_s": HARMONY_WINDOW_S,
        "melody_notes": melody_notes,
        "real": real_out,
        "generated": generated_out,
        "ratio_generated_to_real": ratio,
        "generation_s": round(generation_s, 1),
        "wall_s": round(time.perf_counter() - started, 1),
        **machine_facts(),
    }


def main(argv: list[str] | None = None) -> int:
    return run_or_fail("accompany_harmony", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

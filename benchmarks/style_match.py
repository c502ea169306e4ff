"""Does the co-composer write like each style? Per-style statistics against held-out pieces (issue 16).

For each style the app offers, `--pieces` pieces of `--seconds` s are sampled from nothing with that style
token (seeds 2000, 2001, ...; the app's default temperature and top-p) and compared with held-out pieces of
the same style (the corpus's valid and test splits, by the manifest's style; cropped to the same length).
Each piece is described by six numbers:

    pitch_range      highest minus lowest pitch (semitones)
    notes_per_s      notes per second
    ioi_s            median time between successive distinct onsets (log scale)
    duration_s       median note length (log scale)
    polyphony        mean number of notes sounding at each onset
    pc_entropy       entropy of the piece's pitch-class histogram (bits)

Per statistic, the overlap of the two sets' distributions: Gaussian kernel densities of the per-piece values
(one bandwidth for both, Scott's rule on the pooled values) on a common grid, and the area they share (1 = the
same distribution, 0 = disjoint). A style's `overlap_mean` is the mean over the six. The ceiling: the same
measure between two halves of the held-out pieces (`real_vs_real`), which is below 1 because sets are small.
Goal (issue 16): mean overlap >= 0.7 for every style with >= 100 pieces in the corpus.

    python benchmarks/style_match.py [--pieces 16] [--seconds 30] [--model PATH] [--data data/corpus]

Ends with one JSON line: per style the overlaps, the generated and real medians, and the pieces compared.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

from composer.errors import ComposerError
from composer.model.sample import SampleOptions, load_model, stream
from composer.song import Note
from composer.tokens import decode, events_to_notes
from composer.train.dataset import TokenCorpus

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import machine_facts, run_or_fail  # noqa: E402
from music_stats import crop, onsets_s  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STYLES = ("chorale", "renaissance", "folk", "classical", "medieval")
FIRST_SEED = 2000
STATISTICS = ("pitch_range", "notes_per_s", "ioi_s", "duration_s", "polyphony", "pc_entropy")
LOG_SCALE = ("ioi_s", "duration_s")
GRID_POINTS = 512


def piece_statistics(notes: list[Note], seconds: float) -> dict[str, float]:
    """The six numbers of one piece (at least two notes)."""
    pitches = np.array([n.pitch for n in notes])
    starts = np.array([n.start_s for n in notes])
    ends = np.array([n.end_s for n in notes])
    onsets = onsets_s(notes)
    iois = np.diff(onsets)
    sounding = [int(((starts <= t + 1e-6) & (ends > t + 1e-6)).sum()) for t in onsets]
    classes = np.bincount(pitches % 12, minlength=12) / len(pitches)
    nonzero = classes[classes > 0]
    return {
        "pitch_range": float(pitches.max() - pitches.min()),
        "notes_per_s": len(notes) / seconds,
        "ioi_s": float(np.median(iois)) if len(iois) else seconds,
        "duration_s": float(np.median(ends - starts)),
        "polyphony": float(np.mean(sounding)),
        "pc_entropy": float(-(nonzero * np.log2(nonzero)).sum()),
    }


def density(samples: np.ndarray, grid: np.ndarray, width: float) -> np.ndarray:
    z = (grid[:, None] - samples[None, :]) / width  # (G, N)
    return np.exp(-0.5 * z**2).sum(axis=1) / (len(samples) * width * np.sqrt(2 * np.pi))


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """The area two sets' kernel densities share. Both use one bandwidth, Scott's rule on the pooled values:
    a set that is nearly constant (folk tunes are monophonic: polyphony 1.0 in every piece) would otherwise get
    a needle of a kernel that nothing else can overlap."""
    pooled = np.concatenate([a, b])
    spread = max(float(np.std(pooled)), 1e-3 * (1.0 + float(np.abs(pooled).max())))
    width = spread * len(pooled) ** (-1 / 5)
    low, high = pooled.min() - 4 * width, pooled.max() + 4 * width
    grid = np.linspace(low, high, GRID_POINTS)
    p, q = density(a, grid, width), density(b, grid, width)
    return float(np.minimum(p, q).sum() * (grid[1] - grid[0]))


def set_overlaps(first: list[dict], second: list[dict]) -> dict[str, float]:
    out = {}
    for name in STATISTICS:
        a = np.array([s[name] for s in first])
        b = np.array([s[name] for s in second])
        if name in LOG_SCALE:
            a, b = np.log(np.maximum(a, 1e-3)), np.log(np.maximum(b, 1e-3))
        out[name] = round(overlap(a, b), 4)
    return out


def held_out_by_style(data_dir: Path, seconds: float) -> dict[str, list[list[Note]]]:
    """Every held-out (valid + test) piece with two notes or more, cropped, by style."""
    out: dict[str, list[list[Note]]] = {style: [] for style in STYLES}
    for split in ("valid", "test"):
        corpus = TokenCorpus(data_dir, split)
        rows = [json.loads(line) for line in (data_dir / "manifest.jsonl").read_text().splitlines() if line]
        styles = [r["style"] for r in rows if r["split"] == split]
        for i, style in enumerate(styles):
            if style in out:
                notes = crop(decode(corpus.piece(i).tolist()), seconds)
                if len(notes) >= 2:
                    out[style].append(notes)
    return out


def corpus_pieces_per_style(data_dir: Path) -> dict[str, int]:
    rows = [json.loads(line) for line in (data_dir / "manifest.jsonl").read_text().splitlines() if line]
    return {style: sum(r["style"] == style for r in rows) for style in STYLES}


def generate(model, style: str, count: int, seconds: float) -> tuple[list[list[Note]], int]:
    pieces, tokens = [], 0
    for i in range(count):
        events = []
        for item in stream(model, (), SampleOptions(seconds=seconds, style=style, seed=FIRST_SEED + i)):
            events.extend(item.events)
            tokens += item.token >= 0
        pieces.append(crop(events_to_notes(events), seconds))
    return pieces, tokens


def medians(stats: list[dict]) -> dict[str, float]:
    return {name: round(float(np.median([s[name] for s in stats])), 3) for name in STATISTICS}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pieces", type=int, default=16, help="generated pieces per style (default 16)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each piece (default 30)")
    parser.add_argument("--model", type=Path, help="weights (default: the shipped model)")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "corpus", help="built corpus (data/corpus)")
    parser.add_argument("--styles", default=",".join(STYLES), help="comma-separated styles (default all five)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args(argv)
    if not 2 <= args.pieces <= 500:
        raise ComposerError("--pieces", f"must be 2..500, got {args.pieces}")
    if not (np.isfinite(args.seconds) and 2 <= args.seconds <= 600):
        raise ComposerError("--seconds", f"must be in [2, 600], got {args.seconds}")
    args.styles = [s.strip() for s in args.styles.split(",") if s.strip()]
    unknown = [s for s in args.styles if s not in STYLES]
    if unknown or not args.styles:
        named = unknown[0] if unknown else "(none)"
        raise ComposerError("--styles", f"unknown style {named}; one of {', '.join(STYLES)}")
    if args.threads < 1:
        raise ComposerError("--threads", f"must be at least 1, got {args.threads}")
    if not (args.data / "manifest.jsonl").is_file():
        raise ComposerError(args.data, "corpus not built; run `composer corpus build` first")
    return args


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    real = held_out_by_style(args.data, args.seconds)
    in_corpus = corpus_pieces_per_style(args.data)
    model = load_model(args.model)
    result: dict = {"benchmark": "style_match", "seconds": args.seconds, "pieces": args.pieces, "styles": {}}
    start, tokens = time.perf_counter(), 0
    for style in args.styles:
        reference = [piece_statistics(p, args.seconds) for p in real[style]]
        if len(reference) < 4:
            result["styles"][style] = {"held_out_pieces": len(reference), "skipped": "fewer than 4 held-out pieces"}
            continue
        pieces, sampled = generate(model, style, args.pieces, args.seconds)
        tokens += sampled
        generated = [piece_statistics(p, args.seconds) for p in pieces if len(p) >= 2]
        overlaps = set_overlaps(generated, reference) if len(generated) >= 2 else {}
        half = len(reference) // 2
        ceiling = set_overlaps(reference[:half], reference[half:]) if half >= 2 else {}
        result["styles"][style] = {
            "corpus_pieces": in_corpus[style],
            "held_out_pieces": len(reference),
            "generated_pieces": len(generated),
            "overlap": overlaps,
            "overlap_mean": round(float(np.mean(list(overlaps.values()))), 4) if overlaps else None,
            "real_vs_real_mean": round(float(np.mean(list(ceiling.values()))), 4) if ceiling else None,
            "generated_median": medians(generated) if generated else None,
            "real_median": medians(reference),
        }
        print(f"{style}: overlap {result['styles'][style]['overlap_mean']}", file=sys.stderr)
    graded = [s for s, r in result["styles"].items() if r.get("overlap_mean") is not None and r["corpus_pieces"] >= 100]
    result["goal_styles"] = graded
    result["goal_met"] = bool(graded) and all(result["styles"][s]["overlap_mean"] >= 0.7 for s in graded)
    result["generation_wall_s"] = round(time.perf_counter() - start, 1)
    result["generated_tokens"] = tokens
    result["model"] = str(args.model) if args.model else "shipped"
    return result | machine_facts()


def main(argv: list[str] | None = None) -> int:
    return run_or_fail("style_match", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

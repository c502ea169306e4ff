"""Musical statistics of the co-composer against held-out music (issue 3).

Generates `--pieces` pieces of `--seconds` s with no primer (styles chorale,
renaissance, folk, classical, medieval in turn; seeds 1000, 1001, ...) and
takes as many held-out pieces from the corpus's test split (spread evenly
over it, decoded with composer.tokens.decode, cropped to the same length).
Both sets are described by pooled, normalized histograms of:

    pitch class              12 bins
    pitch range per piece    highest minus lowest pitch, 4-semitone bins 0..88
    inter-onset interval     time between successive distinct onsets, 24 log-spaced bins 10 ms .. 8 s
    note length              24 log-spaced bins 10 ms .. 8 s

and each feature's `overlap_*` is the overlapped area of the two normalized
histograms, sum_i min(p_i, q_i), in [0, 1] (1 = identical distributions):
the simple set-vs-set overlap. Beside it, `yl_overlap_*` follows Yang & Lerch
(2018): per piece, the same feature (its own histogram, or its range); the
Euclidean distances between pieces within the generated set (intra-set) and
between generated and held-out pieces (inter-set); Gaussian kernel densities
of both distance sets (Scott's bandwidth); and the area the two densities
share. High means generated pieces differ from each other about as much as
they differ from real music.

Two failure modes of a small model are counted as well:
  stuck_share: the share of notes held until the 8 s cap closed them
               (duration >= cap - 10 ms);
  loop_share:  the share of 4-bar windows (4/4 at 120 BPM, onsets quantized
               to sixteenths, sliding one bar at a time) whose onsets and
               pitches repeat the previous 4 bars exactly.
Both are reported for the generated and the held-out set.

    python benchmarks/music_stats.py [--pieces 20] [--seconds 30] [--model PATH] [--data data/corpus]

Ends with one JSON line of all figures, CPU threads and torch version.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from composer.errors import ComposerError
from composer.model.sample import SampleOptions, load_model, stream
from composer.song import Note
from composer.tokens import DEFAULT_MAX_NOTE_S, STEP_S, decode, events_to_notes
from composer.train.dataset import TokenCorpus

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import run_or_fail  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
GENERATED_STYLES = ("chorale", "renaissance", "folk", "classical", "medieval")
FIRST_SEED = 1000
TIME_BINS_S = np.geomspace(STEP_S, DEFAULT_MAX_NOTE_S, 25)  # 24 log-spaced bins
RANGE_BINS = np.arange(0, 92, 4)  # semitones
LOOP_BEAT_S = 0.5  # 120 BPM
LOOP_BARS = 4
BEATS_PER_BAR = 4
STEPS_PER_BEAT = 4  # sixteenths


def crop(notes: list[Note], seconds: float) -> list[Note]:
    """The notes starting before `seconds`, ended there at the latest."""
    return [Note(n.pitch, n.velocity, n.start_s, min(n.end_s, seconds)) for n in notes if n.start_s < seconds]


def onsets_s(notes: list[Note]) -> np.ndarray:
    """Distinct onset times on the 10 ms token grid, sorted."""
    return np.unique(np.round(np.array([n.start_s for n in notes]) / STEP_S)) * STEP_S


def histogram(values: np.ndarray, bins: np.ndarray) -> np.ndarray:
    """Normalized histogram; values outside the bins are clipped into the end bins."""
    if len(values) == 0:
        return np.zeros(len(bins) - 1)
    clipped = np.clip(values, bins[0], bins[-1])
    counts, _ = np.histogram(clipped, bins=bins)
    return counts / counts.sum()


def features(pieces: list[list[Note]]) -> dict[str, np.ndarray]:
    """Pooled normalized histograms of a set of pieces."""
    pitches = np.array([n.pitch for p in pieces for n in p], dtype=np.int64)
    ranges = np.array([max(n.pitch for n in p) - min(n.pitch for n in p) for p in pieces if p], dtype=float)
    iois = np.concatenate([np.diff(onsets_s(p)) for p in pieces if len(p) > 1] or [np.zeros(0)])
    lengths = np.array([n.duration_s for p in pieces for n in p])
    return {
        "pitch_class": np.bincount(pitches % 12, minlength=12) / max(1, len(pitches)),
        "pitch_range": histogram(ranges, RANGE_BINS),
        "ioi": histogram(iois, TIME_BINS_S),
        "note_length": histogram(lengths, TIME_BINS_S),
    }


def overlap_area(p: np.ndarray, q: np.ndarray) -> float:
    return float(np.minimum(p, q).sum())


def piece_features(notes: list[Note]) -> dict[str, np.ndarray]:
    """One piece's features as vectors, for Yang & Lerch's pairwise distances."""
    feats = features([notes])
    feats["pitch_range"] = np.array([max(n.pitch for n in notes) - min(n.pitch for n in notes)], dtype=float)
    return feats


def kde(samples: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Gaussian kernel density of `samples` on `grid`, Scott's bandwidth (a floor for constant samples)."""
    spread = max(float(np.std(samples)), 1e-3 * (1.0 + float(np.abs(samples).max())))
    width = spread * len(samples) ** (-1 / 5)
    z = (grid[:, None] - samples[None, :]) / width  # (G, N)
    return np.exp(-0.5 * z**2).sum(axis=1) / (len(samples) * width * np.sqrt(2 * np.pi))


def yang_lerch_overlap(generated: list[list[Note]], reference: list[list[Note]]) -> dict[str, float | None]:
    """Per feature: the overlapped area of the intra-set (generated) and inter-set distance densities."""
    gen = [piece_features(p) for p in generated if p]
    ref = [piece_features(p) for p in reference if p]
    out: dict[str, float | None] = {}
    for name in gen[0] if gen else ():
        if len(gen) < 2 or not ref:
            out[name] = None
            continue
        intra = np.array([np.linalg.norm(a[name] - b[name]) for i, a in enumerate(gen) for b in gen[i + 1 :]])
        inter = np.array([np.linalg.norm(a[name] - b[name]) for a in gen for b in ref])
        top = max(intra.max(), inter.max())
        grid = np.linspace(-0.5 * top - 1e-3, 1.5 * top + 1e-3, 2001)
        shared = np.minimum(kde(intra, grid), kde(inter, grid))
        out[name] = round(float(shared.sum() * (grid[1] - grid[0])), 4)
    return out


def summary(pieces: list[list[Note]], seconds: float) -> dict[str, float]:
    """Plain descriptive figures of one set, to read the overlaps by."""
    notes = [n for p in pieces for n in p]
    iois = np.concatenate([np.diff(onsets_s(p)) for p in pieces if len(p) > 1] or [np.zeros(0)])
    ranges = [max(n.pitch for n in p) - min(n.pitch for n in p) for p in pieces if p]
    return {
        "pieces": len(pieces),
        "notes_per_s": round(len(notes) / (seconds * max(1, len(pieces))), 3),
        "mean_pitch": round(float(np.mean([n.pitch for n in notes])), 2) if notes else None,
        "mean_pitch_range": round(float(np.mean(ranges)), 2) if ranges else None,
        "median_ioi_s": round(float(np.median(iois)), 3) if len(iois) else None,
        "median_note_length_s": round(float(np.median([n.duration_s for n in notes])), 3) if notes else None,
        "stuck_share": round(stuck_share(notes), 4),
        "loop_share": round(loop_share(pieces), 4),
    }


def stuck_share(notes: list[Note], cap_s: float = DEFAULT_MAX_NOTE_S) -> float:
    """Share of notes the cap closed: held for the whole `cap_s` (within one 10 ms step)."""
    if not notes:
        return 0.0
    return sum(n.duration_s >= cap_s - STEP_S for n in notes) / len(notes)


def bar_patterns(notes: list[Note], beat_s: float = LOOP_BEAT_S) -> list[frozenset[tuple[int, int]]]:
    """Per bar: the set of (sixteenth within the bar, pitch) of its onsets."""
    step_s = beat_s / STEPS_PER_BEAT
    steps_per_bar = BEATS_PER_BAR * STEPS_PER_BEAT
    n_bars = int(max((n.start_s for n in notes), default=0.0) / (beat_s * BEATS_PER_BAR)) + 1
    bars: list[set[tuple[int, int]]] = [set() for _ in range(n_bars)]
    for n in notes:
        step = round(n.start_s / step_s)
        bar = min(step // steps_per_bar, n_bars - 1)
        bars[bar].add((step - bar * steps_per_bar, n.pitch))
    return [frozenset(b) for b in bars]


def loop_share(pieces: list[list[Note]], beat_s: float = LOOP_BEAT_S) -> float:
    """Share of non-empty 4-bar windows that repeat the previous 4 bars exactly."""
    windows = repeats = 0
    for notes in pieces:
        bars = bar_patterns(notes, beat_s)
        for start in range(LOOP_BARS, len(bars) - LOOP_BARS + 1):
            window = bars[start : start + LOOP_BARS]
            if not any(window):
                continue
            windows += 1
            repeats += window == bars[start - LOOP_BARS : start]
    return repeats / windows if windows else 0.0


def reference_pieces(data_dir: Path, count: int, seconds: float) -> list[list[Note]]:
    """`count` test-split pieces spread over the split, each cropped to `seconds`."""
    try:
        corpus = TokenCorpus(data_dir, "test")
    except (OSError, ValueError, KeyError) as exc:
        raise ComposerError(data_dir, f"not a built corpus ({exc})") from None
    if len(corpus) == 0:
        raise ComposerError(data_dir, "the test split holds no pieces")
    pieces = [crop(decode(corpus.piece(i).tolist()), seconds) for i in range(len(corpus))]
    pieces = [p for p in pieces if len(p) >= 2]
    picks = np.unique(np.linspace(0, len(pieces) - 1, min(count, len(pieces))).round().astype(int))
    return [pieces[i] for i in picks]


def generated_pieces(model, count: int, seconds: float, progress) -> tuple[list[list[Note]], int]:
    """`count` pieces from nothing, styles in turn, fixed seeds; also returns the tokens sampled."""
    pieces, tokens = [], 0
    for i in range(count):
        options = SampleOptions(seconds=seconds, style=GENERATED_STYLES[i % len(GENERATED_STYLES)], seed=FIRST_SEED + i)
        events = []
        for item in stream(model, (), options):
            events.extend(item.events)
            tokens += item.token >= 0
        pieces.append(events_to_notes(events))
        progress()
    return pieces, tokens


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pieces", type=int, default=20, help="pieces per set (default 20)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of each piece (default 30)")
    parser.add_argument("--model", type=Path, help="weights (default: the shipped model)")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "corpus", help="built corpus (data/corpus)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args(argv)
    if not 1 <= args.pieces <= 1000:
        raise ComposerError("--pieces", f"must be 1..1000, got {args.pieces}")
    if not (np.isfinite(args.seconds) and 2 * LOOP_BEAT_S <= args.seconds <= 600):
        raise ComposerError("--seconds", f"must be in [1, 600], got {args.seconds}")
    if args.threads < 1:
        raise ComposerError("--threads", f"must be at least 1, got {args.threads}")
    return args


def run(args: argparse.Namespace) -> dict:
    from tqdm import tqdm

    torch.set_num_threads(args.threads)
    reference = reference_pieces(args.data, args.pieces, args.seconds)  # fails fast, before the long part
    model = load_model(args.model)
    bar = tqdm(total=args.pieces, desc="generating", unit="piece", file=sys.stderr)
    start = time.perf_counter()
    generated, tokens = generated_pieces(model, args.pieces, args.seconds, lambda: bar.update(1))
    wall_s = time.perf_counter() - start
    bar.close()

    gen_features, ref_features = features(generated), features(reference)
    overlaps = {name: round(overlap_area(gen_features[name], ref_features[name]), 4) for name in gen_features}
    result = {"benchmark": "music_stats", "seconds": args.seconds}
    result["overlap_method"] = "histogram_overlapped_area; yl_: Yang-Lerch intra/inter KDE"
    result |= {f"overlap_{name}": value for name, value in overlaps.items()}
    result["overlap_mean"] = round(float(np.mean(list(overlaps.values()))), 4)
    result |= {f"yl_overlap_{name}": value for name, value in yang_lerch_overlap(generated, reference).items()}
    result |= {f"generated_{k}": v for k, v in summary(generated, args.seconds).items()}
    result |= {f"reference_{k}": v for k, v in summary(reference, args.seconds).items()}
    result["pitch_class_generated"] = [round(float(x), 4) for x in gen_features["pitch_class"]]
    result["pitch_class_reference"] = [round(float(x), 4) for x in ref_features["pitch_class"]]
    result |= {"generated_tokens": tokens, "generation_wall_s": round(wall_s, 2)}
    result["tokens_per_s"] = round(tokens / wall_s, 1) if wall_s > 0 else None
    result |= {"model": str(args.model) if args.model else "shipped", "params": model.num_params()}
    result |= {"context": model.cfg.max_len, "cpu_threads": args.threads, "torch": torch.__version__}
    return result


def main(argv: list[str] | None = None) -> int:
    return run_or_fail("music_stats", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

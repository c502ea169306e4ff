"""How full are the co-composer's bars? Notes per bar of the app's Generate, per style (issue 14).

For each style the app offers (chorale, renaissance, folk, classical, medieval) and seeds 1..--seeds, one
request through the app's Generate path: `tui.widgets.ai_jobs.sample_filled`, the function the AI panel's
worker runs when `G` is pressed, with the request built as the panel builds it (tui.widgets.ai_panel.Request
and its sampler options: the app's default AISettings with that style and seed, --bars bars at --bpm in 4/4,
from the start of an empty track, nothing before it to hear). Per style:

    notes_per_bar      mean, p10, p90 over every bar of every request (the notes that start in that bar)
    retry_share        share of requests whose first pass left bars unfilled, so sampling went on from the
                       hole (the panel's refill rounds)
    short_share        share that came back short: bars still unfilled after every round (the line "Generate
                       filled 2.5 of 4 bars: ..." in the app)
    retry_or_short_share, empty_bar_share (bars with no note starting in them), ms_per_request

Beside it, the corpus's notes per bar for that style: the corpus is in seconds (music21's tempo marks, 120
BPM where a score has none), so a "bar" there is a window of one bar at --bpm in 4/4 (2 s at 120 BPM), cut
from the start of each piece; every piece of the style in data/corpus (all splits) when there are at most
--corpus-pieces, else that many spread evenly over them. When data/corpus is not built the corpus figures
are null, unless --music21 K parses K files per style from music21's own corpus instead (slow: minutes).

    python benchmarks/notes_per_bar.py [--seeds 32] [--bars 4] [--bpm 120] [--model PATH] [--data data/corpus]

Ends with one JSON line: per style the figures above, the corpus's beside them, CPU threads, torch version.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch

from composer.errors import ComposerError
from composer.model.candidates import AISettings
from composer.model.sample import load_model
from composer.song import Note, Song, Track
from composer.tokens import decode
from composer.train.dataset import TokenCorpus
from tui.widgets.ai_jobs import sample_filled
from tui.widgets.ai_panel import Request

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import machine_facts, run_or_fail  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STYLES = ("chorale", "renaissance", "folk", "classical", "medieval")
BEATS_PER_BAR = 4


def notes_per_bar(notes: list[Note], start_s: float, bar_s: float, bars: int) -> list[int]:
    """How many notes start in each of the `bars` bars from `start_s`."""
    counts = [0] * bars
    for n in notes:
        bar = math.floor((n.start_s - start_s) / bar_s + 1e-9)
        if 0 <= bar < bars:
            counts[bar] += 1
    return counts


def describe(counts: list[int]) -> dict[str, float] | None:
    if not counts:
        return None
    values = np.asarray(counts, dtype=float)
    return {
        "mean": round(float(values.mean()), 2),
        "p10": round(float(np.percentile(values, 10)), 2),
        "p90": round(float(np.percentile(values, 90)), 2),
        "bars": len(counts),
    }


class Collect:
    """The panel's sink, without the panel: a candidate's notes as the job hands them over."""

    def __init__(self) -> None:
        self.notes: list[Note] = []

    def begin(self, index: int) -> None:
        self.notes = []

    def add(self, index: int, notes: list[Note], progress: float) -> None:
        self.notes += notes

    def replace(self, index: int, notes: list[Note], progress: float) -> None:
        self.notes = list(notes)


def generate_request(style: str, seed: int, bars: int, bpm: float) -> Request:
    """What pressing G at the start of an empty track asks for (tui/screens/main_actions/ai.py `_ai_start`)."""
    song = Song(tempo_bpm=bpm, tracks=[Track(name="T")])
    settings = AISettings(style=style, seed=seed, bars=bars)
    request = Request(
        "generate", song.tracks[0], 0, 0.0, primer=[], settings=settings, seconds=settings.seconds(song), count=1,
        bar_s=song.beats_to_s(song.beats_per_bar), beat_s=song.beats_to_s(1.0),
    )  # fmt: skip
    request.draw_seeds()
    return request


def sample_style(model, style: str, seeds: int, bars: int, bpm: float) -> dict:
    bar_counts: list[int] = []
    retried = short = either = 0
    started = time.perf_counter()
    for seed in range(1, seeds + 1):
        request = generate_request(style, seed, bars, bpm)
        sink, rounds = Collect(), []
        sink.begin(0)
        why = sample_filled(model, request.job(request.sample_options()), sink, 0, threading.Event(), rounds.append)
        bar_counts += notes_per_bar(sink.notes, request.at_s, request.bar_s, bars)
        retried += len(rounds) > 1
        short += why is not None
        either += len(rounds) > 1 or why is not None
    return {
        "notes_per_bar": describe(bar_counts),
        "empty_bar_share": round(sum(c == 0 for c in bar_counts) / len(bar_counts), 3),
        "retry_share": round(retried / seeds, 3),
        "short_share": round(short / seeds, 3),
        "retry_or_short_share": round(either / seeds, 3),
        "ms_per_request": round((time.perf_counter() - started) * 1000 / seeds, 1),
    }


def spread(items: list, count: int) -> list:
    """At most `count` of `items`, evenly spread (all of them when there are no more)."""
    if len(items) <= count:
        return items
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)] if count > 1 else items[:1]


def piece_bar_counts(notes: list[Note], bar_s: float) -> list[int]:
    """Notes per bar-long window from a piece's start to its last note's end (whole windows only)."""
    if not notes:
        return []
    bars = int(max(n.end_s for n in notes) / bar_s + 1e-9)
    return notes_per_bar(notes, 0.0, bar_s, bars)


def corpus_from_data(data_dir: Path, bar_s: float, max_pieces: int) -> dict[str, dict]:
    rows = [json.loads(line) for line in (data_dir / "manifest.jsonl").read_text().splitlines() if line]
    by_style: dict[str, list[tuple[str, int]]] = {style: [] for style in STYLES}
    for split in ("train", "valid", "test"):
        in_split = [r for r in rows if r["split"] == split]
        for i, row in enumerate(in_split):
            if row["style"] in by_style:
                by_style[row["style"]].append((split, i))
    corpora = {split: TokenCorpus(data_dir, split) for split in ("train", "valid", "test")}
    out: dict[str, dict] = {}
    for style, pieces in by_style.items():
        counts: list[int] = []
        chosen = spread(pieces, max_pieces)
        for split, i in chosen:
            counts += piece_bar_counts(decode(corpora[split].piece(i).tolist()), bar_s)
        out[style] = {"notes_per_bar": describe(counts), "pieces": len(chosen), "pieces_of_style": len(pieces)}
    return out


def corpus_from_music21(files_per_style: int, bar_s: float) -> dict[str, dict]:
    from composer.train.corpus import music21_sources, parse_file

    sources = music21_sources()
    out: dict[str, dict] = {}
    for style in STYLES:
        counts, pieces = [], 0
        for job in spread([s for s in sources if s[2] == style], files_per_style):
            parsed, _ = parse_file(job)
            for piece in parsed:
                counts += piece_bar_counts(decode(piece.tokens.tolist()), bar_s)
                pieces += 1
        out[style] = {"notes_per_bar": describe(counts), "pieces": pieces, "files": files_per_style}
    return out


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=32, help="requests per style, seeds 1..N (default 32)")
    parser.add_argument("--bars", type=int, default=4, help="bars a request asks for (default 4, the app's)")
    parser.add_argument("--bpm", type=float, default=120.0, help="the song's tempo (default 120)")
    parser.add_argument("--model", type=Path, help="weights (default: the shipped model, as the app loads it)")
    parser.add_argument("--device", default="cpu", help="torch device (default cpu, as in the app)")
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "corpus", help="built corpus (data/corpus)")
    parser.add_argument("--corpus-pieces", type=int, default=400, help="corpus pieces per style, at most (400)")
    parser.add_argument("--music21", type=int, default=0, help="without data/corpus: music21 files per style (0)")
    parser.add_argument("--styles", default=",".join(STYLES), help="comma-separated styles (default all five)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (default 2)")
    args = parser.parse_args(argv)
    if not 1 <= args.seeds <= 1000:
        raise ComposerError("--seeds", f"must be 1..1000, got {args.seeds}")
    if not 1 <= args.bars <= 64:
        raise ComposerError("--bars", f"must be 1..64 (the app's range), got {args.bars}")
    if not (math.isfinite(args.bpm) and 20 <= args.bpm <= 300):
        raise ComposerError("--bpm", f"must be in [20, 300], got {args.bpm}")
    if args.corpus_pieces < 1 or args.music21 < 0:
        raise ComposerError("--corpus-pieces", "must be at least 1 (and --music21 at least 0)")
    args.styles = [s.strip() for s in args.styles.split(",") if s.strip()]
    unknown = [s for s in args.styles if s not in STYLES]
    if unknown or not args.styles:
        raise ComposerError(
            "--styles", f"unknown style {unknown[0] if unknown else '(none)'}; one of {', '.join(STYLES)}"
        )
    if args.threads < 1:
        raise ComposerError("--threads", f"must be at least 1, got {args.threads}")
    return args


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    bar_s = BEATS_PER_BAR * 60.0 / args.bpm
    if (args.data / "manifest.jsonl").is_file():
        corpus, corpus_source = corpus_from_data(args.data, bar_s, args.corpus_pieces), str(args.data)
    elif args.music21:
        corpus, corpus_source = corpus_from_music21(args.music21, bar_s), f"music21 ({args.music21} files a style)"
    else:
        corpus, corpus_source = {}, None
    model = load_model(args.model, args.device)
    result: dict = {
        "benchmark": "notes_per_bar", "seeds": args.seeds, "bars": args.bars, "bpm": args.bpm,
        "settings": "the app's defaults (temperature 1, top-p 0.95, any key), style and seed set",
        "corpus_source": corpus_source, "corpus_bar_s": bar_s, "styles": {},
    }  # fmt: skip
    started = time.perf_counter()
    for style in args.styles:
        entry = sample_style(model, style, args.seeds, args.bars, args.bpm)
        entry["corpus"] = corpus.get(style)
        result["styles"][style] = entry
        mean = entry["notes_per_bar"]["mean"]
        print(f"{style}: {mean} notes a bar, retry or short {entry['retry_or_short_share']}", file=sys.stderr)
    result["generation_wall_s"] = round(time.perf_counter() - started, 1)
    result["model"] = str(args.model) if args.model else "shipped"
    return result | machine_facts(args.device)


def main(argv: list[str] | None = None) -> int:
    return run_or_fail("notes_per_bar", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

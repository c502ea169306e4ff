"""`composer corpus build [--midi-dir DIR]`: token shards for training."""

from __future__ import annotations

import argparse
from pathlib import Path

from composer.errors import ComposerError
from tui.commands.common import count_bar


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("corpus", help="build the training corpus")
    corpus_sub = p.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    b = corpus_sub.add_parser("build", help="tokenize the music21 corpus (and a MIDI folder) into shards")
    b.add_argument("--midi-dir", type=Path, help="also include every .mid file under this folder")
    b.add_argument("--no-music21", action="store_true", help="only the --midi-dir files")
    b.add_argument("--out", type=Path, default=Path("data/corpus"), help="output folder (default data/corpus)")
    b.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPU count)")
    b.add_argument("--limit", type=int, default=None, help="only the first N files (for a quick try)")
    b.set_defaults(run=run_build)


def run_build(args: argparse.Namespace) -> int:
    from composer.train.corpus import build_corpus

    if args.midi_dir is not None and not args.midi_dir.is_dir():
        raise ComposerError(args.midi_dir, "not a folder")
    if args.no_music21 and args.midi_dir is None:
        raise ComposerError("--no-music21", "needs --midi-dir")
    with count_bar(total=0, unit="file", desc="corpus") as progress:
        summary = build_corpus(
            args.out,
            midi_dir=args.midi_dir,
            include_music21=not args.no_music21,
            workers=args.workers,
            limit=args.limit,
            progress=progress,
        )
    tokens = summary["tokens"]
    print(
        f"{summary['pieces']} pieces from {summary['files']} files in {summary['seconds']} s; "
        f"tokens train {tokens['train']:,} valid {tokens['valid']:,} test {tokens['test']:,}; "
        f"{summary['failed']} failed"
    )
    for line in summary["failures"][:20]:
        print(f"  failed: {line}")
    if summary["failed"] > 20:
        print(f"  ... and {summary['failed'] - 20} more, listed in {args.out / 'summary.json'}")
    print(f"wrote {args.out}")
    return 0

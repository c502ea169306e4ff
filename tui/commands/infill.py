"""`composer infill`: regenerate the bars between --from and --to so they lead out of and into their neighbours."""

from __future__ import annotations

import argparse
from pathlib import Path

from composer.errors import ComposerError
from composer.tokens import STYLES
from tui.commands.common import add_sampling_options, check_midi_output, progress_bar, sample_options, use_threads


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("infill", help="regenerate the bars between --from and --to of a MIDI file")
    p.add_argument("input", type=Path, help="IN.mid or a project .json")
    p.add_argument(
        "--from", dest="from_bar", type=int, required=True, metavar="BAR", help="first bar to regenerate (from 1)"
    )
    p.add_argument(
        "--to", dest="to_bar", type=int, required=True, metavar="BAR", help="regenerate up to the start of this bar"
    )
    p.add_argument(
        "--candidates", type=int, default=8, metavar="K", help="fills to sample and rerank (default 8; 1: continuation)"
    )
    p.add_argument("--suffix-seconds", type=float, default=4.0, help="how much of what follows scores a fill")
    add_sampling_options(p, STYLES)
    p.add_argument("-o", "--output", type=Path, required=True, help="OUT.mid")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from composer.files.loader import load_song
    from composer.model.infill import MAX_CANDIDATES

    options = sample_options(args)
    use_threads(args)
    if not 1 <= args.candidates <= MAX_CANDIDATES:
        raise ComposerError("--candidates", f"must be 1..{MAX_CANDIDATES}, got {args.candidates}")
    if not 0 < args.suffix_seconds <= 60:
        raise ComposerError("--suffix-seconds", f"must be in (0, 60], got {args.suffix_seconds}")
    check_midi_output(args.output)
    song = load_song(args.input)

    from composer.model.constrained import bar_span_s

    start_s, end_s = bar_span_s(song, args.from_bar, args.to_bar)
    from composer.model.sample import MAX_SECONDS

    if end_s - start_s > MAX_SECONDS:
        raise ComposerError("--to", f"a gap of {end_s - start_s:.0f} s; at most {MAX_SECONDS:g} s at a time")

    from composer.files.midi_io import write_midi
    from composer.model.infill import infill_song
    from composer.model.sample import load_model

    model = load_model(args.model)
    with progress_bar(args.output.name) as progress:
        out, result = infill_song(model, song, start_s, end_s, options, args.candidates, args.suffix_seconds, progress)
    write_midi(out, args.output)
    best = result.candidates[result.best]
    print(
        f"wrote {args.output}: {len(best.notes)} notes in {start_s:.1f}..{end_s:.1f} s, "
        f"candidate {result.best + 1} of {len(result.candidates)} (log p of what follows {best.score:.1f})"
    )
    return 0

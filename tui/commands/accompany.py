"""`composer accompany`: a new track that plays along with a melody track (the melody is forced)."""

from __future__ import annotations

import argparse
from pathlib import Path

from composer.errors import ComposerError
from composer.tokens import STYLES
from tui.commands.common import add_sampling_options, check_midi_output, progress_bar, sample_options, use_threads


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("accompany", help="generate an accompaniment for one track of a MIDI file")
    p.add_argument("input", type=Path, help="IN.mid or a project .json")
    p.add_argument(
        "--track",
        type=int,
        required=True,
        metavar="N",
        help="the melody track, counted from 1 as `composer info` lists",
    )
    p.add_argument(
        "--program", type=int, default=0, metavar="P", help="GM program of the accompaniment (default 0, piano)"
    )
    p.add_argument("--seconds", type=float, help="accompany the first S seconds (default: the whole melody)")
    p.add_argument("--from", dest="from_bar", type=int, metavar="BAR", help="first bar to accompany (from 1)")
    p.add_argument("--to", dest="to_bar", type=int, metavar="BAR", help="stop at the start of this bar")
    p.add_argument("--low", type=int, default=21, help="lowest accompaniment pitch (MIDI, default 21)")
    p.add_argument("--high", type=int, default=108, help="highest accompaniment pitch (MIDI, default 108)")
    add_sampling_options(p, STYLES)
    p.add_argument("-o", "--output", type=Path, required=True, help="OUT.mid")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from composer.files.loader import load_song

    options = sample_options(args)
    use_threads(args)
    if args.program is not None and not 0 <= args.program <= 127:
        raise ComposerError("--program", f"must be 0..127, got {args.program}")
    if not 0 <= args.low <= args.high <= 127:
        raise ComposerError("--low/--high", f"need 0 <= low <= high <= 127, got {args.low}..{args.high}")
    if args.seconds is not None and (args.from_bar is not None or args.to_bar is not None):
        raise ComposerError("--seconds", "give either --seconds or --from/--to, not both")
    if (args.from_bar is None) != (args.to_bar is None):
        raise ComposerError("--from" if args.from_bar is None else "--to", "--from and --to go together")
    check_midi_output(args.output)
    song = load_song(args.input)
    if not 1 <= args.track <= len(song.tracks):
        raise ComposerError("--track", f"no track {args.track} in {args.input}; it has {len(song.tracks)} (from 1)")
    melody = song.tracks[args.track - 1]
    if not melody.notes:
        raise ComposerError("--track", f"track {args.track} of {args.input} has no notes")
    if args.from_bar is not None:
        from composer.model.constrained import bar_span_s

        start_s, end_s = bar_span_s(song, args.from_bar, args.to_bar)
    elif args.seconds is not None:
        start_s, end_s = 0.0, args.seconds
    else:
        start_s, end_s = 0.0, melody.end_s
    from composer.model.sample import MAX_SECONDS

    if args.seconds is None and end_s - start_s > MAX_SECONDS:
        length = f"{end_s - start_s:.0f} s to accompany"
        raise ComposerError(args.input, f"{length}, at most {MAX_SECONDS:g} at a time: use --from/--to")
    options.seconds = end_s - start_s
    options.validate()  # an explicit --seconds is checked here

    from composer.files.midi_io import write_midi
    from composer.model.accompany import accompany_song
    from composer.model.sample import load_model

    model = load_model(args.model)
    with progress_bar(args.output.name) as progress:
        out, result = accompany_song(
            model, song, args.track - 1, start_s, end_s, options, (args.low, args.high), args.program, progress
        )
    write_midi(out, args.output)
    print(f"wrote {args.output}: {len(result.notes)} accompaniment notes, {start_s:.1f}..{end_s:.1f} s")
    return 0

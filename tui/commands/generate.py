"""`composer generate`: continue a primer or compose from nothing with the co-composer."""

from __future__ import annotations

import argparse
from pathlib import Path

from composer.errors import ComposerError
from composer.tokens import STYLES
from tui.commands.common import add_threads_option, check_midi_output, progress_bar, sample_options, use_threads


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("generate", help="continue a MIDI primer or generate from nothing")
    p.add_argument("--primer", type=Path, help="a .mid or .json file to continue (kept in the output)")
    p.add_argument("--seconds", type=float, default=30.0, help="length of the new music in seconds (default 30)")
    p.add_argument("--style", help=f"one of: {', '.join(STYLES)} (default: guessed from the primer)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-k", type=int, default=0, help="sample from the K likeliest tokens (0: off)")
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass in (0, 1] (1: off)")
    p.add_argument("--seed", type=int, help="the same seed gives the same file")
    p.add_argument("--variations", type=int, default=1, help="write N files OUT-1.mid ... OUT-N.mid")
    p.add_argument("--key", help="keep notes in a key, e.g. C:major, F#:minor")
    p.add_argument(
        "--program",
        type=int,
        help="GM program of the new track (default: the primer's first); its new notes stay in that instrument's range",
    )
    p.add_argument("--model", type=Path, help="weights (default: models/transformer/model.safetensors)")
    add_threads_option(p)
    p.add_argument("-o", "--output", type=Path, required=True, help="OUT.mid")
    p.set_defaults(run=run)


def output_paths(output: Path, variations: int) -> list[Path]:
    if variations == 1:
        return [output]
    return [output.with_name(f"{output.stem}-{i}{output.suffix}") for i in range(1, variations + 1)]


def run(args: argparse.Namespace) -> int:
    from composer.files.loader import load_song
    from composer.model.sample import SampleOptions

    options = sample_options(args, seconds=args.seconds)
    if not 1 <= args.variations <= 64:
        raise ComposerError("--variations", f"must be 1..64, got {args.variations}")
    if args.program is not None and not 0 <= args.program <= 127:
        raise ComposerError("--program", f"must be 0..127, got {args.program}")
    check_midi_output(args.output)
    use_threads(args)
    primer_song = load_song(args.primer) if args.primer is not None else None

    from composer.files.midi_io import write_midi
    from composer.gm import playable_range
    from composer.model.register import from_model, in_register
    from composer.model.sample import generate_notes, load_model
    from composer.song import Song, Track

    pitched = [t for t in primer_song.tracks if not t.is_drum] if primer_song is not None else []
    program = args.program if args.program is not None else (pitched[0].program if pitched else 0)
    options = SampleOptions(**{**options.__dict__, "pitch_range": playable_range(program)})
    options.validate()
    model = load_model(args.model)
    primer_notes = primer_song.all_notes() if primer_song is not None else []
    for i, path in enumerate(output_paths(args.output, args.variations)):
        seed = None if args.seed is None else args.seed + i
        run_options = SampleOptions(**{**options.__dict__, "seed": seed})
        model_primer, run_options, shift = in_register(primer_notes, run_options)  # in the instrument's register
        with progress_bar(path.name) as progress:
            notes = from_model(generate_notes(model, model_primer, run_options, progress=progress), shift)
        song = _copy(primer_song) if primer_song is not None else Song()
        song.tracks.append(Track(name="Co-composer", program=program, notes=notes))
        write_midi(song, path)
        print(f"wrote {path}: {len(notes)} new notes, {max((n.end_s for n in notes), default=0):.1f} s")
    return 0


def _copy(song):
    import copy

    return copy.deepcopy(song)

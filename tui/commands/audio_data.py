"""`composer audio-data build | widen | from-prompt`: training audio for the neural instruments and the vocoder."""

from __future__ import annotations

import argparse
from pathlib import Path

from composer.errors import ComposerError
from tui.commands.common import count_bar, require_fluidsynth


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audio-data", help="build the neural instruments' training audio (needs FluidSynth)")
    actions = p.add_subparsers(dest="audio_data_command", metavar="ACTION", required=True)
    b = actions.add_parser(
        "build",
        help="render corpus pieces and generated material through FluidSynth into shards",
        description="Render music21 corpus pieces (transposed into each instrument's range) and generated "
        "material through FluidSynth (FluidR3 GM) at 24 kHz mono into train/valid/test shards. "
        "Needs `make setup-train-audio`.",
    )
    b.add_argument("--out", type=Path, default=Path("data/audio"), help="output folder (default data/audio)")
    b.add_argument(
        "--minutes-per-program", type=float, default=60.0, metavar="M", help="minutes of audio per program (default 60)"
    )
    b.add_argument(
        "--programs",
        default=None,
        metavar="P,P,...",
        help="GM programs (default: one of each of the 16 GM families, synth.data.audio_data.PROGRAMS)",
    )
    b.add_argument("--seed", type=int, default=0, help="choice of pieces, transpositions and material (default 0)")
    b.set_defaults(run=run_build)
    w = actions.add_parser(
        "widen",
        help="add generated parts of every other GM family and drum grooves, for the vocoder",
        description="Link a build's shards into a new folder and add train shards of generated melodies, chords, "
        "arpeggios for every program of the prompt data that the build lacks, and drum grooves, so the vocoder "
        "learns to decode every family (synth/data/vocoder_data.py). Needs `make setup-train-audio`.",
    )
    w.add_argument("--base", type=Path, default=Path("data/audio"), help="the build to widen (default data/audio)")
    w.add_argument("--out", type=Path, default=Path("data/audio-wide"), help="output folder (default data/audio-wide)")
    w.add_argument("--pieces-per-program", type=int, default=6, help="pieces of 4 clips per added program (6)")
    w.add_argument("--drum-pieces", type=int, default=60, help="pieces of 4 drum grooves (60)")
    w.set_defaults(run=run_widen)
    f = actions.add_parser(
        "from-prompt",
        help="the prompt data's rendered clips as a build, to fine-tune the vocoder on what it decodes",
        description="Write the train clips of a prompt-data build (`composer prompt-data build`) as an audio-data "
        "build for the vocoder: every family and the drum kit, no second render. The clips have no notes, so the "
        "build is for the vocoder only (synth/data/prompt_audio_data.py). The heldout split is not read.",
    )
    f.add_argument("--prompt", type=Path, default=Path("data/prompt"), help="the prompt data (default data/prompt)")
    f.add_argument("--out", type=Path, default=Path("data/audio-prompt"), help="output (default data/audio-prompt)")
    f.add_argument("--clips", type=int, default=None, help="train clips to take (default: all)")
    f.add_argument("--valid-clips", type=int, default=200, help="clips set aside as the valid split (default 200)")
    f.add_argument("--seed", type=int, default=0, help="which clips go to valid (default 0)")
    f.set_defaults(run=run_from_prompt)


def parse_programs(text: str | None) -> list[int] | None:
    if text is None:
        return None
    try:
        programs = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ComposerError("--programs", f"{text!r}: expected GM program numbers 0-127, comma-separated") from None
    if not programs or not all(0 <= p <= 127 for p in programs):
        raise ComposerError("--programs", f"{text!r}: expected GM program numbers 0-127, comma-separated")
    return programs


def run_build(args: argparse.Namespace) -> int:
    from synth.data.audio_data import PROGRAMS, build_audio_data

    programs = parse_programs(args.programs) or list(PROGRAMS)
    if not 0 < args.minutes_per_program <= 6000:
        raise ComposerError("--minutes-per-program", f"{args.minutes_per_program}: expected more than 0, at most 6000")
    if args.out.exists() and not args.out.is_dir():
        raise ComposerError(args.out, "is a file, expected a folder")
    require_fluidsynth()
    bar_format = "{l_bar}{bar}| {n:.0f}/{total:.0f} s of notes [{elapsed}]"
    with count_bar(total=0, unit="s", desc="audio", bar_format=bar_format) as progress:
        summary = build_audio_data(
            args.out, programs=programs, minutes_per_program=args.minutes_per_program, seed=args.seed, progress=progress
        )
    minutes = {s: sum(by_p.values()) / 60 for s, by_p in summary["seconds"].items()}
    print(
        f"{summary['pieces']} pieces ({summary['pieces_per_kind']['corpus']} corpus, "
        f"{summary['pieces_per_kind']['material']} material) for {len(programs)} programs in "
        f"{summary['build_seconds']} s; minutes train {minutes['train']:.1f} valid {minutes['valid']:.1f} "
        f"test {minutes['test']:.1f}; {summary['bytes'] / 1e6:.1f} MB; {summary['failed']} corpus files failed"
    )
    for line in summary["failures"][:10]:
        print(f"  failed: {line}")
    print(f"wrote {args.out}")
    return 0


def run_widen(args: argparse.Namespace) -> int:
    from synth.data.vocoder_data import widen_audio_data

    if args.pieces_per_program < 0 or args.drum_pieces < 0 or args.pieces_per_program + args.drum_pieces == 0:
        raise ComposerError("--pieces-per-program", "expected counts of 0 or more, not both 0")
    require_fluidsynth()
    with count_bar(total=0, unit="piece", desc="widen") as progress:
        summary = widen_audio_data(args.base, args.out, args.pieces_per_program, args.drum_pieces, progress=progress)
    print(
        f"added {summary['added_pieces']} pieces ({summary['added_train_minutes']:.1f} min) of programs "
        f"{summary['added_programs']} in {summary['widen_seconds']} s; wrote {args.out}"
    )
    return 0


def run_from_prompt(args: argparse.Namespace) -> int:
    from synth.data.prompt_audio_data import audio_data_from_prompt, require_train_audio

    if args.clips is not None and args.clips < 1:
        raise ComposerError("--clips", f"{args.clips}: expected 1 or more")
    if args.valid_clips < 1:
        raise ComposerError("--valid-clips", f"{args.valid_clips}: expected 1 or more")
    require_train_audio(args.prompt)
    with count_bar(total=0, unit="clip", desc="from-prompt") as progress:
        summary = audio_data_from_prompt(args.prompt, args.out, args.clips, args.valid_clips, args.seed, progress)
    minutes = {split: sum(by_program.values()) / 60 for split, by_program in summary["seconds"].items()}
    print(
        f"{summary['clips']['train']} train and {summary['clips']['valid']} valid clips "
        f"({minutes['train']:.1f} / {minutes['valid']:.1f} min, "
        f"{len(summary['programs'])} programs) in {summary['build_seconds']} s; wrote {args.out}"
    )
    return 0

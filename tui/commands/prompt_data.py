"""`composer prompt-data build [--out DIR] [--clips-train N] [--clips-judge N] [--clips-heldout N] [--seed S]`.

Captioned FluidSynth clips (log-mel and caption embeddings) for the text-prompted diffusion model and its judge
(synth/data/prompt_data.py).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from composer.errors import ComposerError
from tui.commands.common import count_bar, require_fluidsynth

MAX_CLIPS = 1_000_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prompt-data", help="build the prompted-audio model's captioned clips (needs FluidSynth)")
    actions = p.add_subparsers(dest="prompt_data_command", metavar="ACTION", required=True)
    b = actions.add_parser(
        "build",
        help="render generated parts and corpus excerpts through FluidSynth, with captions, into shards",
        description="Render generated melodies, chords, arpeggios and drum grooves and music21 corpus excerpts "
        "through FluidSynth (23 GM programs and the drum kit) into 5.46-s clips at 24 kHz, stored as log-mel "
        "with the embeddings of 4 captions each, in train / judge_train / heldout splits. "
        "Needs `make setup-train-audio`.",
    )
    b.add_argument("--out", type=Path, default=Path("data/prompt"), help="output folder (default data/prompt)")
    b.add_argument("--clips-train", type=int, default=4000, metavar="N", help="diffusion training clips (default 4000)")
    b.add_argument("--clips-judge", type=int, default=1500, metavar="N", help="judge training clips (default 1500)")
    b.add_argument(
        "--clips-heldout", type=int, default=400, metavar="N", help="held-out clips, held-out captions (default 400)"
    )
    b.add_argument("--seed", type=int, default=0, help="patterns, programs, excerpts and captions (default 0)")
    b.add_argument(
        "--keep-audio",
        action="store_true",
        help="store every split's audio, not only heldout's (for `composer audio-data from-prompt`)",
    )
    b.set_defaults(run=run_build)


def clip_counts(args: argparse.Namespace) -> dict[str, int]:
    counts = {"train": args.clips_train, "judge_train": args.clips_judge, "heldout": args.clips_heldout}
    for flag, n in zip(("--clips-train", "--clips-judge", "--clips-heldout"), counts.values(), strict=True):
        if not 0 <= n <= MAX_CLIPS:
            raise ComposerError(flag, f"{n}: expected 0 to {MAX_CLIPS}")
    if sum(counts.values()) == 0:
        raise ComposerError("--clips-train", "every split has 0 clips; ask for at least one")
    return counts


def run_build(args: argparse.Namespace) -> int:
    counts = clip_counts(args)
    if args.out.exists() and not args.out.is_dir():
        raise ComposerError(args.out, "is a file, expected a folder")
    if args.seed < 0:
        raise ComposerError("--seed", f"{args.seed}: expected 0 or more")
    from synth.data.prompt_data import build_prompt_data

    require_fluidsynth()
    with count_bar(total=sum(counts.values()), unit="clip", desc="prompt data") as progress:
        manifest = build_prompt_data(args.out, counts, seed=args.seed, progress=progress, keep_audio=args.keep_audio)
    print(
        f"{sum(counts.values())} clips (train {counts['train']}, judge_train {counts['judge_train']}, "
        f"heldout {counts['heldout']}) in {manifest['build_seconds']} s; "
        f"corpus excerpts {sum(s['corpus'] for s in manifest['clips_per_source'].values())}"
    )
    for split, by_family in manifest["clips_per_family"].items():
        print(f"  {split}: " + ", ".join(f"{f} {n}" for f, n in by_family.items()))
    print(f"wrote {args.out}")
    return 0

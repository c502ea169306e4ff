"""`composer prompt "TEXT" --seconds S -o OUT.wav`: an audio clip made from a text prompt.

    composer prompt "slow cello melody in D minor" --seconds 8 -o cello.wav
    composer prompt "fast drum groove" --seconds 4 --loop --seed 3 -o drums.wav --project song.json --at 2.0
    composer prompt "drum groove" --bars 4 --bpm 128 --loop -o groove.wav   # 7.5 s at exactly 128 BPM
    composer prompt "drum groove" --bars 2 --loop --repeats 8 --project song.json   # 16 bars of a 2-bar loop

The request is checked (prompt, length, steps, guidance, seed, weights) and the
weights are loaded before anything is generated; a bad one is one line and
exit status 2. The WAV (24 kHz) is written to a temporary name and renamed,
so there is never a partial file. With --project the clip is also added to
the project (made when the file does not exist yet) at --at seconds, with its
prompt, seed, steps, guidance and loop, so the app can make it again; the
project is saved atomically and only after the generation succeeded.

Key: the clip is moved to --key, else to the key its text names ("... in D minor"): its key is measured and
its pitch moved by the nearest interval there (synth/prompt/key_conform.py).
Tempo: the clip is made at --bpm, else at the BPM its text names ("... at 128 BPM"), else at the project's
tempo (synth.prompt.tempo_conform); --bars gives the length in bars at that tempo.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import replace
from pathlib import Path

from composer.errors import ComposerError
from tui.commands.common import add_threads_option, check_folder, check_wav_output, count_bar, describe_wav, use_threads

REQUEST_FIELDS = ("seconds", "steps", "guidance", "seed", "bpm", "key")  # ComposerError paths that are options here


def register(sub: argparse._SubParsersAction) -> None:
    from synth.prompt.prompt_audio import DEFAULT_GUIDANCE, DEFAULT_KEY_GUIDANCE, DEFAULT_STEPS, MAX_SECONDS, MAX_STEPS

    p = sub.add_parser("prompt", help="make an audio clip from a text prompt (optionally into a project)")
    p.add_argument("text", metavar="TEXT", help='what to hear, e.g. "soft organ chords"')
    length = p.add_mutually_exclusive_group(required=True)
    length.add_argument("--seconds", type=float, help=f"length in seconds (up to {MAX_SECONDS:g})")
    length.add_argument("--bars", type=int, help="length in bars at the tempo (the project's bars, else 4/4)")
    p.add_argument(
        "--bpm",
        type=float,
        help="the clip's tempo, held exactly (default: the BPM the text names, else the project's tempo, else free)",
    )
    p.add_argument(
        "--key",
        help="the clip's key, e.g. D:minor or F#:major: its pitch is moved there (default: the key the text names)",
    )
    p.add_argument(
        "--steps", type=int, default=DEFAULT_STEPS, help=f"sampler steps, 1-{MAX_STEPS} (default {DEFAULT_STEPS})"
    )
    p.add_argument(
        "--guidance",
        type=float,
        default=DEFAULT_GUIDANCE,
        help=f"how closely to follow the text; 0 ignores it, 1 plain (default {DEFAULT_GUIDANCE:g})",
    )
    p.add_argument(
        "--key-guidance",
        type=float,
        default=DEFAULT_KEY_GUIDANCE,
        metavar="K",
        help="hold a key this much harder, 0-50: the key is followed better and the instrument worse "
        f"(default {DEFAULT_KEY_GUIDANCE:g})",
    )
    p.add_argument("--seed", type=int, default=0, help="the same seed makes the same audio (default 0)")
    p.add_argument("--loop", action="store_true", help="make the end run seamlessly into the start")
    p.add_argument("-o", "--output", metavar="OUT.wav", help="the WAV file to write (24 kHz)")
    p.add_argument("--bit-depth", type=int, choices=(16, 24), default=16, help="PCM bits per sample (default 16)")
    p.add_argument("--project", metavar="P.json", help="also add the clip to this project file (made if missing)")
    p.add_argument("--at", type=float, default=None, metavar="SECONDS", help="where the clip starts in the project")
    p.add_argument(
        "--repeats", type=int, default=1, metavar="N", help="with --loop and --project: the loop heard N times in a row"
    )
    add_threads_option(p)
    p.add_argument("--diffusion", metavar="PATH", help="diffusion weights (default models/diffusion/...)")
    p.add_argument("--vocoder", metavar="PATH", help="vocoder weights (default models/prompt_vocoder/, else vocoder/)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from synth.prompt.key_conform import key_named
    from synth.prompt.prompt_audio import MAX_KEY_GUIDANCE, PromptRequest, meter_of, validate_request

    song, project = None, None
    if args.project:
        project = Path(args.project)
        song = open_project(project)
    bpm, seconds = tempo_and_length(args, song)
    key = args.key if args.key is not None else key_named(args.text)
    beats = meter_of(song.beats_per_bar) if song is not None else None
    request = PromptRequest(args.text, seconds, args.steps, args.guidance, args.seed, args.loop, bpm, key, beats)
    try:
        request = validate_request(request, args.diffusion, args.vocoder)
    except ComposerError as exc:
        if exc.path in REQUEST_FIELDS:
            raise ComposerError(f"--{exc.path}", exc.problem) from None
        raise
    if not (math.isfinite(args.key_guidance) and 0 <= args.key_guidance <= MAX_KEY_GUIDANCE):
        raise ComposerError("--key-guidance", f"expected 0 to {MAX_KEY_GUIDANCE:g}, got {args.key_guidance:g}")
    use_threads(args)
    if args.output is None and args.project is None:
        raise ComposerError("-o", "give the WAV file to write (-o OUT.wav), a project (--project P.json), or both")
    output = Path(args.output) if args.output else None
    if output is not None:
        check_wav_output(output)
    if project is not None:
        start_s = 0.0 if args.at is None else args.at
        if not (math.isfinite(start_s) and 0 <= start_s <= 1e6):
            raise ComposerError("--at", f"expected a start time of 0 seconds or more, got {args.at}")
    elif args.at is not None:
        raise ComposerError("--at", "places the clip in a project: give --project P.json too")
    if args.repeats != 1:
        if not args.loop or project is None:
            raise ComposerError("--repeats", "repeats a loop in a project: give --loop and --project P.json too")
        if not 1 <= args.repeats <= 10_000:
            raise ComposerError("--repeats", f"expected 1 to 10000, got {args.repeats}")

    from synth.prompt.prompt_audio import SAMPLE_RATE, PromptGenerator, prompted_clip
    from synth.render import write_wav

    started = time.perf_counter()
    generator = PromptGenerator(args.diffusion, args.vocoder, key_guidance=args.key_guidance)  # bad weights: one line
    with count_bar(total=request.steps, file=sys.stderr, desc="prompt", unit="step", leave=False) as progress:
        audio = generator.generate(request, progress)
    elapsed = time.perf_counter() - started
    if request.bpm is not None:
        print(f"tempo {request.bpm:g} BPM (made at {generator.last_tempo:.1f}, played x{generator.last_ratio:.3f})")
    if request.key is not None:
        made = generator.last_key.name if generator.last_key is not None else "no clear key"
        print(f"key {request.key} (made in {made}, moved {generator.last_shift:+d} semitones)")
    if output is not None:
        write_wav(output, audio, SAMPLE_RATE, args.bit_depth)
        print(f"{describe_wav(output, audio, SAMPLE_RATE, args.bit_depth)} in {elapsed:.1f} s")
    if project is not None:
        from composer.files.project import save_project

        clip = replace(prompted_clip(request, audio, start_s), repeats=args.repeats)
        song.clips.append(clip)
        save_project(song, project)
        print(f"added {clip.name!r} ({clip.duration_s:.2f} s at {start_s:g} s, seed {clip.seed}) to {project}")
    return 0


def tempo_and_length(args: argparse.Namespace, song) -> tuple[float | None, float]:
    """(bpm or None, seconds): --bpm, else the BPM the text names, else the project's tempo; --bars at it."""
    from synth.prompt.tempo_conform import tempo_in_prompt

    bpm = args.bpm
    if bpm is None:
        bpm = tempo_in_prompt(args.text)
    if bpm is None and song is not None:
        bpm = float(song.tempo_bpm)
    if args.bars is None:
        return bpm, args.seconds
    if args.bars < 1:
        raise ComposerError("--bars", f"expected 1 bar or more, got {args.bars}")
    if bpm is None or not (math.isfinite(bpm) and bpm > 0):
        raise ComposerError("--bars", "needs a tempo: give --bpm, name it in the text, or a --project")
    beats_per_bar = song.beats_per_bar if song is not None else 4
    return bpm, args.bars * beats_per_bar * 60.0 / bpm


def open_project(path: Path):
    """The project at `path`, or a new empty song when there is no file yet (its folder must exist)."""
    from composer.files.project import load_project
    from composer.song import Song

    if path.suffix.lower() != ".json":
        raise ComposerError(path, "expected a .json project file")
    if path.exists():
        return load_project(path)
    check_folder(path)
    return Song()

"""`composer render IN.mid|IN.json -o OUT.wav`: render a song to a WAV file, offline.

    composer render IN.mid|IN.json -o OUT.wav [--sample-rate 48000] [--bit-depth 16|24] [--stems] [--synth dsp|neural]

The song goes through the same engine as live playback, as fast as the CPU
allows, with every release tail rendered to its end. --stems also writes
each track alone as OUT-<track>.wav beside the mix. Everything is checked
before the render starts; files are written to a temporary name and renamed.
Without --synth each track plays with its own synth (a project's track may
say "neural"; where the neural weights are missing it plays with the DSP
synth and one line says why); --synth neural without usable weights exits 2
with that line.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from composer.errors import ComposerError
from tui.commands.common import check_wav_output, count_bar, describe_wav

MIN_SAMPLE_RATE = 8000
MAX_SAMPLE_RATE = 192000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="render a MIDI or project file to a WAV file")
    p.add_argument("file", help="a .mid or .json file")
    p.add_argument("-o", "--output", required=True, metavar="OUT.wav", help="the WAV file to write")
    p.add_argument("--sample-rate", type=int, default=48000, help="sample rate in Hz (default 48000)")
    p.add_argument("--bit-depth", type=int, choices=(16, 24), default=16, help="PCM bits per sample (default 16)")
    p.add_argument("--stems", action="store_true", help="also write each track alone as OUT-<track>.wav")
    p.add_argument(
        "--synth",
        choices=("dsp", "neural"),
        default=None,
        help="instrument for every track (default: each track's own)",
    )
    p.set_defaults(run=run)


def stem_path(output: Path, name: str) -> Path:
    """OUT-<name>.wav beside OUT.wav, with the name made safe for a file name."""
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "track"
    return output.with_name(f"{output.stem}-{slug}{output.suffix}")


def run(args: argparse.Namespace) -> int:
    from composer.files.loader import load_song

    if not MIN_SAMPLE_RATE <= args.sample_rate <= MAX_SAMPLE_RATE:
        raise ComposerError(
            "--sample-rate", f"expected {MIN_SAMPLE_RATE} to {MAX_SAMPLE_RATE} Hz, got {args.sample_rate}"
        )
    output = Path(args.output)
    check_wav_output(output)
    song = load_song(args.file)
    if not any(t.notes for t in song.tracks) and not any(c.samples is not None for c in song.clips):
        raise ComposerError(args.file, "nothing to render: no notes and no audio clips")

    from synth.render import render_song, render_stems, stem_names, write_wav

    factory = synth_factory(args.synth, args.sample_rate, song)

    stems_to_render = [t for t in song.tracks if t.notes] if args.stems else []
    total_s = song.duration_s * (1 + len(stems_to_render))
    bar_format = "{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s of audio [{elapsed}<{remaining}]"
    with count_bar(total=total_s, file=sys.stderr, desc="render", leave=False, bar_format=bar_format) as report:

        def progress(seconds: float, base: float = 0.0) -> None:
            report(min(base + seconds, total_s), total_s)

        audio = render_song(song, sample_rate=args.sample_rate, synth_factory=factory, progress=progress)
        stems = {}
        if stems_to_render:
            mix_s = audio.shape[0] / args.sample_rate
            stems = render_stems(
                song, sample_rate=args.sample_rate, synth_factory=factory, progress=lambda s: progress(s, base=mix_s)
            )
    write_wav(output, audio, args.sample_rate, args.bit_depth)
    print(describe_wav(output, audio, args.sample_rate, args.bit_depth))
    names = dict(zip(stem_names(song), song.tracks, strict=True))
    used = {output}
    for name, stem in stems.items():
        if not names[name].notes:
            continue
        path = stem_path(output, name)
        for i in range(2, len(stems) + 2):  # "Bass/Low" and "Bass-Low" must not share a file
            if path not in used:
                break
            path = stem_path(output, f"{name} {i}")
        used.add(path)
        write_wav(path, stem, args.sample_rate, args.bit_depth)
        print(describe_wav(path, stem, args.sample_rate, args.bit_depth))
    return 0


def synth_factory(choice: str | None, sample_rate: int, song):
    """The engine's synth factory for --synth: None (each track's own), "dsp" or "neural" (exit 2 if unusable)."""
    from synth.instruments.dsp.dsp import DspSynth

    if choice == "dsp" or (choice is None and not any(t.synth == "neural" for t in song.tracks)):
        return lambda track: DspSynth(track.program, track.is_drum, sample_rate)  # torch is not even imported
    from synth.instruments.neural.neural_synth import NeuralSynthFactory, load_neural_models, offline_device

    device = offline_device()  # a GPU renders each neural track's whole piece in one call
    models = load_neural_models(device=device) if choice == "neural" else None  # ComposerError: one line, exit 2
    return NeuralSynthFactory(
        sample_rate,
        models=models,
        notify=lambda line: print(f"composer: {line}", file=sys.stderr),
        force=models is not None,
        device=device,
    )

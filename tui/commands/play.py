"""`composer play IN.mid|IN.json`: play a song in real time on the default audio device.

A progress line shows the position; Ctrl+C stops. Without an audio device it
prints one line ("composer: no audio device (...)") and exits 2.
"""

from __future__ import annotations

import argparse
import sys
import time

TAIL_S = 1.5  # let release tails ring out after the last note


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("play", help="play a MIDI or project file on the default audio device")
    p.add_argument("file", help="a .mid or .json file")
    p.add_argument("--block-frames", type=int, default=256, help="frames per audio block (default 256)")
    p.add_argument("--sample-rate", type=int, default=48000, help="output sample rate in Hz (default 48000)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from composer.errors import ComposerError
    from composer.files.loader import load_song
    from synth.engine.audio_out import AudioOutput, default_output_device

    if not 16 <= args.block_frames <= 8192:
        raise ComposerError("--block-frames", f"expected 16 to 8192 frames, got {args.block_frames}")
    if not 8000 <= args.sample_rate <= 192000:
        raise ComposerError("--sample-rate", f"expected 8000 to 192000 Hz, got {args.sample_rate}")
    song = load_song(args.file)
    default_output_device()  # no device: one line, exit 2, before any work
    from synth.engine.engine import Engine
    from synth.engine.realtime import freeze_heap, tune_process

    tune_process()  # the app's GIL switch interval
    engine = Engine(song, sample_rate=args.sample_rate, block_frames=args.block_frames)
    end_s = song.duration_s + TAIL_S
    output = AudioOutput(engine.render_block, sample_rate=args.sample_rate, block_frames=args.block_frames)
    freeze_heap()  # the song and what start-up made are long-lived: garbage collections stop walking them
    engine.play()
    interrupted = False
    with output:
        print(f"playing {args.file} on {output.device_name} ({output.output_latency_s * 1000:.1f} ms output latency)")
        try:
            while engine.position_s < end_s and not output.failed:
                show_progress(engine.position_s, song.duration_s, output.underflows + output.underruns)
                time.sleep(0.1)
        except KeyboardInterrupt:
            interrupted = True
        engine.stop()
    show_progress(min(engine.position_s, song.duration_s), song.duration_s, output.underflows + output.underruns)
    sys.stdout.write("\n")
    if output.failed and output.render_error is not None:  # one failed block is silence, not the end
        raise output.render_error
    print("stopped" if interrupted else "done", f"({output.underruns} underruns, render load {output.render_load:.0%})")
    return 0


def show_progress(position_s: float, duration_s: float, xruns: int) -> None:
    width = 30
    done = int(width * min(position_s / duration_s, 1.0)) if duration_s > 0 else width
    bar = "#" * done + "-" * (width - done)
    line = f"\r[{bar}] {fmt(position_s)} / {fmt(duration_s)}"
    sys.stdout.write(line + (f"  {xruns} xruns" if xruns else "") + "   ")
    sys.stdout.flush()


def fmt(seconds: float) -> str:
    minutes, sec = divmod(max(seconds, 0.0), 60.0)
    return f"{int(minutes)}:{sec:04.1f}"

"""`composer live`: play a MIDI keyboard through the engine, without the app.

    composer live [--midi-in PORT] [--program N] [--synth dsp|neural] [--record OUT.mid]

PORT is a name, a name prefix or an index from `composer devices`; without
it the first MIDI input is used, and where there is none a virtual input
port is opened for other programs to connect to. Ctrl+C (also from a
background job, where the shell starts it with SIGINT ignored) or SIGTERM
stops; with --record, what was played (notes, sustain folded into note ends,
pitch bends) is written to OUT.mid atomically, also when the session ends on an
error. The engine's and the output's notices (a synth that failed and moved to
the DSP synth, a deeper ahead buffer) go to stderr, one line each.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tui.commands.common import stop_signals, warn

VIRTUAL_PORT = "composer live in"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("live", help="play a MIDI keyboard through the engine")
    p.add_argument("--midi-in", metavar="PORT", help="MIDI input: name, name prefix or index (default: the first)")
    p.add_argument("--program", type=int, default=0, help="General MIDI program 0-127 (default 0, piano)")
    p.add_argument("--synth", choices=("dsp", "neural"), default="dsp", help="instrument (default dsp)")
    p.add_argument("--record", metavar="OUT.mid", help="write what was played to this MIDI file on Ctrl+C")
    p.add_argument("--block-frames", type=int, default=128, help="frames per audio block (default 128)")
    p.add_argument("--sample-rate", type=int, default=48000, help="output sample rate in Hz (default 48000)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from composer.errors import ComposerError
    from composer.song import Song, Track
    from synth.engine.audio_out import AudioOutput, default_output_device
    from synth.engine.live import LiveSession
    from synth.engine.midi_ports import MidiInput, list_ports, midi_api
    from synth.engine.recorder import Recorder, write_take

    if not 0 <= args.program <= 127:
        raise ComposerError("--program", f"expected a General MIDI program 0-127, got {args.program}")
    if not 16 <= args.block_frames <= 8192:
        raise ComposerError("--block-frames", f"expected 16 to 8192 frames, got {args.block_frames}")
    record = Path(args.record) if args.record else None
    if record is not None and not (record.parent if str(record.parent) else Path(".")).is_dir():
        raise ComposerError(record, f"folder {record.parent} does not exist")
    default_output_device()  # no device: one line, exit 2
    from synth.engine.engine import Engine
    from synth.engine.realtime import freeze_heap, tune_process

    tune_process()  # the app's GIL switch interval: the render thread gets the GIL back within ~1 ms

    api, problem = midi_api()
    if api is None:
        raise ComposerError(None, f"no MIDI input ({problem})")
    song = Song(tracks=[Track(name="Live", program=args.program, synth=args.synth)])
    engine = Engine(
        song,
        sample_rate=args.sample_rate,
        block_frames=args.block_frames,
        on_notice=warn,
        **synth_choice(args.synth, args.sample_rate, args.block_frames),
    )
    session = LiveSession(engine, track_index=0)
    recorder = Recorder(song, 0) if record is not None else None
    if args.midi_in is None and not list_ports().inputs:
        port = MidiInput.virtual(VIRTUAL_PORT, session.handle, api=api)
        print(f"no MIDI input found: opened the virtual {api.label} port {port.name!r}; connect a keyboard to it")
    else:
        port = MidiInput(args.midi_in, session.handle, api=api)
    output = AudioOutput(engine.render_block, args.sample_rate, args.block_frames, ahead_blocks=1, on_notice=warn)
    freeze_heap()  # what start-up made is long-lived: garbage collections stop walking it
    started = False
    try:
        with stop_signals() as stop, port, output:
            started = True
            if recorder is not None:
                session.arm(recorder)
            latency_ms = (output.ahead_latency_s + output.output_latency_s) * 1000
            print(
                f"live: MIDI {port.name!r} ({api.label}) -> {output.device_name}, at most {latency_ms:.1f} ms; "
                "Ctrl+C stops",
                flush=True,
            )
            while not stop.wait(0.5) and not output.failed:
                if not port.check():
                    port.rescan()
    finally:
        session.disarm()
        if recorder is not None and started:  # whatever ended the session, what was played is kept
            write_take(song, recorder, record)
            print(f"\nwrote {len(song.tracks[0].notes)} notes to {record}", flush=True)
    if output.failed and output.render_error is not None:
        raise output.render_error
    return 0


def synth_choice(name: str, sample_rate: int = 48000, block_frames: int = 128) -> dict:
    """Engine keyword arguments for --synth; neural without usable weights: ComposerError (one line, exit 2)."""
    if name == "dsp":
        return {}
    from synth.instruments.neural.neural_synth import NeuralSynthFactory, load_neural_models

    factory = NeuralSynthFactory(sample_rate, models=load_neural_models(), force=True, block_frames=block_frames)
    return {"synth_factory": factory}

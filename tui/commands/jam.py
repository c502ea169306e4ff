"""`composer jam`: call and response with the co-composer, live, without the app.

    composer jam [--midi-in PORT] [--program N] [--answer-program N] [--gap-ms MS] [--temperature T]
                 [--key auto|off|C:major] [--style NAME] [--model PATH] [--record OUT.mid]

Play a phrase; when you stop for the gap (default: one beat at your tempo,
600 ms before there is one), the transformer answers it in your key, on its
own instrument, until you play again. Ctrl+C (also from a background job) or
SIGTERM stops; with --record, both parts (tracks "Player" and "Answer") are
written to OUT.mid atomically, also when the session ends on an error.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from composer.tokens import STYLES

VIRTUAL_PORT = "composer jam in"
# Listing ports opens a new MIDI client; under JACK that stalls MIDI delivery for a moment, so not often.
PORT_CHECK_S = 3.0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("jam", help="play a phrase on a MIDI keyboard; the co-composer answers it")
    p.add_argument("--midi-in", metavar="PORT", help="MIDI input: name, name prefix or index (default: the first)")
    p.add_argument("--program", type=int, default=0, help="your General MIDI program 0-127 (default 0, piano)")
    p.add_argument("--answer-program", type=int, default=73, help="the answer's GM program (default 73, flute)")
    p.add_argument("--gap-ms", type=float, help="silence that ends a phrase, ms (default: one beat, or 600)")
    p.add_argument("--answer-seconds", type=float, help="length of an answer (default: as long as the phrase)")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass in (0, 1] (1: off)")
    p.add_argument("--key", default="auto", help="auto (your key, estimated), off, or a key such as C:major")
    p.add_argument("--style", help=f"one of: {', '.join(STYLES)} (default folk)")
    p.add_argument("--seed", type=int, help="the same seed and playing give the same answers")
    p.add_argument("--model", type=Path, help="weights (default: models/transformer/model.safetensors)")
    p.add_argument("--record", metavar="OUT.mid", help="write both parts to this MIDI file on Ctrl+C")
    p.add_argument("--block-frames", type=int, default=128, help="frames per audio block (default 128)")
    p.add_argument("--sample-rate", type=int, default=48000, help="output sample rate in Hz (default 48000)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from composer.errors import ComposerError
    from composer.model.sample import SampleOptions, load_model

    for name in ("program", "answer_program"):
        if not 0 <= getattr(args, name) <= 127:
            flag = "--" + name.replace("_", "-")
            raise ComposerError(flag, f"expected a General MIDI program 0-127, got {getattr(args, name)}")
    if args.gap_ms is not None and not 50 <= args.gap_ms <= 10000:
        raise ComposerError("--gap-ms", f"expected 50 to 10000 ms, got {args.gap_ms}")
    if args.answer_seconds is not None and not 0.1 <= args.answer_seconds <= 60:
        raise ComposerError("--answer-seconds", f"expected 0.1 to 60 s, got {args.answer_seconds}")
    if not 16 <= args.block_frames <= 8192:
        raise ComposerError("--block-frames", f"expected 16 to 8192 frames, got {args.block_frames}")
    fixed_key = None if args.key in ("auto", "off") else args.key
    options = SampleOptions(temperature=args.temperature, top_p=args.top_p, seed=args.seed, style=args.style)
    options.key = fixed_key
    options.validate()
    record = Path(args.record) if args.record else None
    if record is not None and not (record.parent if str(record.parent) else Path(".")).is_dir():
        raise ComposerError(record, f"folder {record.parent} does not exist")
    model = load_model(args.model)  # missing or wrong weights: one line, exit 2
    return _jam(args, model, options, record)


def _jam(args: argparse.Namespace, model, options, record: Path | None) -> int:
    from composer.errors import ComposerError
    from composer.files.midi_io import write_midi
    from composer.song import Song, Track
    from synth.engine.audio_out import AudioOutput, default_output_device
    from synth.engine.jam import JamSession
    from synth.engine.midi_ports import MidiInput, list_ports, midi_api
    from tui.commands.common import stop_signals, warn

    default_output_device()  # no device: one line, exit 2
    from synth.engine.engine import Engine
    from synth.engine.realtime import freeze_heap, tune_process

    tune_process()  # the app's GIL switch interval: the render thread gets the GIL back within ~1 ms
    api, problem = midi_api()
    if api is None:
        raise ComposerError(None, f"no MIDI input ({problem})")
    song = Song(
        tracks=[
            Track(name="Player", program=args.program, channel=0),
            Track(name="Answer", program=args.answer_program, channel=1),
        ]
    )
    engine = Engine(song, sample_rate=args.sample_rate, block_frames=args.block_frames, on_notice=warn)
    jam = JamSession(
        engine,
        model,
        player_track=0,
        answer_track=1,
        gap_s=None if args.gap_ms is None else args.gap_ms / 1000.0,
        options=options,
        answer_s=args.answer_seconds,
        constrain_key=args.key != "off",
    )
    if args.midi_in is None and not list_ports().inputs:
        port = MidiInput.virtual(VIRTUAL_PORT, jam.handle, api=api)
        print(f"no MIDI input found: opened the virtual {api.label} port {port.name!r}; connect a keyboard to it")
    else:
        port = MidiInput(args.midi_in, jam.handle, api=api)
    output = AudioOutput(engine.render_block, args.sample_rate, args.block_frames, ahead_blocks=1, on_notice=warn)
    freeze_heap()  # the model and what start-up made are long-lived: garbage collections stop walking them
    started = False
    try:
        with stop_signals() as stop, port, output, jam:
            started = True
            gap = f"{args.gap_ms:g} ms" if args.gap_ms is not None else "one beat"
            key = {"auto": "your key", "off": "any key"}.get(args.key, args.key)
            print(
                f"jam: MIDI {port.name!r} ({api.label}) -> {output.device_name}; answers after {gap}, in {key}; "
                "Ctrl+C stops",
                flush=True,
            )
            reported, next_check_s = 0, time.monotonic() + PORT_CHECK_S
            while not stop.wait(0.2) and not output.failed and jam.error is None:
                if time.monotonic() >= next_check_s:
                    next_check_s += PORT_CHECK_S
                    if not port.check():
                        port.rescan()
                answers = list(jam.answers)
                for answer in answers[reported:]:
                    if answer.latency_ms is None:
                        break
                    print(
                        f"answer {reported + 1}: {answer.key or 'any key'}, first note {answer.latency_ms:.0f} ms "
                        "after the gap",
                        flush=True,
                    )
                    reported += 1
    finally:
        if record is not None and started:  # whatever ended the session (jam.stop closed held notes), keep it
            write_midi(song, record)
            player, answer = (len(t.notes) for t in song.tracks)
            print(f"\nwrote {player} player notes and {answer} answer notes to {record}", flush=True)
    if jam.error is not None:
        raise jam.error
    if output.failed and output.render_error is not None:
        raise output.render_error
    return 0

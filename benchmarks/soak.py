"""Soak: 64 simultaneous voices through a private JACK dummy server for --seconds (default 300).

With --neural-voices N the voices are N held notes on one neural track
(GM piano, the installed models, torch on the render thread) instead: the
JSON line then says whether the engine announced a fallback to the DSP synth
(its overload guard, or models that cannot load), with the engine's notices.

Counts output underflows (callback status flags; goal 0) and ring underruns
(the render thread was late), and the JACK server's own xruns as a client of
its own sees them (synth.engine.jack_xruns), during the run and, with
--idle-reference S, for S seconds before it with no engine client at all: an
underflow on JACK is a server xrun, and on the dummy backend the server misses
periods by itself when its timer wakes late (a busy or virtual machine), so the
reference says how many of the run's underflows the engine had no part in. Reports the render thread's time per block
(median, p99, max, in ms) and load (render time / block time, mean and max),
and how deep the adaptive margin made the ring. The process is set up as the
app sets itself up (synth.engine.realtime: a 1 ms GIL switch interval, the
start-up heap frozen). Ends by printing one JSON line.

Usage: python benchmarks/soak.py [--seconds S] [--block-frames N] [--ahead-blocks N] [--backend rtmixer|python]
       [--neural-voices N] [--idle-reference S]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np
import sounddevice

from composer.song import Song, Track
from synth.engine.audio_out import AudioOutput
from synth.engine.engine import Engine
from synth.engine.jack_dummy import JackDummyServer
from synth.engine.jack_xruns import JackXrunMonitor
from synth.engine.realtime import freeze_heap, tune_process

SAMPLE_RATE = 48000
VOICES = 64
PROGRAMS = (19, 48, 89, 80)  # organ, strings, warm pad, square lead: voices that sustain while held
NEURAL_PROGRAM = 0  # piano: its held notes keep their renderer slots sounding for the whole run
NEURAL_LOWEST, NEURAL_STEP = 40, 3  # 16 voices: MIDI 40 .. 85
FALLBACK_MARKS = ("moved to the DSP synth", "neural synth unavailable")  # the engine's fallback notices


def soak_song(neural_voices: int) -> tuple[Song, list[tuple[int, int]]]:
    """The song and the (track, pitch) notes held for the run: 64 DSP voices, or N on one neural track."""
    if neural_voices:
        song = Song(tracks=[Track(name="Neural piano", program=NEURAL_PROGRAM, synth="neural")])
        return song, [(0, NEURAL_LOWEST + NEURAL_STEP * k) for k in range(neural_voices)]
    per_track = VOICES // len(PROGRAMS)
    song = Song(tracks=[Track(name=f"T{p}", program=p) for p in PROGRAMS])
    return song, [(track, 36 + 3 * k + track) for track in range(len(PROGRAMS)) for k in range(per_track)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--block-frames", type=int, default=256)
    parser.add_argument("--ahead-blocks", type=int, default=2)
    parser.add_argument("--backend", choices=("rtmixer", "python"), help="the audio callback (default: rtmixer)")
    parser.add_argument("--jack-realtime", action="store_true", help="start jackd with -R (SCHED_FIFO), as a studio")
    parser.add_argument("--neural-voices", type=int, default=0, help="N held notes on one neural track instead")
    parser.add_argument(
        "--idle-reference", type=float, default=0.0, metavar="S",
        help="first count the server's xruns for S seconds with no engine client (default 0: not measured)",
    )  # fmt: skip
    args = parser.parse_args()
    if not 0 <= args.neural_voices <= 16:
        parser.error(f"--neural-voices must be 0-16 (the renderer's note slots), not {args.neural_voices}")
    tune_process()

    song, held = soak_song(args.neural_voices)
    engine = Engine(song, sample_rate=SAMPLE_RATE, block_frames=args.block_frames)  # loads the models now
    voices = len(held)
    server = JackDummyServer(sample_rate=SAMPLE_RATE, period_frames=args.block_frames, realtime=args.jack_realtime)
    with server, JackXrunMonitor() as xruns:
        idle_xruns, idle_s = None, 0.0
        if args.idle_reference > 0 and xruns.available:
            t_idle = time.perf_counter()
            time.sleep(args.idle_reference)
            idle_s, idle_xruns = time.perf_counter() - t_idle, xruns.count
            xruns.reset()
        output = AudioOutput(
            engine.render_block, SAMPLE_RATE, args.block_frames, ahead_blocks=args.ahead_blocks, backend=args.backend
        )
        voices_seen = []
        freeze_heap()  # as the app does once it is up: what start-up made is long-lived
        with output:
            t0 = time.perf_counter()
            frames0 = output.frames_delivered
            for track, pitch in held:  # held for the whole run
                engine.live_note_on(track, pitch, 90)
            while time.perf_counter() - t0 < args.seconds:
                time.sleep(0.25)
                voices_seen.append(engine.active_voices)
            wall_s = time.perf_counter() - t0
            frames = output.frames_delivered - frames0
            output_latency_ms = output.output_latency_s * 1000
            run_xruns = xruns.count if xruns.available else None
    print(
        json.dumps(
            {
                "benchmark": "soak",
                "seconds": round(wall_s, 1),
                "mode": "neural" if args.neural_voices else "dsp",
                "voices_requested": voices,
                "voices_active_median": float(np.median(voices_seen)),
                "voices_active_min": int(min(voices_seen)),
                "sample_rate": SAMPLE_RATE,
                "block_frames": args.block_frames,
                "ahead_blocks": args.ahead_blocks,
                "underflows": output.underflows,
                "underruns": output.underruns,
                "jack_xruns": run_xruns,
                "jack_xruns_per_min": round(run_xruns * 60 / wall_s, 2) if run_xruns is not None else None,
                "idle_reference_s": round(idle_s, 1),
                "idle_jack_xruns": idle_xruns,
                "idle_jack_xruns_per_min": round(idle_xruns * 60 / idle_s, 2) if idle_xruns is not None else None,
                "xrun_monitor": xruns.problem or "a portless JACK client's xrun callback",
                "callbacks": output.callbacks,
                "pace": round(frames / wall_s / SAMPLE_RATE, 4),
                "render_ms_median": round(output.render_time_s(0.5) * 1000, 3),
                "render_ms_p99": round(output.render_time_s(0.99) * 1000, 3),
                "render_ms_max": round(output.render_time_max_s * 1000, 3),
                "render_load_mean": round(output.render_load, 4),
                "render_load_max": round(output.render_load_max, 4),
                "render_failures": output.render_failures,
                "ahead_blocks_end": output.ahead_blocks,
                "notices": output.notices,
                "engine_notices": engine.notices,
                "fallback_to_dsp": any(mark in line for line in engine.notices for mark in FALLBACK_MARKS),
                "backend": output.backend,
                "realtime_priority": output.realtime_refused or "SCHED_FIFO",
                "output_latency_ms": round(output_latency_ms, 3),
                "cpu_threads": os.cpu_count(),
                "load_average": os.getloadavg()[0],
                "python": platform.python_version(),
                "numpy": np.__version__,
                "sounddevice": sounddevice.__version__,
                "device": f"JACK dummy backend (jackd {'-R' if server.realtime else '--no-realtime'} -d dummy)",
                "note": "measured on a 2-core machine shared with a background training job"
                if os.getloadavg()[0] > 1.0
                else "",
            }
        )
    )


if __name__ == "__main__":
    main()

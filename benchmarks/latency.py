"""Key-to-sound latency through a private JACK dummy server at 48 kHz, 128- and 256-frame blocks.

A virtual JACK MIDI keyboard (rtmidi) sends note-ons to the engine through
synth.engine.midi_ports and synth.engine.live. For each note we take the time it arrived on
the MIDI port, find the first non-zero sample of that note in the rendered
stream, and when the output callback took that frame from the ring (perf_counter):

    key_to_callback  = callback time - arrival time
    key_to_sound     = key_to_callback + stream's reported output latency   (goal <= 10 ms median at 128)
    key_to_dac       = key_to_callback + (outputBufferDacTime - currentTime) + frame offset in the buffer

The C callback (rtmixer, the default) runs no Python, so its time is seen from outside: a poll of the
ring's read position every 0.2 ms from the moment the note's frame was rendered (the GIL may delay a
poll; that only makes the figure worse). Its outputBufferDacTime - currentTime is PortAudio's JACK value,
the port latency: the reported output latency plus one period ("one buffer is not counted as
latency", pa_jack.c). With --backend python the callback's own perf_counter and time info are used, as
before.

Ends by printing one JSON line. Usage: python benchmarks/latency.py [--notes N] [--backend rtmixer|python]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import threading
import time

import numpy as np
import rtmidi
import sounddevice

from composer.song import Song, Track
from synth.engine.audio_out import AudioOutput
from synth.engine.engine import Engine
from synth.engine.jack_dummy import JackDummyServer
from synth.engine.live import LiveSession
from synth.engine.midi_ports import MidiInput
from synth.engine.realtime import tune_process

SAMPLE_RATE = 48000
SILENCE = 1e-6


class OnsetProbe:
    """Wraps engine.render_block: finds the first non-zero frame after a note-on arrived."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.output: AudioOutput | None = None
        self.armed = False
        self.onset_frame: int | None = None
        self.silent_blocks = 0
        self.lock = threading.Lock()

    def __call__(self, n_frames: int) -> np.ndarray:
        block = self.engine.render_block(n_frames)  # (n_frames, 2)
        base = self.output.frames_written  # frame index of block[0]
        loud = np.nonzero(np.abs(block).max(axis=1) > SILENCE)[0]
        self.silent_blocks = 0 if loud.size else self.silent_blocks + 1
        with self.lock:
            if self.armed and loud.size:
                self.onset_frame = base + int(loud[0])
                self.armed = False
        return block


def wait_for(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.001)
    return False


def poll_taken(probe: OnsetProbe, output: AudioOutput, timeout_s: float) -> tuple[int | None, float | None]:
    """(the note's first frame, perf_counter when the callback took it from the ring), polled every 0.2 ms."""
    deadline = time.perf_counter() + timeout_s
    while True:
        now = time.perf_counter()
        onset = probe.onset_frame
        if onset is not None and output.frames_taken > onset:
            return onset, now
        if now > deadline:
            return onset, None
        time.sleep(0.0002)


def measure(period_frames: int, n_notes: int, ahead_blocks: int, backend: str | None) -> dict:
    with JackDummyServer(sample_rate=SAMPLE_RATE, period_frames=period_frames):
        song = Song(tracks=[Track(name="Keys", program=0)])
        engine = Engine(song, sample_rate=SAMPLE_RATE, block_frames=period_frames)
        session = LiveSession(engine, track_index=0)
        probe = OnsetProbe(engine)
        arrivals: list[float] = []

        def on_message(msg, time_s):
            if msg.type == "note_on" and msg.velocity > 0:
                with probe.lock:  # armed before the engine can render the note
                    probe.armed = True
                    probe.onset_frame = None
                arrivals.append(time_s)
            session.handle(msg, time_s)

        kbd = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name="bench-kbd")
        kbd.open_virtual_port("keys")
        port = MidiInput("bench-kbd:keys", on_message)
        output = AudioOutput(probe, SAMPLE_RATE, period_frames, ahead_blocks=ahead_blocks, backend=backend)
        probe.output = output
        to_callback_ms, to_dac_ms, dac_ahead_ms, missed = [], [], [], 0
        rng = random.Random(0)
        with output:
            time.sleep(0.3)
            for i in range(n_notes):
                pitch = 60 + i % 12
                wait_for(lambda: probe.silent_blocks > 4, 5.0)
                time.sleep(rng.uniform(0.0, 2 * period_frames / SAMPLE_RATE))  # random phase in the period
                with probe.lock:
                    probe.onset_frame = None  # so the previous note's onset is never taken for this one
                kbd.send_message([0x90, pitch, 100])
                onset, taken_s = poll_taken(probe, output, 1.0)
                if onset is None:
                    missed += 1
                    kbd.send_message([0x80, pitch, 0])
                    continue
                hit = output.callback_for_frame(onset)  # python backend: the callback's own perf_counter
                in_buffer_s = (onset % period_frames) / SAMPLE_RATE
                if hit is not None:
                    callback_s, dac_ahead_s = hit[0], hit[1] - in_buffer_s
                elif taken_s is not None and output.backend == "rtmixer":
                    callback_s, dac_ahead_s = taken_s, output.output_latency_s + period_frames / SAMPLE_RATE
                else:
                    missed += 1
                    kbd.send_message([0x80, pitch, 0])
                    continue
                dac_ahead_ms.append(dac_ahead_s * 1000)
                to_callback_ms.append((callback_s - arrivals[-1]) * 1000)
                to_dac_ms.append((callback_s - arrivals[-1] + dac_ahead_s + in_buffer_s) * 1000)
                time.sleep(0.03)
                kbd.send_message([0x80, pitch, 0])
            output_latency_ms = output.output_latency_s * 1000
        port.close()
        kbd.delete()
        key_to_sound = np.array(to_callback_ms) + output_latency_ms
        return {
            "block_frames": period_frames,
            "ahead_blocks": ahead_blocks,
            "ahead_blocks_end": output.ahead_blocks,
            "backend": output.backend,
            "dac_ahead_ms": stats(dac_ahead_ms),
            "notes": len(to_callback_ms),
            "missed": missed,
            "output_latency_ms": round(output_latency_ms, 3),
            "key_to_callback_ms": stats(to_callback_ms),
            "key_to_sound_ms": stats(key_to_sound),
            "key_to_dac_ms": stats(to_dac_ms),
            "underruns": output.underruns,
            "underflows": output.underflows,
            "render_load_mean": round(output.render_load, 4),
        }


def stats(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return {}
    return {
        "median": round(float(np.median(v)), 3),
        "p95": round(float(np.percentile(v, 95)), 3),
        "max": round(float(v.max()), 3),
        "min": round(float(v.min()), 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=40, help="notes per configuration")
    parser.add_argument("--backend", choices=("rtmixer", "python"), help="the audio callback (default: rtmixer)")
    args = parser.parse_args()
    tune_process()
    results = [measure(128, args.notes, 1, args.backend), measure(128, args.notes, 2, args.backend)]
    results.append(measure(256, args.notes, 1, args.backend))
    at_128 = results[0]["key_to_sound_ms"]
    print(
        json.dumps(
            {
                "benchmark": "latency",
                "sample_rate": SAMPLE_RATE,
                "results": results,
                "goal_ms_at_128": 10.0,
                "goal_met_median": bool(at_128) and at_128["median"] <= 10.0,
                "goal_met_p95": bool(at_128) and at_128["p95"] <= 10.0,
                "cpu_threads": os.cpu_count(),
                "load_average": os.getloadavg()[0],
                "python": platform.python_version(),
                "numpy": np.__version__,
                "sounddevice": sounddevice.__version__,
                "portaudio": sounddevice.get_portaudio_version()[1],
                "rtmidi": rtmidi.__version__,
                "device": "JACK dummy backend (jackd --no-realtime -d dummy)",
            }
        )
    )


if __name__ == "__main__":
    main()

"""Offline render speed of the DSP synth on one CPU thread.

A dense four-track piece (piano chords, string chords, a bass line and a
drum groove, each about 8 notes per second) of 60 s is rendered through
`synth.render.render_song` (the same Engine as live playback). Prints one
JSON line: the real-time factor (audio seconds per wall second; goal 50).

    python benchmarks/render_speed.py [--seconds 60] [--block-frames 4096]

The block size defaults to the one `render_song` uses (`composer render` renders that way).
"""

from __future__ import annotations

import os

# One thread, set before numpy loads its BLAS.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from composer.song import Note, Song, Track  # noqa: E402
from synth.render import OFFLINE_BLOCK_FRAMES, render_song  # noqa: E402

GOAL = 50


def dense_song(seconds: float, seed: int = 0) -> Song:
    """Four tracks at about 8 notes/s each: 120 BPM, 8th-note grid."""
    rng = np.random.default_rng(seed)
    song = Song(tempo_bpm=120.0)
    piano = Track("Piano", program=0, pan=-0.3)
    strings = Track("Strings", program=48, pan=0.3, volume=0.6)
    bass = Track("Bass", program=33, channel=1)
    drums = Track("Drums", is_drum=True, channel=9)
    eighth = 0.25
    chords = [(60, 64, 67, 71), (57, 60, 64, 67), (62, 65, 69, 72), (55, 59, 62, 65)]
    steps = int(seconds / eighth)
    for step in range(steps):
        t = step * eighth
        chord = chords[(step // 8) % len(chords)]
        if step % 2 == 0:  # piano: a four-note chord every quarter (8 notes/s)
            for pitch in chord:
                song_note(piano, pitch, int(rng.integers(60, 110)), t, t + 0.45)
        if step % 4 == 0:  # strings: four-note chords, two a second, legato
            for pitch in chord:
                song_note(strings, pitch - 12, 70, t, t + 0.95)
        # bass: 16th notes (8 notes/s)
        for sub in (0.0, 0.125):
            song_note(bass, chord[0] - 24 + (7 if sub else 0), int(rng.integers(80, 120)), t + sub, t + sub + 0.11)
        # drums: kick/snare on quarters, hats on every 8th and 16th
        song_note(drums, 36 if step % 4 == 0 else 38 if step % 4 == 2 else 44, 100, t, t + 0.05)
        song_note(drums, 42, 80, t, t + 0.05)
        song_note(drums, 42, 60, t + 0.125, t + 0.175)
        if step % 2 == 1:
            song_note(drums, 46 if step % 8 == 7 else 42, 70, t + 0.0625, t + 0.1)
    song.tracks = [piano, strings, bass, drums]
    return song


def song_note(track: Track, pitch: int, velocity: int, start_s: float, end_s: float) -> None:
    track.notes.append(Note(pitch, velocity, start_s, end_s))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--block-frames", type=int, default=OFFLINE_BLOCK_FRAMES)
    parser.add_argument("--sample-rate", type=int, default=48000)
    args = parser.parse_args()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    song = dense_song(args.seconds)
    render_song(dense_song(2.0), args.sample_rate, args.block_frames)  # warm-up: tables, caches
    start, cpu_start = time.perf_counter(), time.process_time()
    audio = render_song(song, args.sample_rate, args.block_frames)
    wall_s, cpu_s = time.perf_counter() - start, time.process_time() - cpu_start
    audio_s = audio.shape[0] / args.sample_rate
    factor = audio_s / wall_s
    notes_per_s = sum(len(t.notes) for t in song.tracks) / args.seconds / len(song.tracks)
    result = {
        "benchmark": "render_speed",
        "realtime_factor": round(factor, 1),
        "goal": GOAL,
        "met": factor >= GOAL,
        "audio_s": round(audio_s, 2),
        "wall_s": round(wall_s, 3),
        "cpu_s": round(cpu_s, 3),  # below wall_s when other processes share the CPU
        "cpu_realtime_factor": round(audio_s / cpu_s, 1),
        "tracks": len(song.tracks),
        "notes_per_s_per_track": round(notes_per_s, 1),
        "peak": round(float(np.abs(audio).max()), 3),
        "block_frames": args.block_frames,
        "sample_rate": args.sample_rate,
        "cpu_threads": 1,
        "cpu_count": os.cpu_count(),
        "numpy": np.__version__,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

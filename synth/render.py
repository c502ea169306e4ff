"""Offline rendering through the same Engine as live playback, as fast as it goes.

    audio = render_song(song)                    # float32 (n, 2), release tails included
    stems = render_stems(song)                   # {track name: (n, 2)}, all the same length
    write_wav("out.wav", audio, 48000, bit_depth=24)

The render runs past the song's last note until every synth is silent
(active_voices == 0), plus TAIL_MARGIN_S, so no release is cut off; a synth
that never falls silent (a drone) is cut MAX_TAIL_S after the end.

Delay compensation: a synth with latency (the neural synth sounds
`latency_samples` after its events) would land late in the mix. Offline the
whole song is known, so each track's notes are sent that much earlier: the
song is rendered with every track moved later by the largest latency less its
own, and that largest latency is cut from the start. Every track then sounds
exactly at its notes' times, as a DAW's plugin delay compensation does.

A synth that `prefers_long_blocks` (the neural synth on a GPU, where each
call costs kernel launches rather than arithmetic) gets the whole song as
one block: each neural track's piece goes through the renderer and the
vocoder in one call. The audio is the same at any block length.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np

from composer.errors import ComposerError
from composer.files.atomic import atomic_write
from composer.song import Song
from synth.engine.engine import Engine, SynthFactory

# Offline blocks are long: a block costs some fixed numpy calls per synth whatever its length, and
# 4096 frames (85 ms) keep one synth's working arrays within the CPU's L2 cache.
OFFLINE_BLOCK_FRAMES = 4096
TAIL_MARGIN_S = 0.05
MAX_TAIL_S = 30.0
BIT_DEPTHS = {16: "PCM_16", 24: "PCM_24"}

Progress = Callable[[float], None]


def render_song(
    song: Song,
    sample_rate: int = 48000,
    block_frames: int = OFFLINE_BLOCK_FRAMES,
    synth_factory: SynthFactory | None = None,
    progress: Progress | None = None,
) -> np.ndarray:
    """The whole song, float32 (n, 2) within +-1, from time 0 to the end of the last release tail.

    `progress(seconds_rendered)` is called after each block.
    """
    engine = Engine(
        song, sample_rate=sample_rate, block_frames=block_frames, synth_factory=synth_factory, overload_guard=False
    )
    latencies = [synth.latency_samples for synth in engine.synths]  # per track, at sample_rate
    lead = max(latencies, default=0)
    if any(getattr(synth, "prefers_long_blocks", False) for synth in engine.synths):
        block_frames = max(block_frames, int(np.ceil(song.duration_s * sample_rate)) + lead)  # one call: the song
    if lead or block_frames != engine.block_frames:
        engine = Engine(
            compensated(song, latencies, sample_rate),
            sample_rate=sample_rate,
            block_frames=block_frames,
            synth_factory=engine.synth_factory,  # the models already loaded
            overload_guard=False,
        )
    audio = _run(engine, song.duration_s + lead / sample_rate, sample_rate, block_frames, progress, lead)
    return audio[lead:]


def compensated(song: Song, latencies: list[int], sample_rate: int) -> Song:
    """A copy of `song` with track i moved later by (max(latencies) - latencies[i]) samples, clips by the max."""
    lead = max(latencies, default=0)
    tracks = []
    for track, latency in zip(song.tracks, latencies, strict=True):
        shift_s = (lead - latency) / sample_rate
        moved = copy.copy(track)
        moved.notes = [
            dataclasses.replace(n, start_s=n.start_s + shift_s, end_s=n.end_s + shift_s) for n in track.notes
        ]
        tracks.append(moved)
    clips = [dataclasses.replace(c, start_s=c.start_s + lead / sample_rate) for c in song.clips]
    return dataclasses.replace(song, tracks=tracks, clips=clips)


def _run(
    engine: Engine, duration_s: float, sample_rate: int, block_frames: int, progress: Progress | None, lead: int
) -> np.ndarray:
    """Blocks from time 0 until `duration_s` and every release tail have passed; `lead` samples are cut later."""
    end = int(np.ceil(duration_s * sample_rate))
    limit = end + int(MAX_TAIL_S * sample_rate)
    blocks = []
    done = 0
    engine.play()
    while done < limit:
        n = min(block_frames, limit - done)
        blocks.append(engine.render_block(n))
        done += n
        if progress is not None:
            progress(max(done - lead, 0) / sample_rate)
        if done >= end and engine.active_voices == 0:
            break
    audio = np.concatenate(blocks) if blocks else np.zeros((0, 2), np.float32)
    # Cut after the last sound (or the song's end) plus the margin, wherever the last block ended.
    # Only the part past the song's end can move the cut, so only that part is searched.
    tail = audio[end:]
    sounding = np.flatnonzero(np.abs(tail).max(axis=1) > 0) if tail.size else np.zeros(0, np.int64)
    length = max(end + int(sounding[-1]) + 1 if sounding.size else 0, end) + int(TAIL_MARGIN_S * sample_rate)
    if length > audio.shape[0]:
        return np.concatenate([audio, np.zeros((length - audio.shape[0], 2), np.float32)])
    return audio[:length]


def stem_names(song: Song) -> list[str]:
    names, seen = [], {}
    for track in song.tracks:
        base = track.name.strip() or "Track"
        seen[base] = seen.get(base, 0) + 1
        names.append(base if seen[base] == 1 else f"{base} {seen[base]}")
    return names


def render_stems(
    song: Song,
    sample_rate: int = 48000,
    block_frames: int = OFFLINE_BLOCK_FRAMES,
    synth_factory: SynthFactory | None = None,
    progress: Progress | None = None,
) -> dict[str, np.ndarray]:
    """Each track alone (mute and solo ignored, no audio clips), all padded to one length.

    Keys are the track names, made unique ("Piano", "Piano 2"). `progress`
    gets the seconds rendered summed over the stems.
    """
    stems: dict[str, np.ndarray] = {}
    offset = 0.0
    for name, track in zip(stem_names(song), song.tracks, strict=True):
        alone = copy.copy(track)
        alone.mute = alone.solo = False
        single = Song(tempo_bpm=song.tempo_bpm, time_signature=song.time_signature, tracks=[alone])

        def report(seconds: float, base: float = offset) -> None:
            if progress is not None:
                progress(base + seconds)

        stems[name] = render_song(single, sample_rate, block_frames, synth_factory, report)
        offset += stems[name].shape[0] / sample_rate
    length = max((a.shape[0] for a in stems.values()), default=0)
    return {name: np.pad(a, ((0, length - a.shape[0]), (0, 0))) for name, a in stems.items()}


def write_wav(path: str | Path, audio: np.ndarray, sample_rate: int, bit_depth: int = 16) -> None:
    """Write (n, 2) or (n,) float audio as 16- or 24-bit PCM WAV, atomically (never half-written)."""
    import soundfile as sf

    if bit_depth not in BIT_DEPTHS:
        raise ComposerError(None, f"bit depth must be 16 or 24, not {bit_depth}")
    data = np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0)
    path = Path(path)

    def write(tmp: Path) -> None:
        sf.write(tmp, data, int(sample_rate), subtype=BIT_DEPTHS[bit_depth], format="WAV")

    atomic_write(path, write)

"""Project files: a Song as JSON with a schema version, clips as WAV beside it.

`save_project(song, "song.json")` writes `song.json` atomically and each audio
clip that has samples to `song.clips/NN-name.wav`. `load_project` reads them
back; anything wrong becomes a `ComposerError` naming the file.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import soundfile as sf

from composer.errors import ComposerError
from composer.files.atomic import atomic_write, atomic_write_text
from composer.song import MAX_TEMPO_BPM, MIN_TEMPO_BPM, AudioClip, Note, Song, Track

# 1: tracks, notes, clips with prompt and seed. 2: clips also keep steps, guidance and loop (prompted clips).
# Every version loads (missing keys take their defaults); a file newer than SCHEMA_VERSION is refused.
SCHEMA_VERSION = 2
MAX_CLIP_STEPS = 1000  # sanity bounds for a file; synth.prompt.prompt_audio checks its own, tighter ones
MAX_CLIP_GUIDANCE = 100.0


def song_to_dict(song: Song, clip_paths: list[str | None] | None = None) -> dict:
    clip_paths = clip_paths or [c.path for c in song.clips]
    return {
        "schema_version": SCHEMA_VERSION,
        "tempo_bpm": song.tempo_bpm,
        "time_signature": list(song.time_signature),
        "tracks": [
            {
                "name": t.name,
                "program": t.program,
                "is_drum": t.is_drum,
                "channel": t.channel,
                "volume": t.volume,
                "pan": t.pan,
                "mute": t.mute,
                "solo": t.solo,
                "synth": t.synth,
                "notes": [[n.pitch, n.velocity, round(n.start_s, 6), round(n.end_s, 6)] for n in t.notes],
            }
            for t in song.tracks
        ],
        "clips": [
            {
                "name": c.name,
                "path": p,
                "start_s": c.start_s,
                "gain": c.gain,
                "mute": c.mute,
                "prompt": c.prompt,
                "seed": c.seed,
                "steps": c.steps,
                "guidance": c.guidance,
                "loop": c.loop,
            }
            for c, p in zip(song.clips, clip_paths, strict=True)
        ],
    }


def save_project(song: Song, path: str | Path) -> None:
    """Write the project JSON (and its clips' WAV files) atomically."""
    path = Path(path)
    clip_dir = path.with_suffix(".clips")
    clip_paths: list[str | None] = []
    for i, clip in enumerate(song.clips):
        if clip.samples is None:
            clip_paths.append(clip.path)
            continue
        clip_dir.mkdir(parents=True, exist_ok=True)
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", clip.name).strip("-")[:40] or "clip"
        wav = clip_dir / f"{i:02d}-{slug}.wav"
        samples = np.asarray(clip.samples, dtype=np.float32)
        atomic_write(
            wav, lambda tmp, s=samples, sr=clip.sample_rate: sf.write(tmp, s, sr, format="WAV", subtype="FLOAT")
        )
        clip_paths.append(str(wav.relative_to(path.parent)) if wav.is_relative_to(path.parent) else str(wav))
    text = json.dumps(song_to_dict(song, clip_paths), indent=1)
    atomic_write_text(path, text)


def load_project(path: str | Path) -> Song:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ComposerError(path, "no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ComposerError(path, f"not a project file (invalid JSON: {exc})") from None
    except RecursionError:
        raise ComposerError(path, "not a project file (JSON nested too deeply)") from None
    except IsADirectoryError:
        raise ComposerError(path, "is a directory, expected a project file") from None
    except OSError as exc:
        raise ComposerError(path, f"cannot read: {exc.strerror}") from None
    try:
        return _from_dict(data, path)
    except ComposerError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError) as exc:
        raise ComposerError(path, f"not a valid project file ({type(exc).__name__}: {exc})") from None


def _finite(value: object, what: str, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{what} {value!r:.40} is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{what} {str(value)[:12]}... is far too large") from None
    if not math.isfinite(number) or not lo <= number <= hi:
        raise ValueError(f"{what} {value!r} outside {lo}..{hi}")
    return number


def _optional(value: object, kind: type, what: str):
    if value is None or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise ValueError(f"{what} {value!r:.40} is not {kind.__name__} or null")


def _optional_number(value: object, what: str, lo: float, hi: float, whole: bool = False) -> float | int | None:
    if value is None:
        return None
    if whole and not (isinstance(value, int) and not isinstance(value, bool)):
        raise ValueError(f"{what} {value!r:.40} is not a whole number or null")
    number = _finite(value, what, lo, hi)
    return int(number) if whole else number


def _flag(value: object, what: str) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{what} {value!r:.40} is not true or false")
    return value


def _from_dict(data: dict, path: Path) -> Song:
    if not isinstance(data, dict) or "schema_version" not in data:
        raise ComposerError(path, "not a project file (no schema_version)")
    version = data["schema_version"]
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ComposerError(path, f"schema_version {version!r:.40} is not a version number")
    if version > SCHEMA_VERSION:
        raise ComposerError(path, f"schema version {version} is newer than this app's {SCHEMA_VERSION}")
    num, den = data.get("time_signature", [4, 4])
    num, den = (
        int(_finite(num, "time signature numerator", 1, 64)),
        int(_finite(den, "time signature denominator", 1, 64)),
    )
    if den & (den - 1):
        raise ValueError(f"time signature denominator {den} is not a power of two")
    song = Song(
        tempo_bpm=_finite(data.get("tempo_bpm", 120.0), "tempo", MIN_TEMPO_BPM, MAX_TEMPO_BPM),
        time_signature=(num, den),
    )
    for t in data.get("tracks", []):
        notes = []
        for pitch, velocity, start_s, end_s in t.get("notes", []):
            start = _finite(start_s, "note start", 0, 1e6)
            end = _finite(end_s, "note end", start, 1e6)
            notes.append(
                Note(int(_finite(pitch, "pitch", 0, 127)), int(_finite(velocity, "velocity", 1, 127)), start, end)
            )
        song.tracks.append(
            Track(
                name=str(t.get("name", "Track")),
                program=int(_finite(t.get("program", 0), "program", 0, 127)),
                is_drum=bool(t.get("is_drum", False)),
                channel=int(_finite(t.get("channel", 0), "channel", 0, 15)),
                volume=_finite(t.get("volume", 0.8), "volume", 0, 2),
                pan=_finite(t.get("pan", 0.0), "pan", -1, 1),
                mute=bool(t.get("mute", False)),
                solo=bool(t.get("solo", False)),
                synth=str(t.get("synth", "dsp")),
                notes=notes,
            )
        )
    for c in data.get("clips", []):
        clip = AudioClip(
            name=str(c.get("name", "Audio")),
            start_s=_finite(c.get("start_s", 0.0), "clip start", 0, 1e6),
            gain=_finite(c.get("gain", 1.0), "clip gain", 0, 16),
            mute=bool(c.get("mute", False)),
            prompt=_optional(c.get("prompt"), str, "clip prompt"),
            seed=_optional(c.get("seed"), int, "clip seed"),
            path=_optional(c.get("path"), str, "clip path"),
            steps=_optional_number(c.get("steps"), "clip steps", 1, MAX_CLIP_STEPS, whole=True),
            guidance=_optional_number(c.get("guidance"), "clip guidance", 0, MAX_CLIP_GUIDANCE),
            loop=_flag(c.get("loop", False), "clip loop"),
        )
        if clip.path:
            wav = Path(clip.path) if Path(clip.path).is_absolute() else path.parent / clip.path
            try:
                samples, sample_rate = sf.read(wav, dtype="float32", always_2d=False)
            except Exception as exc:
                raise ComposerError(wav, f"audio clip cannot be read ({exc})") from None
            clip.samples, clip.sample_rate = samples, int(sample_rate)
        song.clips.append(clip)
    return song

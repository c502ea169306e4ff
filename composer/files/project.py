"""Project files: a Song as JSON with a schema version, clips as WAV beside it.

`save_project(song, "song.json")` writes each audio clip that has samples to
`song.clips/<name>-<digest>.wav` (the digest is of the samples, so a changed clip
gets a new file and an unchanged one is not written again), then `song.json`
atomically, then removes the clip files the new JSON no longer names. A crash at
any point leaves a project that opens as it was before the save or as after it.

`load_project` reads them back; anything wrong becomes a `ComposerError` naming
the file. A clip whose WAV is missing does not stop the project from opening: the
clip stays in the song without samples (silent, `missing_clips(song)` lists it),
and one line naming the file goes to `notify` (default: standard error).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import stat
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import soundfile as sf

from composer.errors import ComposerError
from composer.files.atomic import atomic_write, atomic_write_text, is_temp_name
from composer.files.midi_io import MAX_DURATION_S
from composer.song import MAX_TEMPO_BPM, MIN_TEMPO_BPM, AudioClip, Note, Song, Track

try:
    import fcntl
except ImportError:  # not on Windows: saves of one project from two processes are then not serialised
    fcntl = None

# 1: tracks, notes, clips with prompt and seed. 2: clips also keep steps, guidance and loop (prompted clips).
# 3: clips also keep repeats (a loop heard that many times in a row).
# 4: clips also keep offset_s and length_s (a trimmed clip: the part of its WAV that one pass plays).
# 5: tracks also keep midi_out (the MIDI output channel 1-16 the track is sent to, or null).
# Every version loads (missing keys take their defaults); a file newer than SCHEMA_VERSION is refused.
SCHEMA_VERSION = 5
MAX_CLIP_STEPS = 1000  # sanity bounds for a file; synth.prompt.prompt_audio checks its own, tighter ones
MAX_CLIP_GUIDANCE = 100.0
MAX_CLIP_REPEATS = 10_000
MAX_SONG_S = MAX_DURATION_S  # the MIDI reader's bound: notes and clips start and end within 6 hours
MAX_PROJECT_BYTES = 256 * 1024 * 1024  # a project with two million notes is about 60 MB of JSON
CLIP_RATES = (1000, 768_000)  # a clip's sample rate, Hz
MAX_CLIP_CHANNELS = 32
MAX_CLIP_PEAK = 1000.0  # float WAVs may exceed 1.0, but not by 60 dB: such samples are corrupt data
LOCK_NAME = ".lock"  # in the clips folder: one save of a project at a time (flock, gone with its process)
_CLIP_FILE = re.compile(r"^(\d\d-[A-Za-z0-9_-]*|[A-Za-z0-9_-]*-[0-9a-f]{16})\.wav$")  # old and new names

Notify = Callable[[str], None]


def _say_on_stderr(line: str) -> None:
    print(f"composer: {line}", file=sys.stderr)


def missing_clips(song: Song) -> list[AudioClip]:
    """The clips that name a WAV file but have no samples: the file was missing when the project opened."""
    return [c for c in song.clips if c.path and c.samples is None]


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
                "midi_out": t.midi_out,
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
                "repeats": c.repeats,
                "offset_s": c.offset_s,
                "length_s": c.length_s,
            }
            for c, p in zip(song.clips, clip_paths, strict=True)
        ],
    }


def save_project(song: Song, path: str | Path) -> None:
    """Write the project: a new generation of clip files, then the JSON atomically, then drop the old files.

    A clip without samples (its file was missing) keeps its path, relative to the project's folder where it
    lies inside it."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ComposerError(path, f"folder {folder} does not exist")
    if path.is_dir():
        raise ComposerError(path, "is a directory, expected a file name")
    clip_dir = path.with_suffix(".clips")
    has_samples = any(c.samples is not None for c in song.clips)
    if not has_samples and not clip_dir.is_dir():  # nothing to write or to clean: just the JSON
        clip_paths = [_kept_path(c.path, folder) for c in song.clips]
        atomic_write_text(path, json.dumps(song_to_dict(song, clip_paths), indent=1))
        return
    if clip_dir.is_symlink() or (clip_dir.exists() and not clip_dir.is_dir()):
        raise ComposerError(clip_dir, "is not a folder of clips (a file or a link is in the way)")
    try:
        clip_dir.mkdir(exist_ok=True)
    except OSError as exc:
        raise ComposerError(clip_dir, f"cannot write: {exc.strerror or exc}") from None
    with _save_lock(clip_dir):
        clip_paths = []
        keep: set[str] = {LOCK_NAME}
        for clip in song.clips:
            if clip.samples is None:
                clip_paths.append(_kept_path(clip.path, folder))
                continue
            samples = np.ascontiguousarray(clip.samples, dtype=np.float32)
            rate = int(clip.sample_rate)
            wav = clip_dir / _clip_file_name(clip.name, samples, rate)
            if wav.name not in keep and not _holds(wav, samples, rate):
                atomic_write(wav, lambda tmp, s=samples, sr=rate: sf.write(tmp, s, sr, format="WAV", subtype="FLOAT"))
            keep.add(wav.name)
            clip_paths.append(f"{clip_dir.name}/{wav.name}")
        text = json.dumps(song_to_dict(song, clip_paths), indent=1)
        atomic_write_text(path, text)
        _remove_unnamed(clip_dir, keep)
    if len(keep) == 1:  # no clip files left: no clips folder either
        try:
            (clip_dir / LOCK_NAME).unlink(missing_ok=True)
            clip_dir.rmdir()
        except OSError:
            pass


def _clip_file_name(name: str, samples: np.ndarray, sample_rate: int) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", name).strip("-")[:40] or "clip"
    digest = hashlib.blake2b(digest_size=8)
    digest.update(f"{sample_rate}:{samples.shape}:".encode())
    digest.update(samples.data)
    return f"{slug}-{digest.hexdigest()}.wav"


def _holds(wav: Path, samples: np.ndarray, sample_rate: int) -> bool:
    """Whether `wav` already is this clip's file (same digest in the name; its header agrees)."""
    try:
        if not stat.S_ISREG(os.lstat(wav).st_mode):
            return False
        info = sf.info(str(wav))
    except (OSError, RuntimeError, ValueError):  # soundfile raises LibsndfileError (a RuntimeError)
        return False
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    return (info.frames, info.channels, info.samplerate, info.subtype) == (
        samples.shape[0],
        channels,
        sample_rate,
        "FLOAT",
    )


def _kept_path(clip_path: str | None, folder: Path) -> str | None:
    """A sample-less clip's path as the JSON keeps it: relative where it lies in the project's folder."""
    if not clip_path or not Path(clip_path).is_absolute():
        return clip_path
    try:
        return Path(clip_path).relative_to(folder.absolute()).as_posix()
    except ValueError:
        return clip_path


@contextmanager
def _save_lock(clip_dir: Path):
    if fcntl is None:
        yield
        return
    try:
        fd = os.open(clip_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    except OSError as exc:
        raise ComposerError(clip_dir, f"cannot write: {exc.strerror or exc}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock; a killed process releases it too


def _remove_unnamed(clip_dir: Path, keep: set[str]) -> None:
    """Remove the clip files (and temporary files of killed saves) in `clip_dir` that the JSON just written
    does not name. Only names this module writes are touched, never links or folders."""
    try:
        entries = list(os.scandir(clip_dir))
    except OSError:
        return
    for entry in entries:
        if entry.name in keep or not (_CLIP_FILE.match(entry.name) or is_temp_name(entry.name)):
            continue
        try:
            if entry.is_file(follow_symlinks=False):
                os.unlink(entry.path)
        except OSError:
            pass  # left for the next save


def load_project(path: str | Path, notify: Notify | None = None) -> Song:
    """Read a project; `notify(line)` hears of each clip whose WAV file is missing (default: standard error)."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_PROJECT_BYTES:
            raise ComposerError(path, f"{path.stat().st_size} bytes, too large for a project file")
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
        raise ComposerError(path, f"cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ComposerError(path, f"not a project file ({str(exc)[:120]})") from None
    try:
        song, missing = _from_dict(data, path)
    except ComposerError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError, RecursionError) as exc:
        text = str(exc).splitlines()[0][:200] if str(exc).strip() else ""
        raise ComposerError(path, f"not a valid project file ({type(exc).__name__}: {text})") from None
    for wav, clip in missing:
        (notify or _say_on_stderr)(
            f"{wav}: audio clip {clip.name[:40]!r} is missing; it stays in the song, silent, until the file is back"
        )
    return song


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


def _from_dict(data: dict, path: Path) -> tuple[Song, list[tuple[Path, AudioClip]]]:
    """The song, and the (file, clip) of each clip whose WAV file is missing."""
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
    missing: list[tuple[Path, AudioClip]] = []
    for t in data.get("tracks", []):
        notes = []
        for pitch, velocity, start_s, end_s in t.get("notes", []):
            start = _finite(start_s, "note start", 0, MAX_SONG_S)
            end = _finite(end_s, "note end", start, MAX_SONG_S)
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
                midi_out=_optional_number(t.get("midi_out"), "track MIDI out channel", 1, 16, whole=True),
            )
        )
    for c in data.get("clips", []):
        clip = AudioClip(
            name=str(c.get("name", "Audio")),
            start_s=_finite(c.get("start_s", 0.0), "clip start", 0, MAX_SONG_S),
            gain=_finite(c.get("gain", 1.0), "clip gain", 0, 16),
            mute=bool(c.get("mute", False)),
            prompt=_optional(c.get("prompt"), str, "clip prompt"),
            seed=_optional(c.get("seed"), int, "clip seed"),
            path=_optional(c.get("path"), str, "clip path"),
            steps=_optional_number(c.get("steps"), "clip steps", 1, MAX_CLIP_STEPS, whole=True),
            guidance=_optional_number(c.get("guidance"), "clip guidance", 0, MAX_CLIP_GUIDANCE),
            loop=_flag(c.get("loop", False), "clip loop"),
            repeats=_optional_number(c.get("repeats", 1), "clip repeats", 1, MAX_CLIP_REPEATS, whole=True) or 1,
            offset_s=_finite(c.get("offset_s", 0.0), "clip offset", 0, MAX_SONG_S),
            length_s=_optional_number(c.get("length_s"), "clip length", 0, MAX_SONG_S),
        )
        if clip.path:
            wav = Path(clip.path) if Path(clip.path).is_absolute() else path.parent / clip.path
            samples = _read_clip(wav)
            if samples is None:
                clip.path = os.path.abspath(wav)  # so that a save elsewhere still names it
                missing.append((wav, clip))
            else:
                clip.samples, clip.sample_rate = samples
                if clip.end_s > MAX_SONG_S + 1:
                    raise ComposerError(wav, f"audio clip ends at {clip.end_s:.0f} s, later than {MAX_SONG_S:.0f} s")
        song.clips.append(clip)
    return song, missing


def _read_clip(wav: Path) -> tuple[np.ndarray, int] | None:
    """(samples, sample rate) of a clip's WAV file; None when there is no such file; ComposerError when it
    cannot be used. Only regular files are read (a FIFO or a terminal named in a file would block)."""
    try:
        mode = os.stat(wav).st_mode
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the name
        raise ComposerError(wav, f"audio clip cannot be read ({getattr(exc, 'strerror', None) or exc})") from None
    if not stat.S_ISREG(mode):
        raise ComposerError(wav, "audio clip is not a regular file")
    try:
        info = sf.info(str(wav))
        problem = _clip_info_problem(info)
        if problem:
            raise ComposerError(wav, f"audio clip cannot be used ({problem})")
        samples, sample_rate = sf.read(str(wav), dtype="float32", always_2d=False)
    except ComposerError:
        raise
    except Exception as exc:  # soundfile raises LibsndfileError, RuntimeError, TypeError, MemoryError, ...
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:160]
        raise ComposerError(wav, f"audio clip cannot be read ({reason})") from None
    if samples.ndim == 2 and samples.shape[1] == 1:
        samples = samples[:, 0]
    if samples.size:
        if not np.isfinite(samples).all():
            raise ComposerError(wav, "audio clip cannot be used (samples that are not numbers: NaN or infinity)")
        peak = float(np.abs(samples).max())
        if peak > MAX_CLIP_PEAK:
            raise ComposerError(wav, f"audio clip cannot be used (a sample of {peak:.3g}, corrupt data?)")
    return samples, int(sample_rate)


def _clip_info_problem(info) -> str | None:
    lo, hi = CLIP_RATES
    if not lo <= info.samplerate <= hi:
        return f"sample rate {info.samplerate} Hz, expected {lo} to {hi}"
    if not 1 <= info.channels <= MAX_CLIP_CHANNELS:
        return f"{info.channels} channels, at most {MAX_CLIP_CHANNELS}"
    if info.frames / info.samplerate > MAX_SONG_S:
        return f"{info.frames / info.samplerate:.0f} s long, more than {MAX_SONG_S:.0f} s"
    return None

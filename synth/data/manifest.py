"""Reading a data build's manifest.json: anything wrong is one ComposerError naming the file, never a traceback.

    manifest = read_manifest_file(folder / "manifest.json", "composer-audio-data/1", "audio-data",
                                  "build the data with `composer audio-data build`")
    rate = whole_number(manifest, "sample_rate", path, 1000, 768000)
    for entry in shard_entries(manifest, path):          # split, program, audio, notes checked
        ...

`read_jsonl(path)` reads a build's one-object-per-line files (pieces.jsonl, clips.jsonl) the same way.

The shard paths a manifest names are relative paths inside its folder: one that is absolute or climbs out
with `..` is refused, so a hostile manifest can make no reader (or `audio-data widen`, which links the base
build's shards) touch a file outside the build.
"""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from composer.errors import ComposerError

MAX_MANIFEST_BYTES = 64 * 1024 * 1024


def read_manifest_file(path: Path, expected_format: str, what: str, build_hint: str) -> dict:
    """The manifest at `path` as a dict with "format" == expected_format; ComposerError (one line) otherwise."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ComposerError(path, f"{path.stat().st_size} bytes, too large for a manifest")
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ComposerError(path, f"no such file; {build_hint}") from None
    except IsADirectoryError:
        raise ComposerError(path, "is a directory, expected a manifest file") from None
    except UnicodeDecodeError:
        raise ComposerError(path, f"not {_a(what)} manifest (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise ComposerError(path, f"not {_a(what)} manifest (invalid JSON at {where}: {exc.msg})") from None
    except RecursionError:
        raise ComposerError(path, f"not {_a(what)} manifest (JSON nested too deeply)") from None
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        raise ComposerError(path, f"not {_a(what)} manifest ({str(exc)[:120]})") from None
    except OSError as exc:
        raise ComposerError(path, f"cannot read the manifest ({exc.strerror or exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != expected_format:
        raise ComposerError(path, f"not {_a(what)} manifest (expected format {expected_format})")
    return manifest


def _a(what: str) -> str:
    return f"an {what}" if what[:1].lower() in "aeiou" else f"a {what}"


def whole_number(manifest: dict, key: str, path: Path, lo: int, hi: int) -> int:
    value = manifest.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
        raise ComposerError(path, f"{key} {str(value)[:40]!r} is not a whole number from {lo} to {hi}")
    return value


def relative_file(value: object, path: Path, what: str) -> str:
    """A shard path as a manifest names it: relative, inside the build folder."""
    if not isinstance(value, str) or not value or "\x00" in value:
        raise ComposerError(path, f"{what} {str(value)[:60]!r} is not a file name")
    parts = PurePosixPath(value.replace("\\", "/"))
    if parts.is_absolute() or ".." in parts.parts or Path(value).is_absolute():
        raise ComposerError(path, f"{what} {value[:60]!r} lies outside the build folder")
    return value


def shard_entries(manifest: dict, path: Path, splits: tuple[str, ...], programs: range = range(0, 129)) -> list[dict]:
    """manifest["shards"] (an audio-data build's list) with each entry's split, program, audio, notes checked."""
    shards = manifest.get("shards", [])
    if not isinstance(shards, list):
        raise ComposerError(path, "shards is not a list")
    for i, entry in enumerate(shards):
        if not isinstance(entry, dict):
            raise ComposerError(path, f"shard {i} is not an object")
        if entry.get("split") not in splits:
            raise ComposerError(path, f"shard {i}: split {str(entry.get('split'))[:40]!r}, expected one of {splits}")
        program = entry.get("program")
        if not isinstance(program, int) or isinstance(program, bool) or program not in programs:
            raise ComposerError(path, f"shard {i}: program {str(program)[:40]!r} is not a GM program number")
        for key in ("audio", "notes"):
            relative_file(entry.get(key), path, f"shard {i}: {key}")
    return shards


def read_jsonl(path: Path, required: tuple[str, ...] = ()) -> list[dict]:
    """The objects of a JSON-lines file, each with the keys `required`; ComposerError naming the file and the
    line otherwise."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise ComposerError(path, "no such file") from None
    except UnicodeDecodeError:
        raise ComposerError(path, "not JSON lines (not UTF-8 text)") from None
    except OSError as exc:
        raise ComposerError(path, f"cannot read ({exc.strerror or exc})") from None
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (ValueError, RecursionError) as exc:
            raise ComposerError(path, f"line {number} is not JSON ({str(exc)[:100]})") from None
        if not isinstance(row, dict) or any(key not in row for key in required):
            raise ComposerError(path, f"line {number} is not an object with {', '.join(required) or 'keys'}")
        rows.append(row)
    return rows

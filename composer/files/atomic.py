"""Atomic file writes: a crash never leaves a half-written file."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

from composer.errors import ComposerError

TEMP_SUFFIX = ".tmp"  # temporary names are `.NAME.<random>.tmp<suffix>` beside the target


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    """Call `write(tmp_path)`, fsync, then rename onto `path` (and fsync the folder).

    On any failure the temporary file is removed and `path` is untouched. An
    operating-system failure (a folder in the way, no permission, disk full)
    becomes a ComposerError naming `path`.
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ComposerError(path, f"folder {directory} does not exist")
    if path.is_dir():
        raise ComposerError(path, "is a directory, expected a file name")
    try:
        tmp = _create_temp(directory, path)
    except OSError as exc:
        raise ComposerError(path, f"cannot write: {exc.strerror or exc}") from None
    try:
        write(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        if path.exists():  # an existing file keeps its mode
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
        fsync_folder(directory)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ComposerError(path, f"cannot write: {exc.strerror or exc}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _create_temp(directory: Path, path: Path) -> Path:
    """A new empty file beside `path`, created with mode 0o666 as open() would create `path` itself: the
    kernel applies the umask (and a default ACL), so nothing here reads or changes the process's umask, which
    other threads share (setting it to 0 even briefly would give their new files mode 0o666)."""
    for _ in range(100):
        tmp = directory / f".{path.name}.{secrets.token_hex(4)}{TEMP_SUFFIX}{path.suffix}"
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(17, "no free temporary name", str(directory))


def is_temp_name(name: str) -> bool:
    """A temporary file left by an atomic write that was killed before its rename."""
    return name.startswith(".") and TEMP_SUFFIX in name


def fsync_folder(directory: Path) -> None:
    """Make a rename in `directory` durable (a power cut keeps it); a no-op where folders cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    atomic_write(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))

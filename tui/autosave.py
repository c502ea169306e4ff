"""Autosave to a known place, and notice after a crash that there is one to restore.

Files live in `$COMPOSER_HOME` (tests set it) or `~/.local/share/composer`:

    sessions/<id>.lock        one per running app: its pid and that process's start time (and the boot), the
                              autosave it writes; left behind by a crash
    autosave/<key>/song.json  a session's autosave (a project file, its clips in song.clips/ beside it); <key> is
                              made from the project's path, or is "new-<session id>" for a song not saved yet
    kept/<key>@<time>-<n>/    a crashed session's autosave, moved aside whole (one rename) so that nothing
                              overwrites it; info.json says its project, its time and whether it was declined

A lock whose process is gone (no such pid, or the pid now belongs to a process that started at another time,
or the machine was rebooted since) is stale: its session crashed. Whichever session looks first
(`crashed_session`, `begin_session`, `set_project`) moves that session's autosave into kept/ and removes the
lock. Two apps running at once each see the other's lock as live, offer nothing, and write their own files.

A kept autosave stays until the user restores it (its folder then becomes the session's autosave, one rename)
or discards it on purpose; declining (`keep`) leaves it in kept/, listed by `kept()`, not offered again.
A clean exit saves one last time and removes the lock; its autosave stays in autosave/ (the newest
LEFTOVERS_KEPT of those are kept) and is not offered.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import time
from dataclasses import dataclass
from pathlib import Path

from composer.errors import ComposerError
from composer.files.atomic import atomic_write_text
from composer.files.project import load_project, save_project
from composer.song import Song

SONG_FILE = "song.json"
INFO_FILE = "info.json"
LEFTOVERS_KEPT = 10  # autosaves of sessions that ended cleanly, newest first
LEGACY_AUTOSAVE, LEGACY_LOCK = "autosave.json", "session.lock"  # the single-file layout of earlier versions
LEGACY_WINDOW_S = 300.0  # an old-style lock says when the app started, seconds after its process did


def composer_home() -> Path:
    home = os.environ.get("COMPOSER_HOME")
    if home:
        return Path(home)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "composer"


@dataclass(frozen=True)
class KeptAutosave:
    """An autosave left by a session that crashed, kept aside until restored or discarded."""

    folder: Path
    path: Path  # the project file inside the folder
    project: str | None  # the project that session had open; None for a new song
    saved_at: float  # when it was last autosaved (seconds since the epoch)
    declined: bool  # the user said "not now": listed by kept(), not offered by crashed_session()

    def describe(self) -> str:
        what = f"of {Path(self.project).name}" if self.project else "of a new song"
        return f"the autosave {what} from {time.strftime('%Y-%m-%d %H:%M', time.localtime(self.saved_at))}"


class Autosave:
    def __init__(self, home: Path | None = None) -> None:
        self.home = composer_home() if home is None else Path(home)
        self.session_id = f"{os.getpid()}-{secrets.token_hex(4)}"
        self.lock_path = self.home / "sessions" / f"{self.session_id}.lock"
        self.project: str | None = None
        self.key = f"new-{self.session_id}"
        self.offered: KeptAutosave | None = None  # set by crashed_session()

    @property
    def path(self) -> Path:
        """This session's autosave file (where save() writes)."""
        return self.home / "autosave" / self.key / SONG_FILE

    # -- sessions

    def crashed_session(self) -> bool:
        """True when a session that crashed left an autosave that the user has not answered for yet; it is
        `offered` (the newest) and `load()` restores it."""
        self.collect_crashed()
        waiting = [k for k in self.kept() if not k.declined]
        self.offered = waiting[0] if waiting else None
        return self.offered is not None

    def begin_session(self, project_path: str | os.PathLike | None = None) -> None:
        self._ensure_home()
        self.collect_crashed()
        self._switch_key(project_path)
        self._prune_leftovers()

    def set_project(self, project_path: str | os.PathLike | None) -> None:
        """The song is now the project at `project_path` (opened, or saved as), or a new song (None): later
        autosaves go to that project's own autosave, never to another session's. This session's autosave so
        far moves along with it (one rename), so a crash in between still leaves it to restore."""
        if project_path is not None and self.project == os.path.realpath(project_path):
            return
        self._ensure_home()
        self.collect_crashed()
        self._switch_key(project_path)

    def end_session(self, song: Song) -> None:
        """Final save on a clean exit, then drop the lock."""
        self.save(song)
        self.lock_path.unlink(missing_ok=True)

    # -- the song

    def save(self, song: Song) -> None:
        self._ensure_home()
        if not self.lock_path.exists():  # save() before begin_session(): the autosave still has an owner
            self._write_lock()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        save_project(song, self.path)

    def load(self) -> Song:
        """The autosave that crashed_session() offers (as restore())."""
        return self.restore()

    # -- kept autosaves

    def kept(self) -> list[KeptAutosave]:
        """Every kept autosave, newest first."""
        found = []
        with contextlib.suppress(OSError):
            for folder in (self.home / "kept").iterdir():
                item = _read_kept(folder)
                if item is not None:
                    found.append(item)
        return sorted(found, key=lambda k: k.saved_at, reverse=True)

    def restore(self, kept: KeptAutosave | None = None) -> Song:
        """Read a kept autosave (default: the offered one); it becomes this session's autosave (its folder is
        moved, one rename), so it is never offered twice, and a crash from here on offers it (or what this
        session autosaved after it) again."""
        kept = kept or self.offered
        if kept is None:
            raise ComposerError(self.home / "kept", "no autosave to restore")
        song = load_project(kept.path)
        self._ensure_home()
        if not self.lock_path.exists():
            self._write_lock()
        own = self.path.parent
        if kept.path.name == SONG_FILE:
            _remove_folder(own)  # this session's autosave of the song being replaced
            try:
                os.rename(kept.folder, own)
                (own / INFO_FILE).unlink(missing_ok=True)
            except OSError:
                self.save(song)  # another file system, or it went: a copy of what was read
                _remove_folder(kept.folder)
        else:  # an earlier version's autosave.json: saved anew as song.json, then removed
            self.save(song)
            _remove_folder(kept.folder)
        if kept == self.offered:
            self.offered = None
        return song

    def keep(self, kept: KeptAutosave | None = None) -> None:
        """The user declined to restore: the autosave stays in kept/ (with its time), not offered again."""
        kept = kept or self.offered
        if kept is None:
            return
        info = _read_info(kept.folder)
        info.update(declined=True, declined_at=time.time())
        atomic_write_text(kept.folder / INFO_FILE, json.dumps(info))
        if kept == self.offered:
            self.offered = None

    def discard(self, kept: KeptAutosave | None = None) -> None:
        """The user discarded it on purpose: remove it."""
        kept = kept or self.offered
        if kept is None:
            return
        if kept.folder.parent != self.home / "kept":
            raise ComposerError(kept.folder, "is not a kept autosave")
        _remove_folder(kept.folder)
        if kept == self.offered:
            self.offered = None

    # -- crashed sessions

    def collect_crashed(self) -> None:
        """Move the autosave of every session whose process is gone into kept/, and remove its lock."""
        sessions = self.home / "sessions"
        with contextlib.suppress(OSError):
            for lock in sessions.glob("*.lock"):
                if lock == self.lock_path:
                    continue
                info = _read_json(lock)
                if info is not None and _alive(info):
                    continue
                if info is not None:
                    project = info.get("project") if isinstance(info.get("project"), str) else None
                    for key in (info.get("key"), info.get("previous")):  # previous: while switching keys
                        if isinstance(key, str) and _safe_key(key):
                            self._put_aside(self.home / "autosave" / key, key, project, info.get("pid"))
                lock.unlink(missing_ok=True)
        self._collect_legacy()
        _remove_trash(self.home / "kept")
        _remove_trash(self.home / "autosave")

    def _put_aside(self, folder: Path, key: str, project: str | None, pid) -> None:
        song_file = folder / SONG_FILE
        try:
            saved_at = song_file.stat().st_mtime
        except FileNotFoundError:
            _remove_folder(folder)  # it crashed before its first autosave finished
            return
        except OSError:
            return
        target = self._kept_folder(key, saved_at)
        try:
            os.rename(folder, target)  # one rename: another session racing for it gets FileNotFoundError
        except OSError:
            return
        info = {"project": project, "saved_at": saved_at, "pid": pid, "crashed_found_at": time.time()}
        with contextlib.suppress(ComposerError):
            atomic_write_text(target / INFO_FILE, json.dumps(info))

    def _kept_folder(self, key: str, saved_at: float) -> Path:
        kept = self.home / "kept"
        kept.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(saved_at))
        return kept / f"{key}@{stamp}-{secrets.token_hex(3)}"

    def _collect_legacy(self) -> None:
        """The single autosave.json + session.lock of earlier versions: a stale lock's autosave is kept too."""
        lock = self.home / LEGACY_LOCK
        if not lock.exists():
            return
        info = _read_json(lock)
        if info is not None and _alive(info):
            return
        song_file = self.home / LEGACY_AUTOSAVE
        if song_file.exists():
            try:
                saved_at = song_file.stat().st_mtime
                target = self._kept_folder("legacy", saved_at)
                target.mkdir()
                clips = song_file.with_suffix(".clips")
                if clips.is_dir():
                    os.rename(clips, target / clips.name)
                os.rename(song_file, target / song_file.name)
            except OSError:
                return
            project = info.get("project") if info and isinstance(info.get("project"), str) else None
            meta = {"project": project, "saved_at": saved_at, "pid": info.get("pid") if info else None}
            with contextlib.suppress(ComposerError):
                atomic_write_text(target / INFO_FILE, json.dumps(meta))
        lock.unlink(missing_ok=True)

    # -- this session's key and lock

    def _ensure_home(self) -> None:
        for sub in ("sessions", "autosave"):
            (self.home / sub).mkdir(parents=True, exist_ok=True)

    def _switch_key(self, project_path: str | os.PathLike | None) -> None:
        """Take the key of `project_path` (or a new song's): the lock names both keys while this session's
        autosave folder moves from the old one to the new one, then the new one alone."""
        project, key = self._key_for(project_path)
        old = self.key
        if key != old:
            self._take_over(key, project)
            self.project, self.key = project, key
            self._write_lock(previous=old)
            with contextlib.suppress(FileNotFoundError):
                os.rename(self.home / "autosave" / old, self.home / "autosave" / key)
        self.project, self.key = project, key
        self._write_lock()

    def _key_for(self, project_path: str | os.PathLike | None) -> tuple[str | None, str]:
        if project_path is None:
            return None, (self.key if self.key.startswith("new-") else f"new-{self.session_id}")
        resolved = os.path.realpath(project_path)
        digest = hashlib.sha1(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:12]
        slug = re.sub(r"[^A-Za-z0-9_-]+", "-", Path(resolved).stem).strip("-")[:32] or "song"
        key = f"{slug}-{digest}"
        if key in self._live_keys():  # the same project open in another app: each writes its own
            key = f"{key}-{self.session_id}"
        return resolved, key

    def _live_keys(self) -> set[str]:
        keys = set()
        with contextlib.suppress(OSError):
            for lock in (self.home / "sessions").glob("*.lock"):
                if lock == self.lock_path:
                    continue
                info = _read_json(lock)
                if info is not None and _alive(info):
                    keys.update(k for k in (info.get("key"), info.get("previous")) if isinstance(k, str))
        return keys

    def _take_over(self, key: str, project: str | None) -> None:
        """Before this session's autosave takes `key`: an autosave left there by a clean exit is kept (declined:
        listed, not offered) if it holds edits made after the project was last saved, else removed."""
        folder = self.home / "autosave" / key
        try:
            saved_at = (folder / SONG_FILE).stat().st_mtime
        except FileNotFoundError:
            _remove_folder(folder)
            return
        except OSError:
            return
        try:
            project_saved = os.stat(project).st_mtime if project else 0.0
        except OSError:
            project_saved = 0.0
        if saved_at <= project_saved:
            _remove_folder(folder)
            return
        target = self._kept_folder(key, saved_at)
        try:
            os.rename(folder, target)
        except OSError:
            return
        info = {"project": project, "saved_at": saved_at, "pid": None, "declined": True, "left_by": "clean exit"}
        with contextlib.suppress(ComposerError):
            atomic_write_text(target / INFO_FILE, json.dumps(info))

    def _write_lock(self, previous: str | None = None) -> None:
        info = {
            "pid": os.getpid(),
            "start": _process_start(os.getpid()),
            "boot": _boot_id(),
            "host": socket.gethostname(),
            "started": time.time(),
            "session": self.session_id,
            "key": self.key,
            "previous": previous,
            "project": self.project,
        }
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.lock_path, json.dumps(info))

    def _prune_leftovers(self) -> None:
        live = self._live_keys() | {self.key}
        leftovers = []
        with contextlib.suppress(OSError):
            for folder in (self.home / "autosave").iterdir():
                if folder.name in live or folder.name.startswith(".") or not folder.is_dir() or folder.is_symlink():
                    continue
                try:
                    leftovers.append((folder.stat().st_mtime, folder))
                except OSError:
                    continue
        for _, folder in sorted(leftovers, reverse=True)[LEFTOVERS_KEPT:]:
            _remove_folder(folder)


def _remove_folder(folder: Path) -> None:
    """Remove a folder so that a crash midway never leaves half of it under its name: rename it to a hidden
    name first (one step), then delete that (the next look removes what a crash left)."""
    trash = folder.with_name(f".trash-{folder.name}-{secrets.token_hex(3)}")
    try:
        os.rename(folder, trash)
    except FileNotFoundError:
        return
    except OSError:
        trash = folder
    shutil.rmtree(trash, ignore_errors=True)


def _remove_trash(parent: Path) -> None:
    with contextlib.suppress(OSError):
        for folder in parent.glob(".trash-*"):
            shutil.rmtree(folder, ignore_errors=True)


def _safe_key(key: str) -> bool:
    """A key read from a lock names a folder under autosave/, nothing else."""
    return bool(re.fullmatch(r"[A-Za-z0-9_-]{1,120}", key))


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _read_info(folder: Path) -> dict:
    return _read_json(folder / INFO_FILE) or {}


def _read_kept(folder: Path) -> KeptAutosave | None:
    if folder.name.startswith(".") or not folder.is_dir() or folder.is_symlink():
        return None
    song = folder / SONG_FILE
    if not song.exists():
        song = folder / LEGACY_AUTOSAVE
        if not song.exists():
            return None
    info = _read_info(folder)
    saved_at = info.get("saved_at")
    if not isinstance(saved_at, int | float) or isinstance(saved_at, bool):
        try:
            saved_at = song.stat().st_mtime
        except OSError:
            return None
    project = info.get("project") if isinstance(info.get("project"), str) else None
    return KeptAutosave(folder, song, project, float(saved_at), info.get("declined") is True)


# -- is a lock's process still running?


def _process_start(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (Linux /proc); None where it cannot be read."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat[stat.rindex(")") + 2 :].split()[19])  # field 22; the name in (...) may hold spaces
    except (OSError, ValueError, IndexError):
        return None


def _boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip() or None
    except OSError:
        return None


def _process_start_wall(pid: int) -> float | None:
    ticks = _process_start(pid)
    try:
        btime = next(line for line in Path("/proc/stat").read_text().splitlines() if line.startswith("btime "))
        return int(btime.split()[1]) + ticks / os.sysconf("SC_CLK_TCK") if ticks is not None else None
    except (OSError, ValueError, StopIteration):
        return None


def _alive(info: dict) -> bool:
    """Whether the process that wrote a lock still runs (a lock of another machine counts as alive)."""
    pid = info.get("pid")
    if not isinstance(pid, int) or isinstance(pid, bool) or pid <= 0:
        return False
    host = info.get("host")
    if isinstance(host, str) and host != socket.gethostname():
        return True  # a home folder shared between machines: that one's processes cannot be seen from here
    boot = info.get("boot")
    if isinstance(boot, str) and _boot_id() not in (None, boot):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    except (OSError, OverflowError):
        return False
    start, now_start = info.get("start"), _process_start(pid)
    if isinstance(start, int) and now_start is not None:
        return start == now_start  # a pid used again by a later process is not the owner
    if "start" in info:  # written where the start time could not be read: the pid is all there is
        return True
    started = info.get("started")  # an earlier version's lock: when the app started, after its process did
    began = _process_start_wall(pid)
    if isinstance(started, int | float) and began is not None:
        return began - 2.0 <= started <= began + LEGACY_WINDOW_S
    return False

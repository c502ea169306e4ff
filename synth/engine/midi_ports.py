"""MIDI ports through mido's rtmidi backend: ALSA first, JACK as the fallback.

    api = midi_api()                        # MidiApi("LINUX_ALSA"|"UNIX_JACK", backend) or None
    ports = list_ports()                    # MidiPorts(api_name, inputs, outputs, problem)
    port = MidiInput("Keystation", on_message=print)   # by name, name prefix or index
    port.check()                            # False (and one line to `report`) if it vanished
    port.rescan()                           # reopens it once it is back

The API is chosen by trying each in turn (ALSA fails at once where there is
no sequencer, JACK where no server runs), through `mido.Backend` objects, never
mido's global `set_backend`. Messages arrive on rtmidi's callback thread and
go straight to `on_message(msg, time_s)`, where `time_s` is on the
`time.perf_counter()` clock: the arrival of the first message, then the
driver's own spacing between messages (so a burst delivered late after a stall
keeps its timing). Ports are listed through mido and opened with rtmidi
directly, for those driver timestamps. The receiver must be thread-safe (Engine.live_* and Recorder are).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import mido

from composer.errors import ComposerError

API_ORDER = ("LINUX_ALSA", "UNIX_JACK")
API_LABELS = {"LINUX_ALSA": "ALSA", "UNIX_JACK": "JACK", "MACOSX_CORE": "CoreMIDI", "WINDOWS_MM": "WinMM"}
# The clients our own ports belong to (JACK and ALSA list them among everyone's: a picker leaves them out).
CLIENT_IN, CLIENT_OUT = "composer in", "composer out"

MessageHandler = Callable[[mido.Message, float], None]


_STDERR_LOCK = threading.RLock()  # fd 2 is the process's: one silencer at a time, or one restores the other's


@contextmanager
def quiet_stderr(quiet: bool = True) -> Iterator[None]:
    """Silence what C libraries (ALSA, libjack) print on fd 2 while probing (nothing, when not `quiet`).

    Everything on fd 2 is lost meanwhile, a Textual app's screen updates too (it draws on stderr): the
    app's periodic port watch lists ports with the API known to work, and not quietly."""
    if not quiet:
        yield
        return
    with _STDERR_LOCK:
        try:
            saved = os.dup(2)
        except OSError:
            yield
            return
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, 2)
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            os.close(devnull)


@dataclass
class MidiApi:
    name: str  # rtmidi API name as mido spells it: "LINUX_ALSA", "UNIX_JACK"
    backend: mido.Backend

    @property
    def label(self) -> str:
        return API_LABELS.get(self.name, self.name)


@dataclass
class MidiPorts:
    api: str | None  # label of the API in use, None when none works
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    problem: str = ""  # why no API works
    api_name: str | None = None  # the API in use as mido spells it ("UNIX_JACK"), for list_ports(preferred=)


def _backend(api_name: str) -> mido.Backend:
    return mido.Backend(f"mido.backends.rtmidi/{api_name}", load=True)


def midi_api(preferred: str | None = None, quiet: bool = True) -> tuple[MidiApi | None, str]:
    """The first rtmidi API that works (ALSA, then JACK), and the reasons the others failed."""
    order = (preferred,) if preferred else API_ORDER
    problems = []
    for api_name in order:
        try:
            backend = _backend(api_name)
            with quiet_stderr(quiet):
                backend.get_input_names()
            return MidiApi(api_name, backend), ""
        except Exception as exc:  # rtmidi raises SystemError, ValueError (API not compiled in)
            problems.append(f"{API_LABELS.get(api_name, api_name)}: {_one_line(exc)}")
    return None, "; ".join(problems)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text.split(": ", 1)[-1] if "::" in text else (text or type(exc).__name__)


def list_ports(preferred: str | None = None, quiet: bool = True) -> MidiPorts:
    """The ports of the first API that works (or of `preferred`); `quiet=False` leaves stderr alone."""
    api, problem = midi_api(preferred, quiet)
    if api is None:
        return MidiPorts(None, problem=problem)
    with quiet_stderr(quiet):
        inputs, outputs = api.backend.get_input_names(), api.backend.get_output_names()
    return MidiPorts(api.label, inputs, outputs, api_name=api.name)


def resolve_port(names: list[str], wanted: str | int | None, kind: str = "input") -> str:
    """Pick a port by index, exact name or unique name prefix/substring; ComposerError if none."""
    if not names:
        raise ComposerError(None, f"no MIDI {kind} port")
    if wanted is None:
        return names[0]
    text = str(wanted)
    if text.isdigit():
        index = int(text)
        if index < len(names):
            return names[index]
    if text in names:
        return text
    matches = [n for n in names if n.startswith(text)] or [n for n in names if text.lower() in n.lower()]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(f"{i}: {n}" for i, n in enumerate(names))
    problem = "matches several" if matches else "no such"
    raise ComposerError(str(wanted), f"{problem} MIDI {kind} port (ports: {known})")


class MidiInput:
    """A MIDI input port that reports messages to `on_message(msg, time_s)` from rtmidi's thread.

    `wanted` is a name, a name prefix, an index or None (the first port).
    If the port disappears (device unplugged, JACK client gone) `check()`
    says so once through `report` and the session goes on; `rescan()` reopens it.
    """

    def __init__(
        self,
        wanted: str | int | None,
        on_message: MessageHandler,
        api: MidiApi | None = None,
        report: Callable[[str], None] = print,
    ) -> None:
        if api is None:
            api, problem = midi_api()
            if api is None:
                raise ComposerError(None, f"no MIDI input ({problem})")
        self.api = api
        self.on_message = on_message
        self.report = report
        self.wanted = wanted
        self.messages = 0
        self._lock = threading.Lock()
        self._port = None
        self._virtual = False
        with quiet_stderr():
            names = api.backend.get_input_names()
        self.name = resolve_port(names, wanted)
        self._open()

    @classmethod
    def virtual(
        cls, name: str, on_message: MessageHandler, api: MidiApi, report: Callable[[str], None] = print
    ) -> MidiInput:
        """A virtual input port named `name` that other programs connect to (ALSA and JACK only)."""
        self = cls.__new__(cls)
        self.api, self.on_message, self.report, self.wanted = api, on_message, report, name
        self.messages = 0
        self._lock = threading.Lock()
        self.name = name
        self._open(virtual=True)
        self._virtual = True
        return self

    @property
    def is_open(self) -> bool:
        return self._port is not None

    def _deliver(self, event: tuple[list[int], float], _data=None) -> None:
        # rtmidi's delta time comes from the driver (JACK frame time), so a burst delivered late
        # after a stall keeps its real spacing; the clock never runs ahead of the wall clock.
        data, delta_s = event
        now = time.perf_counter()
        self._clock_s = now if self._clock_s is None else min(self._clock_s + delta_s, now)
        try:
            msg = mido.Message.from_bytes(data)
        except ValueError:
            return  # not a channel message we understand
        self.messages += 1
        self.on_message(msg, self._clock_s)

    def _open(self, virtual: bool = False) -> None:
        import rtmidi

        with quiet_stderr():
            rt = rtmidi.MidiIn(rtapi=getattr(rtmidi, f"API_{self.api.name}"), name=CLIENT_IN)
            try:
                if virtual:
                    rt.open_virtual_port(self.name)
                else:
                    rt.open_port(rt.get_ports().index(self.name))
            except (ValueError, rtmidi.RtMidiError) as exc:
                rt.delete()
                raise OSError(str(exc)) from None
        rt.ignore_types(sysex=True, timing=True, active_sense=True)
        self._clock_s = None
        rt.set_callback(self._deliver)
        self._port = rt

    def check(self) -> bool:
        """True while the port is there; on loss, close it and report one line."""
        with self._lock:
            if self._port is None:
                return False
            if self._virtual:
                return True  # our own port cannot be unplugged
            with quiet_stderr():
                names = self.api.backend.get_input_names()
            if self.name in names:
                return True
            self._close_port()
        self.report(f"MIDI input {self.name!r} is gone; still running, it reopens when it is back")
        return False

    def rescan(self) -> bool:
        """Reopen the port if it came back (same name); True when open afterwards."""
        with self._lock:
            if self._port is not None:
                return True
            with quiet_stderr():
                names = self.api.backend.get_input_names()
            if self.name not in names:
                return False
            try:
                self._open()
            except OSError:
                return False
        self.report(f"MIDI input {self.name!r} is back ({self.api.label})")
        return True

    def _close_port(self) -> None:
        if self._port is not None:
            port, self._port = self._port, None
            port.cancel_callback()
            port.close_port()
            port.delete()

    def close(self) -> None:
        with self._lock:
            self._close_port()

    def __enter__(self) -> MidiInput:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class MidiOutput:
    """A MIDI output port (by name, prefix, index or None) with a locked `send`.

    Opened with rtmidi directly (its client named CLIENT_OUT, so pickers can leave our own port out).
    """

    def __init__(self, wanted: str | int | None, api: MidiApi | None = None) -> None:
        import rtmidi

        if api is None:
            api, problem = midi_api()
            if api is None:
                raise ComposerError(None, f"no MIDI output ({problem})")
        self.api = api
        with quiet_stderr():
            self.name = resolve_port(api.backend.get_output_names(), wanted, "output")
            rt = rtmidi.MidiOut(rtapi=getattr(rtmidi, f"API_{api.name}"), name=CLIENT_OUT)
            try:
                rt.open_port(rt.get_ports().index(self.name))
            except (ValueError, rtmidi.RtMidiError) as exc:
                rt.delete()
                raise OSError(str(exc)) from None
        self._port = rt
        self._lock = threading.Lock()

    def send(self, msg: mido.Message) -> None:
        with self._lock:
            if self._port is not None:
                self._port.send_message(msg.bytes())

    def close(self) -> None:
        with self._lock:
            port, self._port = self._port, None
            if port is not None:
                port.close_port()
                port.delete()

    def __enter__(self) -> MidiOutput:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

"""The app's devices: which audio output, MIDI input and MIDI output it uses, and changing them while it runs.

    devices = AppDevices(app)          # app: tui.app.ComposerApp
    listing = devices.scan()           # blocking (PortAudio, JACK/ALSA clients): call from a worker thread
    devices.choose("midi_input", "Keystation:out")   # applied in a worker thread, remembered, said in one line

Choosing an audio output restarts the engine's output on that device (AudioOutput.close, then start
on the new device: the render thread and the stream are stopped and made again; the engine, its song
position and its synths stay). Choosing a MIDI input closes the open port and opens the new one into
the same live session (monitoring, recording, jam). Choosing a MIDI output starts a
synth.engine.midi_out.MidiOutSender on it, following the app's playback (the engine, or the silent
clock without sound). Each choice is saved in tui.device_settings at once; none is part of the song or
of undo. `watch()` (every SCAN_EVERY_S, from the app's timer) notices ports appearing and going, says so
in one line, and reopens a chosen port that came back.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from composer.errors import ComposerError
from tui.device_settings import NO_INPUT, DeviceSettings, load_device_settings, save_device_settings

SCAN_EVERY_S = 3.0
KINDS = ("audio_output", "midi_input", "midi_output", "midi_clock")


@dataclass
class AudioDevice:
    index: int
    name: str
    host_api: str
    default: bool = False


@dataclass
class DeviceListing:
    """What the machine has now: audio outputs, MIDI inputs and outputs, and why any list is empty."""

    audio: list[AudioDevice] = field(default_factory=list)
    audio_problem: str = ""
    midi_api: str | None = None
    midi_inputs: list[str] = field(default_factory=list)
    midi_outputs: list[str] = field(default_factory=list)
    midi_problem: str = ""
    midi_api_name: str | None = None  # as mido spells it ("UNIX_JACK")


def scan_devices(own_ports: tuple[str, ...] = (), midi_api: str | None = None) -> DeviceListing:
    """Audio outputs (PortAudio's list, as of its start) and MIDI ports (asked now); `own_ports` left out.

    With `midi_api` (known to work: "UNIX_JACK") only that API is asked, and stderr is not silenced."""
    from synth.engine.audio_out import NoAudioDevice, import_sounddevice

    listing = DeviceListing()
    try:
        sd = import_sounddevice()
        host_apis = sd.query_hostapis()
        try:
            default = sd.default.device[1]
        except (IndexError, TypeError):
            default = -1
        for index, device in enumerate(sd.query_devices()):
            if device["max_output_channels"] > 0:
                api = host_apis[device["hostapi"]]["name"]
                listing.audio.append(AudioDevice(index, device["name"], api, index == default))
        if not listing.audio:
            listing.audio_problem = "no audio output (is a sound server such as JACK running?)"
    except (NoAudioDevice, OSError) as exc:
        listing.audio_problem = str(exc)
    try:
        from synth.engine.midi_ports import list_ports

        ports = list_ports(midi_api, quiet=midi_api is None)
    except ImportError as exc:
        listing.midi_problem = f"MIDI not available ({exc})"
        return listing
    listing.midi_api, listing.midi_api_name = ports.api, ports.api_name
    listing.midi_problem = "" if ports.api else f"no MIDI ({ports.problem})"
    listing.midi_inputs = [p for p in ports.inputs if not _own(p, own_ports)]
    listing.midi_outputs = [p for p in ports.outputs if not _own(p, own_ports)]
    return listing


def _own(port: str, own_ports: tuple[str, ...]) -> bool:
    return any(port.startswith(own) for own in own_ports)


class AppDevices:
    """The app's device choices and the open MIDI output (see the module docstring)."""

    def __init__(self, app) -> None:
        self.app = app
        self.settings = DeviceSettings()
        self.settings_problem: str | None = None
        self.midi_output = None  # synth.engine.midi_ports.MidiOutput
        self.sender = None  # synth.engine.midi_out.MidiOutSender on it
        self._lock = threading.Lock()  # one device change at a time (worker threads)
        self._known: tuple[set[str], set[str]] | None = None  # MIDI inputs and outputs at the last watch
        self._watching = False
        self._api_name: str | None = None  # the MIDI API the first watch found working ("UNIX_JACK")

    def load(self) -> None:
        try:
            self.settings = load_device_settings()
        except ComposerError as exc:
            self.settings_problem = str(exc)

    def save(self) -> str | None:
        """Write the settings; the one line saying why not, or None."""
        try:
            save_device_settings(self.settings)
        except ComposerError as exc:
            return f"devices not remembered: {exc}"
        return None

    # ---- what is in use (main thread) ----------------------------------------------------------------

    @property
    def audio_in_use(self) -> str | None:
        output = getattr(self.app.playback, "output", None)
        return output.device_name if output is not None and output.active else None

    @property
    def midi_input_in_use(self) -> str | None:
        port = self.app.midi_port
        return port.name if port is not None and port.is_open else None

    @property
    def midi_output_in_use(self) -> str | None:
        return self.midi_output.name if self.midi_output is not None else None

    def scan(self) -> DeviceListing:
        """Blocking: call from a worker thread. The app's own ports are left out."""
        from synth.engine.midi_ports import CLIENT_IN, CLIENT_OUT

        listing = scan_devices((CLIENT_IN, CLIENT_OUT), self._api_name)
        if self._api_name is None:
            self._api_name = listing.midi_api_name
        return listing

    # ---- choosing (work in a worker thread, the line on the main thread) -----------------------------

    def choose(self, kind: str, value, done: Callable[[str, bool], None] | None = None) -> None:
        """Use `value` for `kind` (one of KINDS) from now on and remember it; `done(line, error)` afterwards."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        work = functools.partial(self._choose, kind, value, done)
        self.app.run_worker(work, thread=True, group="devices", name=f"use {kind.replace('_', ' ')}")

    def _choose(self, kind: str, value, done) -> None:
        with self._lock:
            if kind == "audio_output":
                line, error = self._use_audio(value)
            elif kind == "midi_input":
                line, error = self._use_input(value)
            elif kind == "midi_output":
                line, error = self._use_output(value)
            else:
                line, error = self._use_clock(bool(value))
            if not error:
                setattr(self.settings, kind, value)
                problem = self.save()
                if problem:
                    line, error = f"{line}; {problem}", True
        self.app.call_from_thread(self._done, line, error, done)

    def _done(self, line: str, error: bool, done) -> None:
        self.app._say(line, error)
        if done is not None:
            done(line, error)

    def _use_audio(self, name: str | None) -> tuple[str, bool]:
        from synth.engine.audio_out import NoAudioDevice

        if not self.app.sound:
            return f"Audio output {name or 'default'}: used from the next start (sound is off for this run)", False
        index = self.audio_index(name)
        if name is not None and index is None:
            return f"Audio output {name!r} not found", True
        output = getattr(self.app.playback, "output", None)
        if output is None:  # no engine yet (no device at the start): open it on this one
            self.settings.audio_output = name
            self.app.call_from_thread(self.app.open_sound)
            return f"Audio output: opening {name or 'the default device'}…", False
        previous = output.device
        output.close()
        output.device = index
        try:
            output.start()
        except (NoAudioDevice, OSError) as exc:
            output.close()
            output.device = previous
            try:
                output.start()
            except (NoAudioDevice, OSError) as again:
                return f"Audio output {name!r} not opened ({exc}); the previous one neither ({again})", True
            return f"Audio output {name!r} not opened ({exc}); still on {output.device_name}", True
        return f"Audio output: {output.device_name}", False

    def _use_input(self, name: str) -> tuple[str, bool]:
        old = self.app.midi_port
        if old is not None:
            old.close()
            self.app.call_from_thread(setattr, self.app, "midi_port", None)
        if name == NO_INPUT:
            return "MIDI input: none", False
        try:
            session, port = self.open_input(name)
        except (ImportError, ComposerError, OSError) as exc:
            return f"MIDI input {name!r} not opened: {exc}", True
        self.app.call_from_thread(self.app._midi_ready, session, port)
        return f"MIDI input: {port.name}", False

    def open_input(self, wanted: str | None):
        """(live session, port) for MIDI input `wanted` (None: the first port), in the calling thread."""
        from synth.engine.live import LiveSession
        from synth.engine.midi_ports import MidiInput
        from tui.playback import CurrentPlayback

        app = self.app
        session = app.live if app.live is not None else LiveSession(CurrentPlayback(lambda: app.playback))
        route = functools.partial(app.midi_message, session=session)
        port = MidiInput(wanted, route, report=lambda line: app.call_from_thread(app.notify, line))
        return session, port

    def _use_output(self, name: str | None) -> tuple[str, bool]:
        self.close_output()
        if name is None:
            return "MIDI output: none", False
        try:
            self.open_output(name)
        except (ImportError, ComposerError, OSError) as exc:
            return f"MIDI output {name!r} not opened: {exc}", True
        return f"MIDI output: {self.midi_output.name}" + (" · clock on" if self.settings.midi_clock else ""), False

    def open_output(self, name: str) -> None:
        """Open MIDI output `name` and start sending to it, in the calling thread."""
        from synth.engine.midi_out import MidiOutSender
        from synth.engine.midi_ports import MidiOutput

        app = self.app
        port = MidiOutput(name)
        sender = MidiOutSender(
            app.song,
            port,
            self.transport,
            clock=self.settings.midi_clock,
            report=lambda line: app.call_from_thread(app.notify, line, severity="warning"),
        )
        sender.start()
        self.midi_output, self.sender = port, sender

    def transport(self) -> tuple[bool, float, bool, tuple[float, float] | None]:
        """What the MIDI out sender follows: the engine's heard position, or the silent clock's (any thread)."""
        playback = self.app.playback
        engine = getattr(playback, "engine", None)
        if engine is not None:
            heard_s, moving = engine.heard_state()
            return engine.playing, heard_s, moving, engine.loop
        return playback.playing, playback.position_s, playback.playing, playback.loop_s

    def _use_clock(self, on: bool) -> tuple[str, bool]:
        if self.sender is not None:
            self.sender.clock = on
        where = f" to {self.midi_output.name}" if self.midi_output is not None else " (once a MIDI output is chosen)"
        return f"MIDI clock out {'on' if on else 'off'}{where}", False

    def close_output(self) -> None:
        sender, port = self.sender, self.midi_output
        self.sender = self.midi_output = None
        if sender is not None:
            sender.close()
        if port is not None:
            port.close()

    def audio_index(self, name: str | None) -> int | None:
        """PortAudio's index of output device `name` (None for None or a device not there)."""
        if name is None:
            return None
        try:
            from synth.engine.audio_out import import_sounddevice

            devices = import_sounddevice().query_devices()
        except Exception:  # no PortAudio: no index
            return None
        for index, device in enumerate(devices):
            if device["name"] == name and device["max_output_channels"] > 0:
                return index
        return None

    # ---- at the start, and watching for hot-plug ------------------------------------------------------

    def start_output(self) -> str | None:
        """Open the remembered MIDI output if there is one (worker thread); the line to say, or None."""
        name = self.settings.midi_output
        if name is None:
            return None
        with self._lock:
            try:
                from synth.engine.midi_ports import list_ports

                if name not in list_ports().outputs:
                    return f"MIDI output {name!r} is not there; it opens when it appears (ctrl+d: devices)"
                self.open_output(name)
            except (ImportError, ComposerError, OSError) as exc:
                return f"MIDI output {name!r} not opened: {exc}"
        return f"MIDI output: {name}"

    def begin(self) -> None:
        """At the start (worker thread): open the remembered MIDI output, saying so."""
        line = self.start_output()
        if line:
            self.app.call_from_thread(self.app._say, line, "not opened" in line)

    def watch_soon(self) -> None:
        """The app's timer: one hot-plug look in a worker thread."""
        self.app.run_worker(self.watch, thread=True, exclusive=True, group="devices-watch", name="watch devices")

    def watch(self) -> None:
        """One hot-plug look (a worker thread): ports that came or went, in one line; chosen ones reopened."""
        if self._watching:
            return
        self._watching = True
        try:
            self._watch()
        finally:
            self._watching = False

    def _watch(self) -> None:
        from synth.engine.midi_ports import CLIENT_IN, CLIENT_OUT, list_ports

        # The first look probes quietly (stderr silenced: ALSA prints where it has no sequencer); later ones ask
        # only the API that worked, with stderr left alone, since silencing it would drop the app's screen
        # updates (Textual draws on stderr). Where no API worked there is nothing to watch: ctrl+d, r rescans.
        if self._api_name is None:
            if self._known is not None:
                return
            ports = list_ports()
            self._api_name = ports.api_name
            if ports.api is None:
                self._known = (set(), set())
                return
        else:
            ports = list_ports(self._api_name, quiet=False)
            if ports.api is None:
                return
        own = (CLIENT_IN, CLIENT_OUT)
        inputs = {p for p in ports.inputs if not _own(p, own)}
        outputs = {p for p in ports.outputs if not _own(p, own)}
        known, self._known = self._known, (inputs, outputs)
        if known is None:
            return
        changes = [f"+ in {p}" for p in sorted(inputs - known[0])] + [f"- in {p}" for p in sorted(known[0] - inputs)]
        changes += [f"+ out {p}" for p in sorted(outputs - known[1])]
        changes += [f"- out {p}" for p in sorted(known[1] - outputs)]
        app = self.app
        if changes:
            app.call_from_thread(app._say, "MIDI ports: " + ", ".join(changes))
        port = app.midi_port
        if port is not None:
            if port.is_open:
                port.check()
            else:
                port.rescan()
        wanted = self.settings.midi_output
        if self.midi_output is not None and self.midi_output.name not in outputs:
            gone = self.midi_output.name
            with self._lock:
                self.close_output()
            app.call_from_thread(app._say, f"MIDI output {gone!r} is gone; it reopens when it is back", True)
        elif wanted and self.midi_output is None and wanted in outputs:
            line = self.start_output()
            if line:
                app.call_from_thread(app._say, line)
        wanted_in = self.settings.midi_input
        if wanted_in and port is None and wanted_in in inputs:
            with self._lock:
                try:
                    session, opened = self.open_input(wanted_in)
                except (ImportError, ComposerError, OSError):
                    return
            app.call_from_thread(app._midi_ready, session, opened)

    def close(self) -> None:
        self.close_output()

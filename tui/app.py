"""The Textual studio that `composer` (no arguments) opens.

The app owns the song, its undo history, the transport (engine or silent
clock) and autosave; the screens and widgets in tui/screens and tui/widgets
show and edit it. Heavy parts (the audio engine, the model) load lazily so the
first frame comes fast.
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import threading
from pathlib import Path

from textual import work
from textual.app import App
from textual.message import Message
from textual.worker import NoActiveWorker, Worker, WorkerFailed, get_current_worker

from composer.errors import ComposerError
from composer.history import History
from composer.song import Song, Track
from tui.autosave import Autosave, KeptAutosave
from tui.device_settings import NO_INPUT
from tui.devices import SCAN_EVERY_S, AppDevices
from tui.keymap import load_keymap
from tui.palette import StudioCommands
from tui.playback import EnginePlayback, SilentClock, open_engine
from tui.screens.main import MainScreen
from tui.screens.restore import RestoreScreen

AUTOSAVE_EVERY_S = 30.0
SWITCH_INTERVAL_S = 0.001


class EngineNotice(Message):
    """A one-line notice from the audio engine (posted from its threads; posting never blocks)."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line


class ComposerApp(App):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    TITLE = "composer"
    COMMANDS = App.COMMANDS | {StudioCommands}

    def __init__(
        self,
        song: Song | None = None,
        autosave_every_s: float = AUTOSAVE_EVERY_S,
        sound: bool = True,
        model_path: str | Path | None = None,
        midi: bool | None = None,
    ) -> None:
        """`model_path`: the transformer's weights (default $COMPOSER_TRANSFORMER, else the shipped ones);
        `midi`: listen to the first MIDI input (default: when there is sound)."""
        super().__init__()
        env_model = os.environ.get("COMPOSER_TRANSFORMER")
        self.model_path: Path | None = Path(model_path) if model_path else Path(env_model) if env_model else None
        self.midi = sound if midi is None else midi
        self.live = None  # synth.engine.live.LiveSession once a MIDI keyboard is open
        self.jam = None  # tui.jam_link.AppJam while the main screen jams: the MIDI keyboard plays into it
        self.midi_port = None
        self.devices = AppDevices(self)  # the audio output, MIDI in and MIDI out in use (tui/devices.py)
        self.song = song if song is not None else Song(tracks=[Track(name="Track 1")])
        self.history = History()
        self.project_path: str | None = None
        self.dirty = False
        self.autosave = Autosave()
        self.autosave_every_s = autosave_every_s
        self.sound = sound
        self.neural_preloaded = threading.Event()  # set once the preload (with sound) has finished or failed
        reason = "opening the audio device…" if sound else "sound off for this run"
        self.playback: SilentClock | EnginePlayback = SilentClock(self.song, reason)
        self.theme = os.environ.get("COMPOSER_THEME", "textual-dark")

    def on_mount(self) -> None:
        # Worker threads (file loading, rendering, generation) run Python code that holds the GIL;
        # a short switch interval hands it back to the event loop often enough to keep frames coming.
        sys.setswitchinterval(SWITCH_INTERVAL_S)
        # A full garbage collection walks every object and holds the GIL meanwhile: ~100 ms here with
        # Textual and torch loaded, a visible stall when a worker's allocations trigger one. Objects alive
        # after the first frame (modules, widgets) are long-lived; freezing them keeps full collections short.
        self.call_after_refresh(gc.freeze)
        try:
            self.set_keymap(load_keymap())
        except ComposerError as exc:
            self.notify(f"Keys not remapped: {exc}", severity="error", timeout=10)
        try:
            crashed = self.autosave.crashed_session()
        except (OSError, ComposerError) as exc:
            crashed = False
            self.notify(f"Crashed sessions not looked for: {exc}", severity="warning", timeout=10)
        try:
            self.autosave.begin_session()
        except (OSError, ComposerError) as exc:
            self.notify(f"Autosave unavailable: {exc}", severity="warning", timeout=10)
        self.push_screen(MainScreen())
        if crashed and self.autosave.offered is not None:
            restore_screen = RestoreScreen(self.autosave.offered, self.autosave.kept(), self.autosave.discard)
            self.push_screen(restore_screen, self._restore_answer)
        self.set_interval(self.autosave_every_s, self.autosave_now)
        self.devices.load()
        if self.devices.settings_problem:
            self.notify(f"Devices: {self.devices.settings_problem}", severity="warning", timeout=10)
        if self.sound:
            self.open_sound()
        if self.midi:
            self.open_midi()
            self.run_worker(self.devices.begin, thread=True, group="devices", name="open the MIDI output")
            self.set_interval(SCAN_EVERY_S, self.devices.watch_soon)

    @work(thread=True, exclusive=True, group="sound")
    def open_sound(self) -> None:
        """Open the engine and the device (the remembered one, else the default) off the event loop (PortAudio can
        take a while)."""
        wanted = self.devices.settings.audio_output
        device = self.devices.audio_index(wanted)
        if wanted is not None and device is None:
            self.call_from_thread(self._say, f"Audio output {wanted!r} is not there; the default device plays")
        playback = open_engine(self.song, on_notice=lambda line: self.post_message(EngineNotice(line)), device=device)
        self.call_from_thread(self._sound_ready, playback)

    def on_engine_notice(self, message: EngineNotice) -> None:
        self.notify(message.line, severity="warning", timeout=10)

    @work(thread=True, exclusive=True, group="midi")
    def open_midi(self) -> None:
        """Play (and record) the remembered MIDI keyboard (else the first) through the current playback; silent
        when there is none (a remembered one that is not there opens when it appears: AppDevices.watch)."""
        wanted = self.devices.settings.midi_input
        if wanted == NO_INPUT:
            return
        try:
            from synth.engine.midi_ports import CLIENT_IN, CLIENT_OUT, list_ports

            inputs = [p for p in list_ports().inputs if not p.startswith((CLIENT_IN, CLIENT_OUT))]  # not our own
            if wanted is not None and wanted not in inputs:
                self.call_from_thread(self._say, f"MIDI input {wanted!r} is not there; it opens when it appears")
                return
            if not inputs:
                return
            session, port = self.devices.open_input(wanted or inputs[0])
        except (ImportError, ComposerError, OSError) as exc:
            self.call_from_thread(self.notify, f"MIDI input not opened: {exc}", severity="warning")
            return
        self.call_from_thread(self._midi_ready, session, port)

    def midi_message(self, msg, time_s: float | None = None, session=None) -> None:
        """The MIDI keyboard's messages (on the MIDI thread): to the jam while one runs, else to the live
        session (monitoring and recording)."""
        jam = self.jam
        if jam is not None:
            jam.handle(msg, time_s)
            return
        session = session if session is not None else self.live
        if session is not None:
            session.handle(msg, time_s)

    def _midi_ready(self, session, port) -> None:
        self.live, self.midi_port = session, port
        self.notify(f"MIDI keyboard: {port.name}")
        screen = self.screen
        if isinstance(screen, MainScreen):
            screen.refresh_all()

    def _sound_ready(self, playback: SilentClock | EnginePlayback) -> None:
        old = self.playback
        if old.loop_s is not None:
            playback.set_loop(*old.loop_s)
        playback.metronome = old.metronome
        playback.seek(old.position_s)
        self.playback = playback
        screen = self.screen
        if isinstance(screen, MainScreen):
            screen.update_state()
        if isinstance(playback, EnginePlayback):
            self.preload_neural()

    @work(thread=True, exclusive=True, group="preload")
    def preload_neural(self) -> None:
        """torch and the neural models, loaded once the sound is up (EnginePlayback.preload_neural says why)."""
        try:
            if self.playback.preload_neural():
                # torch and the models are long-lived: into the permanent generation, as start-up's objects
                # are (on_mount), or every full collection walks them (100 ms stalls of the render thread)
                gc.collect()
                gc.freeze()
        except Exception as exc:  # a model that cannot load says so when a track switches to it
            self.call_from_thread(self._say, f"Neural synth not preloaded: {type(exc).__name__}: {exc}")
        finally:
            self.neural_preloaded.set()

    def _restore_answer(self, answer: str | tuple[str, KeptAutosave] | None) -> None:
        """The restore screen's answer: "restore" (the offered autosave, or the one a tuple names), "later"
        (kept with its time, not offered again) or "discard" (removed for good); None leaves it offered."""
        which = None
        if isinstance(answer, tuple):
            answer, which = answer
        offered = which or self.autosave.offered
        if offered is None or answer not in ("restore", "later", "discard"):
            return
        what = offered.describe()
        try:
            if answer == "later":
                self.autosave.keep()
                self._say(f"Kept {what} in {offered.folder} (not offered again)")
                return
            if answer == "discard":
                self.autosave.discard()
                self._say(f"Discarded {what}")
                return
            restored = self.autosave.restore(which)
        except (OSError, ComposerError) as exc:
            verb = {"restore": "restored", "later": "kept", "discard": "discarded"}[answer]
            self.notify(f"Autosave not {verb}: {exc}", severity="error", timeout=10)
            return
        screen = self.screen
        if isinstance(screen, MainScreen):
            with screen.edit("restore autosave"):
                from composer.history import restore

                restore(self.song, restored)
            self._restored_project(offered.project)
            screen.refresh_all(f"Restored {what} ({sum(len(t.notes) for t in self.song.tracks)} notes)")

    def _restored_project(self, project: str | None) -> None:
        """The restored song is the project its session had open (or a new song): Save writes it back there,
        later autosaves go to that project's; it differs from the file on disk, so it is unsaved."""
        self.project_path = project if project and Path(project).parent.is_dir() else None
        self.dirty = True
        try:
            self.autosave.set_project(self.project_path)
        except (OSError, ComposerError) as exc:
            self._say(f"Autosave: {exc}", error=True)

    def _say(self, line: str, error: bool = False) -> None:
        """A line in the main screen's status bar, else a toast."""
        screen = self.screen
        if isinstance(screen, MainScreen):
            screen.say(line, error)
        else:
            self.notify(line, severity="error" if error else "information", timeout=10)

    # ----- errors nothing else caught -----

    def _handle_exception(self, error: Exception) -> None:
        """Textual calls this with an exception that nothing handled, and ends the app. A worker's (a thread
        worker's especially: export, the neural synth switch, opening a file) is one line and the app stays
        up; anything else still ends it, after one last autosave (its lock stays, so the next start offers
        it as a crashed session's)."""
        if isinstance(error, WorkerFailed):
            try:
                worker = get_current_worker()
            except NoActiveWorker:
                worker = None
            self.worker_failed(worker, error.error)
            return
        with contextlib.suppress(Exception):
            self.autosave.save(self.song)
        super()._handle_exception(error)

    def worker_failed(self, worker: Worker | None, error: BaseException) -> None:
        """One line for a worker that raised: a toast, and the main screen's status bar."""
        line = f"{_job_name(worker)} failed: {_one_line(error)}"
        self.log.error(line)
        self.notify(line, severity="error", timeout=10)
        screen = self.screen
        if isinstance(screen, MainScreen):
            screen.say(line, True)

    def autosave_now(self) -> None:
        if not self.dirty:
            return
        try:
            self.autosave.save(self.song)
        except (OSError, ComposerError) as exc:
            self.notify(f"Autosave failed: {exc}", severity="error")
            return
        self.dirty = False

    async def action_quit(self) -> None:
        self.finish_session()
        self.exit()

    def finish_session(self) -> None:
        for screen in self.screen_stack:
            if isinstance(screen, MainScreen):
                screen.stop_jam()  # what was played is kept, and autosaved below
        if self.midi_port is not None:
            self.midi_port.close()
        self.devices.close()
        self.playback.close()
        try:
            self.autosave.end_session(self.song)
        except (OSError, ComposerError) as exc:
            self.notify(f"Autosave on exit failed: {exc}", severity="error")


def _job_name(worker: Worker | None) -> str:
    name = (worker.name or worker.description) if worker is not None else ""
    name = name.strip("_").replace("_", " ").strip()
    return name[:1].upper() + name[1:] if name else "A background job"


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split())
    text = text if len(text) <= 200 else text[:199] + "…"
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def run_app() -> int:
    """The `composer` command with no arguments."""
    ComposerApp().run()
    return 0

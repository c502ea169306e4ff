"""The Textual studio that `composer` (no arguments) opens.

The app owns the song, its undo history, the transport (engine or silent
clock) and autosave; the screens and widgets in tui/screens and tui/widgets
show and edit it. Heavy parts (the audio engine, the model) load lazily so the
first frame comes fast.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path

from textual import work
from textual.app import App
from textual.message import Message

from composer.errors import ComposerError
from composer.history import History
from composer.song import Song, Track
from tui.autosave import Autosave
from tui.keymap import load_keymap
from tui.palette import StudioCommands
from tui.playback import CurrentPlayback, EnginePlayback, SilentClock, open_engine
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
        self.midi_port = None
        self.song = song if song is not None else Song(tracks=[Track(name="Track 1")])
        self.history = History()
        self.project_path: str | None = None
        self.dirty = False
        self.autosave = Autosave()
        self.autosave_every_s = autosave_every_s
        self.sound = sound
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
        crashed = self.autosave.crashed_session()
        try:
            self.autosave.begin_session()
        except (OSError, ComposerError) as exc:
            self.notify(f"Autosave unavailable: {exc}", severity="warning", timeout=10)
        self.push_screen(MainScreen())
        if crashed:
            self.push_screen(RestoreScreen(self.autosave.path), self._restore_answer)
        self.set_interval(self.autosave_every_s, self.autosave_now)
        if self.sound:
            self.open_sound()
        if self.midi:
            self.open_midi()

    @work(thread=True, exclusive=True, group="sound")
    def open_sound(self) -> None:
        """Open the engine and the device off the event loop (PortAudio can take a while)."""
        playback = open_engine(self.song, on_notice=lambda line: self.post_message(EngineNotice(line)))
        self.call_from_thread(self._sound_ready, playback)

    def on_engine_notice(self, message: EngineNotice) -> None:
        self.notify(message.line, severity="warning", timeout=10)

    @work(thread=True, exclusive=True, group="midi")
    def open_midi(self) -> None:
        """Play (and record) the first MIDI keyboard through the current playback; silent when there is none."""
        try:
            from synth.engine.live import LiveSession
            from synth.engine.midi_ports import MidiInput, list_ports

            if not list_ports().inputs:
                return
            session = LiveSession(CurrentPlayback(lambda: self.playback))
            port = MidiInput(None, session.handle, report=lambda line: self.call_from_thread(self.notify, line))
        except (ImportError, ComposerError, OSError) as exc:
            self.call_from_thread(self.notify, f"MIDI input not opened: {exc}", severity="warning")
            return
        self.call_from_thread(self._midi_ready, session, port)

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

    def _restore_answer(self, restore_it: bool | None) -> None:
        if not restore_it:
            return
        try:
            restored = self.autosave.load()
        except ComposerError as exc:
            self.notify(f"Autosave not restored: {exc}", severity="error", timeout=10)
            return
        screen = self.screen
        if isinstance(screen, MainScreen):
            with screen.edit("restore autosave"):
                from composer.history import restore

                restore(self.song, restored)
            screen.say(f"Restored the autosave ({sum(len(t.notes) for t in self.song.tracks)} notes)")

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
        if self.midi_port is not None:
            self.midi_port.close()
        self.playback.close()
        try:
            self.autosave.end_session(self.song)
        except (OSError, ComposerError) as exc:
            self.notify(f"Autosave on exit failed: {exc}", severity="error")


def run_app() -> int:
    """The `composer` command with no arguments."""
    ComposerApp().run()
    return 0

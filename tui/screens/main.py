"""The studio's main screen: transport, tracks, piano roll, AI panel, status bar.

Every key is a binding from tui.keymap; its action lives in tui/screens/main_actions/, one module per
area (transport, tracks, piano roll, editing, files, AI, QWERTY piano, recording), and in
tui/prompt_worker.py for audio tracks made from a prompt. Each edit is a thin call into composer.edit
wrapped in one undo step (`self.edit(label)`), followed by a redraw. The song lives on the app; this
screen only holds view state, and what every action shares: the widgets, the redraw, the undo step,
the notes and track an action works on.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen

from composer import edit
from composer.song import Note, Song, Track
from tui.audition import Audition
from tui.keymap import bindings
from tui.prompt_worker import PromptTrackActions
from tui.screens.main_actions.ai import AIActions
from tui.screens.main_actions.clips import ClipActions
from tui.screens.main_actions.devices import DeviceActions
from tui.screens.main_actions.editing import EditActions
from tui.screens.main_actions.files import FileActions
from tui.screens.main_actions.jam import JAM_ACTIONS, JamActions
from tui.screens.main_actions.piano import PianoActions
from tui.screens.main_actions.recording import RecordActions
from tui.screens.main_actions.roll import GRIDS, RollActions
from tui.screens.main_actions.tracks import TrackActions
from tui.screens.main_actions.transport import METER_HOLD, PLAYHEAD_FPS, TransportActions
from tui.take import Take
from tui.widgets.ai_panel import AIPanel
from tui.widgets.clip_strip import ClipStrip
from tui.widgets.piano_roll import PianoRoll, note_name
from tui.widgets.status_bar import StatusBar
from tui.widgets.tracks_panel import TracksPanel
from tui.widgets.transport_bar import TransportBar, bars_beats
from tui.widgets.variations_view import VariationsView


class MainScreen(
    TransportActions,
    TrackActions,
    RollActions,
    EditActions,
    FileActions,
    AIActions,
    PianoActions,
    RecordActions,
    JamActions,
    ClipActions,
    DeviceActions,
    PromptTrackActions,
    Screen,
):
    CSS_PATH = Path(__file__).with_suffix(".tcss")
    BINDINGS = bindings()

    def __init__(self) -> None:
        super().__init__()
        self.strength = 1.0
        self.note_beats = 1.0
        self.clipboard: list[Note] = []
        self._play_timer = None
        self.piano_on = False
        self.piano_octave = 4  # the z-row's C is C4 (MIDI 60)
        self.piano_beats = 0.5
        self._piano_strikes: dict[int, int] = {}  # pitch -> strike count, so only the latest strike's off ends it
        self.armed: Track | None = None
        self.take: Take | None = None
        self._take_shown = 0
        self.audition: Audition | None = None
        self._meter_timer = None  # started once the audio engine plays (TransportActions.show_sound)
        self.level_peaks: deque[float] = deque(maxlen=METER_HOLD)
        self.track_levels: deque[list[float]] = deque(maxlen=METER_HOLD)  # each track's peaks, per reading

    # ----- layout -----

    @property
    def song(self) -> Song:
        return self.app.song

    def compose(self) -> ComposeResult:
        yield TransportBar(self.song, id="transport")
        with Horizontal(id="body"):
            yield TracksPanel(self.song, id="tracks")
            with Vertical(id="editor"):
                yield PianoRoll(self.song, id="roll")
                yield ClipStrip(self.song, id="clips")
                yield VariationsView(id="variations")
                yield AIPanel(self.app.model_path, id="ai")
        yield StatusBar(id="status")

    @property
    def roll(self) -> PianoRoll:
        return self.query_one("#roll", PianoRoll)

    @property
    def status(self) -> StatusBar:
        return self.query_one("#status", StatusBar)

    @property
    def ai(self) -> AIPanel:
        return self.query_one("#ai", AIPanel)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Enter and escape mean keep / discard / stop while the AI has candidates or samples."""
        if self.jam is not None:  # nothing may change the song under the jam
            return action in JAM_ACTIONS
        if action == "jam_stop":
            return False
        clip_rule = self.clip_check(action)  # a clip selected: the editing keys act on it
        if clip_rule is not None:
            return clip_rule
        try:
            ai = self.ai
        except NoMatches:
            return True
        if action == "ai_cancel":
            return ai.generating
        if action in ("ai_keep", "ai_discard", "ai_again", "ai_show", "ai_listen"):
            return ai.has_candidate
        if action in ("ai_pick", "pan"):  # while several candidates are on show, 1-8 pick one (7, 8 pan again after)
            return self.picking() == (action == "ai_pick")
        if action == "select_none":
            return not ai.generating and not ai.has_candidate
        if action == "toggle_note":
            return not ai.has_candidate
        return True

    def on_mount(self) -> None:
        self.roll.focus()
        self._play_timer = self.set_interval(1 / PLAYHEAD_FPS, self._follow_playhead, pause=True)
        self.mount_clip_strip()
        self.refresh_all()

    def refresh_all(self, message: str | None = None, error: bool = False) -> None:
        """Redraw everything that shows the song, after any change."""
        song = self.song
        roll = self.roll
        if song.tracks:
            roll.track_index = max(0, min(roll.track_index, len(song.tracks) - 1))
        for widget in (roll,):
            widget.song = song
        roll.notes_changed()
        tracks = self.query_one("#tracks", TracksPanel)
        tracks.song = song
        self.show_clips()
        tracks.selected = roll.track_index if self.clip_index is None else -1
        tracks.armed = self.armed_index()
        tracks.selected_clip = self.clip_index
        tracks.refresh()
        transport = self.query_one("#transport", TransportBar)
        transport.song = song
        transport.playing = self.app.playback.playing
        transport.metronome = self.app.playback.metronome
        transport.loop_s = roll.loop_s
        transport.recording = self.take is not None
        live = self.app.live
        if live is not None and self.take is None:
            live.track_index = roll.track_index
        self.show_ghosts()
        transport.refresh()
        if message is not None:
            self.status.say(message, error)
        self.update_state()

    def update_state(self) -> None:
        roll = self.roll
        grid = next((name for beats, name in GRIDS if abs(beats - roll.grid_beats) < 1e-9), f"{roll.grid_beats:g}")
        track = roll.track
        clip = self.clip_selected()  # what the editing keys act on
        name = f"A{self.clip_index + 1} {clip.name}" if clip is not None else track.name if track else "no track"
        self.status.state = (
            f"{name} · {note_name(roll.cursor_pitch)} {bars_beats(self.song, roll.cursor_s).strip()}"
            f" · grid {grid} · quantize {round(self.strength * 100)}% · note {self.note_beats:g} beat"
        )
        jam = self.jam
        if jam is not None:
            latency = jam.last_latency_ms
            answered = f" · last answer {latency:.0f} ms" if latency is not None else ""
            self.status.state = f"♫ jam {jam.state}{answered} · {self.status.state}"
        if self.piano_on:
            low = (self.piano_octave + 1) * 12
            self.status.state += f" · piano {note_name(low)}–{note_name(min(127, low + 28))} {self.piano_beats:g} beat"
        self.show_sound()

    def say(self, message: str, error: bool = False) -> None:
        self.status.say(message, error)
        if error:
            self.app.bell()

    # ----- one undo step per edit -----

    @contextmanager
    def edit(self, label: str) -> Iterator[Song]:
        with self.app.history.edit(self.song, label) as song:
            yield song
        self.app.dirty = True
        self.app.playback.notes_changed()
        self.refresh_all(label)

    def targets(self) -> list[Note]:
        """The selected notes, or the note under the cursor."""
        roll, track = self.roll, self.roll.track
        if track is None:
            return []
        region = roll.selection()
        if region is not None:
            return edit.select(track, region)
        note = edit.note_at(track, roll.cursor_pitch, roll.cursor_s + 1e-6)
        return [note] if note else []

    def require_targets(self) -> list[Note]:
        notes = self.targets()
        if not notes:
            self.say("No note selected: put the cursor on a note or select with shift+arrows.")
        return notes

    def require_track(self) -> Track | None:
        track = self.roll.track
        if track is None:
            self.say("No track yet: press N to add one.")
        return track

    # ----- what is drawn over the track: the AI's candidate, the take being recorded -----

    def _resolve(self, track: Track | None, index: int) -> Track | None:
        """`track` if it is still in the song, else the track now at `index` (undo replaces track objects)."""
        tracks = self.song.tracks
        if track is not None and any(t is track for t in tracks):
            return track
        return tracks[index] if 0 <= index < len(tracks) else None

    def show_ghosts(self) -> None:
        roll = self.roll
        ghosts: list[Note] = []
        try:
            ai = self.ai
        except NoMatches:
            return
        request = ai.request
        roll.replaced_s = None
        if request is not None and request.track_index == roll.track_index:
            ghosts += ai.shown
            if request.label == "infill" and ai.shown:  # what keeping gives: the fill instead of those bars
                roll.replaced_s = (request.at_s, request.end_s)
        take = self.take
        if take is not None and take.track is roll.track:
            notes = take.notes
            self._take_shown = len(notes)
            ghosts += notes
        roll.ghost_notes = ghosts
        roll.notes_changed()

    # ----- messages from the widgets (Textual collects @on handlers from the Screen subclass, not the mixins) -----

    @on(PianoRoll.CellClicked, "#roll")
    def cell_clicked(self, event: PianoRoll.CellClicked) -> None:
        if event.chain == 2:
            self.action_toggle_note()
        self.update_state()

    @on(AIPanel.Streamed, "#ai")
    def ai_streamed(self) -> None:
        self.show_ghosts()
        self.show_variations()

    @on(VariationsView.Picked, "#variations")
    def variation_clicked(self, event: VariationsView.Picked) -> None:
        if self.picking():
            self.action_ai_pick(event.index + 1)

    @on(AIPanel.Finished, "#ai")
    def ai_finished(self, event: AIPanel.Finished) -> None:
        self._ai_say_outcome(event.outcome)

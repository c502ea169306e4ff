"""The studio's main screen: transport, tracks, piano roll, status bar.

Every key is a binding from tui.keymap; each action here is a thin call into
composer.edit wrapped in one undo step (`self.edit(label)`), followed by a
redraw. The song lives on the app; this screen only holds view state.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path

from textual import events, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen

from composer import edit
from composer.errors import ComposerError
from composer.files.loader import load_song
from composer.files.midi_io import read_midi
from composer.files.project import save_project
from composer.gm import instrument_name
from composer.history import restore
from composer.model.candidates import place, primer_before
from composer.song import DRUM_CHANNEL, Note, Song, Track
from tui.audition import Audition
from tui.keymap import PIANO_KEYS, bindings
from tui.playback import SilentClock
from tui.prompt_worker import PromptTrackActions
from tui.screens.ai_settings import AISettingsScreen
from tui.screens.help import HelpScreen
from tui.screens.instrument_picker import DRUM_KIT, InstrumentPicker
from tui.screens.prompt import PromptScreen
from tui.take import Take
from tui.widgets.ai_panel import AIPanel, Request
from tui.widgets.piano_roll import PianoRoll, note_name
from tui.widgets.status_bar import StatusBar
from tui.widgets.tracks_panel import TracksPanel
from tui.widgets.transport_bar import TransportBar, bars_beats

GRIDS = ((1.0, "1/4"), (0.5, "1/8"), (1 / 3, "1/8T"), (0.25, "1/16"), (0.125, "1/32"), (2.0, "1/2"), (4.0, "1/1"))
STRENGTHS = (1.0, 0.75, 0.5, 0.25)
PLAYHEAD_FPS = 30
PIANO_VELOCITY = 96
COUNT_IN_BARS = 1
CANDIDATE_KEYS = "enter keeps · escape discards · r samples again · n/p next/previous · a listens"


class MainScreen(PromptTrackActions, Screen):
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
        try:
            ai = self.ai
        except NoMatches:
            return True
        if action == "ai_cancel":
            return ai.generating
        if action in ("ai_keep", "ai_discard", "ai_again", "ai_show", "ai_listen"):
            return ai.has_candidate
        if action == "select_none":
            return not ai.generating and not ai.has_candidate
        if action == "toggle_note":
            return not ai.has_candidate
        return True

    def on_mount(self) -> None:
        self.roll.focus()
        self._play_timer = self.set_interval(1 / PLAYHEAD_FPS, self._follow_playhead, pause=True)
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
        tracks.selected = roll.track_index
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
        name = track.name if track else "no track"
        self.status.state = (
            f"{name} · {note_name(roll.cursor_pitch)} {bars_beats(self.song, roll.cursor_s).strip()}"
            f" · grid {grid} · quantize {round(self.strength * 100)}% · note {self.note_beats:g} beat"
        )
        if self.piano_on:
            low = (self.piano_octave + 1) * 12
            self.status.state += f" · piano {note_name(low)}–{note_name(min(127, low + 28))} {self.piano_beats:g} beat"
        self.status.sound = self.app.playback.describe()

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

    # ----- transport -----

    def action_play(self) -> None:
        playback = self.app.playback
        if self.take is not None:
            self.stop_take()
            return
        if playback.playing:
            self._stop_audition()
            playback.stop()
            self._play_timer.pause()
            self.say(f"Stopped at {bars_beats(self.song, playback.position_s).strip()}")
        else:
            playback.play()
            self._play_timer.resume()
            self.say("Playing")
        self.refresh_all()

    def _follow_playhead(self) -> None:
        playback = self.app.playback
        position_s = playback.position_s
        audition = self.audition
        if audition is not None:
            for on_, pitch, velocity in audition.due(position_s):
                if on_:
                    playback.live_note_on(audition.track_index, pitch, velocity)
                else:
                    playback.live_note_off(audition.track_index, pitch)
            if audition.done:
                self.audition = None
                playback.stop()
                self._play_timer.pause()
                self.refresh_all("Heard the candidate: " + CANDIDATE_KEYS)
        if self.take is not None and len(self.take.scratch.tracks[0].notes) != self._take_shown:
            self.show_ghosts()
        self.roll.playhead_s = position_s
        self.query_one("#transport", TransportBar).position_s = position_s
        self.status.sound = self.app.playback.describe()

    def action_rewind(self) -> None:
        self.app.playback.seek(0.0)
        self.roll.playhead_s = 0.0
        self.query_one("#transport", TransportBar).position_s = 0.0
        self.say("Back to the start")

    @work
    async def action_tempo(self) -> None:
        answer = await self.app.push_screen_wait(
            PromptScreen("Tempo (BPM)", f"{self.song.tempo_bpm:g}", "10 to 1000; notes keep their beats")
        )
        if answer is None:
            return
        try:
            tempo_bpm = float(answer)
            with self.edit(f"tempo {tempo_bpm:g} BPM"):
                edit.set_tempo(self.song, tempo_bpm)
        except ValueError:
            self.say(f"Tempo {answer!r} is not a number between 10 and 1000", error=True)

    @work
    async def action_meter(self) -> None:
        num, den = self.song.time_signature
        answer = await self.app.push_screen_wait(PromptScreen("Time signature", f"{num}/{den}", "like 4/4, 3/4, 6/8"))
        if answer is None:
            return
        try:
            top, bottom = (int(x) for x in answer.split("/"))
            if not 1 <= top <= 32 or bottom not in (1, 2, 4, 8, 16, 32):
                raise ValueError
        except ValueError:
            self.say(f"Time signature {answer!r}: expected N/D with N 1-32 and D 1, 2, 4, 8, 16 or 32", error=True)
            return
        with self.edit(f"time signature {top}/{bottom}"):
            self.song.time_signature = (top, bottom)

    def action_metronome(self) -> None:
        playback = self.app.playback
        playback.metronome = not playback.metronome
        self.refresh_all(f"Metronome {'on' if playback.metronome else 'off'}")

    def action_loop(self) -> None:
        roll, playback = self.roll, self.app.playback
        if roll.loop_s is not None:
            roll.loop_s = None
            playback.clear_loop()
            self.refresh_all("Loop off")
            return
        region = roll.selection()
        if region is not None:
            start_s, end_s = region.start_s, region.end_s
        else:
            bar = self.song.beats_per_bar
            start_beat = (roll.cursor_beat // bar) * bar
            start_s, end_s = self.song.beats_to_s(start_beat), self.song.beats_to_s(start_beat + 4 * bar)
        roll.loop_s = (start_s, end_s)
        playback.set_loop(start_s, end_s)
        self.refresh_all(f"Loop {bars_beats(self.song, start_s).strip()} – {bars_beats(self.song, end_s).strip()}")

    # ----- tracks -----

    def action_select_track(self, index: int) -> None:
        if 0 <= index < len(self.song.tracks):
            self.roll.track_index = index
            self.roll.anchor = None
            self.refresh_all(f"Track {index + 1}: {self.song.tracks[index].name}")

    def action_track(self, step: int) -> None:
        if self.song.tracks:
            self.action_select_track((self.roll.track_index + step) % len(self.song.tracks))

    def action_add_track(self) -> None:
        used = {t.channel for t in self.song.tracks}
        channel = next((c for c in range(16) if c != DRUM_CHANNEL and c not in used), 0)
        with self.edit("add track"):
            self.song.tracks.append(Track(name=f"Track {len(self.song.tracks) + 1}", channel=channel))
        self.action_select_track(len(self.song.tracks) - 1)

    def action_remove_track(self) -> None:
        track = self.require_track()
        if track is not None:
            with self.edit(f"remove track {track.name}"):
                del self.song.tracks[self.roll.track_index]

    @work
    async def action_rename_track(self) -> None:
        track = self.require_track()
        if track is None:
            return
        name = await self.app.push_screen_wait(PromptScreen("Track name", track.name))
        if name is not None and name.strip():
            with self.edit(f"rename track to {name.strip()}"):
                track.name = name.strip()[:64]

    def action_move_track(self, step: int) -> None:
        i = self.roll.track_index
        j = i + step
        if self.require_track() is None or not 0 <= j < len(self.song.tracks):
            return
        with self.edit("reorder tracks"):
            tracks = self.song.tracks
            tracks[i], tracks[j] = tracks[j], tracks[i]
        self.action_select_track(j)

    @work
    async def action_instrument(self) -> None:
        track = self.require_track()
        if track is None:
            return
        program = await self.app.push_screen_wait(InstrumentPicker(DRUM_KIT if track.is_drum else track.program))
        if program is None:
            return
        with self.edit("instrument"):
            if program == DRUM_KIT:
                track.is_drum, track.channel = True, DRUM_CHANNEL
            else:
                if track.is_drum:
                    track.channel = 0
                track.is_drum, track.program = False, program
        self.say(f"{track.name}: {'Drum kit' if track.is_drum else instrument_name(track.program)}")

    def action_toggle_synth(self) -> None:
        """The track plays with the neural instrument (renderer + vocoder) or the DSP synth."""
        track = self.require_track()
        if track is None:
            return
        if track.is_drum:
            self.say("Drum tracks play with the DSP kit (the neural renderer learned pitched instruments)", error=True)
            return
        if track.synth == "neural":
            with self.edit("DSP synth"):
                track.synth = "dsp"
            self.say(f"{track.name}: DSP synth")
            return
        self.say(f"{track.name}: loading the neural synth…")
        self.switch_to_neural(track)

    @work(thread=True, exclusive=True, group="synth")
    def switch_to_neural(self, track: Track) -> None:
        # The models load here, not in the audio thread; a missing model comes back as an engine notice.
        self.app.playback.prepare_synth(track, "neural")
        self.app.call_from_thread(self._neural_ready, track)

    def _neural_ready(self, track: Track) -> None:
        if track not in self.song.tracks or track.synth == "neural":
            return
        with self.edit("neural synth"):
            track.synth = "neural"
        self.say(f"{track.name}: neural synth")

    def action_mute(self) -> None:
        track = self.require_track()
        if track is not None:
            with self.edit("mute" if not track.mute else "unmute"):
                track.mute = not track.mute

    def action_solo(self) -> None:
        track = self.require_track()
        if track is not None:
            with self.edit("solo" if not track.solo else "unsolo"):
                track.solo = not track.solo

    def action_volume(self, delta: float) -> None:
        track = self.require_track()
        if track is not None:
            with self.edit("volume"):
                track.volume = round(max(0.0, min(1.0, track.volume + delta)), 3)

    def action_pan(self, delta: float) -> None:
        track = self.require_track()
        if track is not None:
            with self.edit("pan"):
                track.pan = round(max(-1.0, min(1.0, track.pan + delta)), 3)

    # ----- cursor, selection, view -----

    def action_cursor(self, steps: int, semitones: int) -> None:
        self.roll.move_cursor(steps, semitones)
        self.update_state()

    def action_extend(self, steps: int, semitones: int) -> None:
        self.roll.move_cursor(steps, semitones, extend=True)
        n = len(self.targets())
        self.say(f"{n} note{'s' if n != 1 else ''} selected")
        self.update_state()

    def action_select_all(self) -> None:
        track = self.require_track()
        if track is None:
            return
        roll = self.roll
        end_beat = self.song.s_to_beats(track.end_s)
        roll.anchor = (0.0, 0)
        roll.set_cursor(max(0.0, end_beat), 127)
        roll.refresh()
        self.say(f"{len(track.notes)} notes selected")

    def action_select_none(self) -> None:
        self.roll.anchor = None
        self.roll.refresh()
        self.say("Selection cleared")

    def action_zoom_time(self, factor: float) -> None:
        self.roll.zoom_time(factor)
        self.say(f"Zoom: {self.roll.cols_per_beat:g} columns per beat")

    def action_zoom_pitch(self, delta: int) -> None:
        self.roll.zoom_pitch(delta)
        self.say(f"Zoom: {self.roll.rows_per_pitch} rows per semitone")

    def action_grid(self) -> None:
        beats = [b for b, _ in GRIDS]
        i = min(range(len(beats)), key=lambda k: abs(beats[k] - self.roll.grid_beats))
        self.roll.grid_beats = beats[(i + 1) % len(beats)]
        self.roll.refresh()
        self.update_state()
        self.say(f"Grid {GRIDS[(i + 1) % len(GRIDS)][1]}")

    # ----- editing -----

    def action_toggle_note(self) -> None:
        track = self.require_track()
        if track is None:
            return
        roll = self.roll
        cell = edit.Region(
            roll.cursor_s,
            self.song.beats_to_s(roll.cursor_beat + roll.grid_beats),
            roll.cursor_pitch,
            roll.cursor_pitch,
        )
        existing = next(iter(edit.select(track, cell)), None)
        if existing is not None:
            with self.edit(f"delete {note_name(existing.pitch)}"):
                edit.delete_notes(track, [existing])
            return
        with self.edit(f"add {note_name(roll.cursor_pitch)}"):
            edit.add_note(track, roll.cursor_pitch, roll.cursor_s, self.song.beats_to_s(self.note_beats))

    @on(PianoRoll.CellClicked, "#roll")
    def cell_clicked(self, event: PianoRoll.CellClicked) -> None:
        if event.chain == 2:
            self.action_toggle_note()
        self.update_state()

    def action_delete(self) -> None:
        track, notes = self.roll.track, self.require_targets()
        if track is not None and notes:
            with self.edit(f"delete {len(notes)} note{'s' if len(notes) > 1 else ''}"):
                edit.delete_notes(track, notes)

    def action_move(self, steps: int) -> None:
        track, notes = self.roll.track, self.require_targets()
        if track is None or not notes:
            return
        with self.edit("move notes"):
            delta_s, _ = edit.move_notes(track, notes, self.song.beats_to_s(steps * self.roll.grid_beats))
        self.roll.shift_selection(self.song.s_to_beats(delta_s), 0)

    def action_transpose(self, semitones: int) -> None:
        track, notes = self.roll.track, self.require_targets()
        if track is None or not notes:
            return
        with self.edit(f"transpose {semitones:+d}"):
            applied = edit.transpose(track, notes, semitones)
        self.roll.shift_selection(0.0, applied)

    def action_resize(self, steps: int) -> None:
        notes = self.require_targets()
        if not notes:
            return
        with self.edit("lengthen notes" if steps > 0 else "shorten notes"):
            edit.resize_notes(notes, self.song.beats_to_s(steps * self.roll.grid_beats))
        self.note_beats = round(self.song.s_to_beats(notes[-1].duration_s), 4)
        self.update_state()

    def action_velocity(self, delta: int) -> None:
        notes = self.require_targets()
        if notes:
            with self.edit(f"velocity {delta:+d}"):
                edit.change_velocity(notes, delta)
            self.say(f"Velocity {', '.join(str(n.velocity) for n in notes[:8])}{'…' if len(notes) > 8 else ''}")

    def action_quantize(self) -> None:
        track, notes = self.roll.track, self.require_targets()
        if track is not None and notes:
            with self.edit(f"quantize {len(notes)} notes at {round(self.strength * 100)}%"):
                edit.quantize(self.song, track, notes, self.roll.grid_beats, self.strength)

    def action_strength(self) -> None:
        i = STRENGTHS.index(self.strength) if self.strength in STRENGTHS else 0
        self.strength = STRENGTHS[(i + 1) % len(STRENGTHS)]
        self.update_state()
        self.say(f"Quantize strength {round(self.strength * 100)}%")

    def action_copy(self) -> bool:
        notes = self.require_targets()
        if not notes:
            return False
        region = self.roll.selection()
        origin_s = region.start_s if region is not None else notes[0].start_s
        self.clipboard = edit.copy_notes(notes, origin_s)
        self.say(f"Copied {len(notes)} note{'s' if len(notes) > 1 else ''}")
        return True

    def action_cut(self) -> None:
        if self.action_copy():
            count = len(self.clipboard)
            self.action_delete()
            self.say(f"Cut {count} note{'s' if count > 1 else ''}")

    def action_paste(self) -> None:
        track = self.require_track()
        if track is None:
            return
        if not self.clipboard:
            self.say("Nothing to paste: copy notes first (ctrl+c or y)")
            return
        with self.edit(f"paste {len(self.clipboard)} notes"):
            edit.paste_notes(track, self.clipboard, self.roll.cursor_s)

    def action_undo(self) -> None:
        label = self.app.history.undo(self.song)
        self.app.playback.notes_changed()
        self.roll.anchor = None
        self.app.dirty = True
        self.refresh_all(f"Undid {label}" if label else "Nothing to undo")

    def action_redo(self) -> None:
        label = self.app.history.redo(self.song)
        self.app.playback.notes_changed()
        self.app.dirty = True
        self.refresh_all(f"Redid {label}" if label else "Nothing to redo")

    # ----- files -----

    def action_new_song(self) -> None:
        with self.edit("new song"):
            restore(self.song, Song(tracks=[Track(name="Track 1")]))
        self.app.project_path = None
        self.roll.track_index = 0
        self.refresh_all("New song (ctrl+z brings the old one back)")

    @work
    async def action_open(self) -> None:
        path = await self.app.push_screen_wait(
            PromptScreen("Open a project (.json) or MIDI file (.mid)", self.app.project_path or "", "")
        )
        if path:
            self.load_file(Path(path).expanduser(), merge=False)

    @work
    async def action_import_midi(self) -> None:
        path = await self.app.push_screen_wait(PromptScreen("Import the tracks of a MIDI file", "", ""))
        if path:
            self.load_file(Path(path).expanduser(), merge=True)

    @work(thread=True, exclusive=True, group="files")
    def load_file(self, path: Path, merge: bool) -> None:
        """Read in a thread; the song changes only once the file was read whole."""
        try:
            loaded = read_midi(path) if merge else load_song(path)
        except ComposerError as exc:
            self.app.call_from_thread(self.say, str(exc), True)
            return
        self.app.call_from_thread(self._apply_loaded, path, loaded, merge)

    def _apply_loaded(self, path: Path, loaded: Song, merge: bool) -> None:
        if merge:
            with self.edit(f"import {path.name}"):
                self.song.tracks.extend(loaded.tracks)
            return
        self.app.history.replace(self.song, loaded, f"open {path.name}")
        self.app.dirty = True
        self.app.playback.notes_changed()
        self.roll.track_index, self.roll.anchor = 0, None
        self.roll.set_cursor(0.0, self.roll.cursor_pitch)
        if path.suffix.lower() == ".json":
            self.app.project_path = str(path)
        self.refresh_all(f"Opened {path} ({sum(len(t.notes) for t in self.song.tracks)} notes)")

    def action_save(self) -> None:
        if self.app.project_path:
            self.save_file(Path(self.app.project_path))
        else:
            self.action_save_as()

    @work
    async def action_save_as(self) -> None:
        path = await self.app.push_screen_wait(
            PromptScreen("Save the project as (.json)", self.app.project_path or "song.json", "")
        )
        if path:
            path = Path(path).expanduser()
            self.save_file(path if path.suffix.lower() == ".json" else path.with_suffix(".json"))

    def save_file(self, path: Path) -> None:
        try:
            save_project(self.song, path)
        except (ComposerError, OSError) as exc:
            self.say(f"Not saved: {exc}", error=True)
            return
        self.app.project_path = str(path)
        self.app.dirty = False
        self.say(f"Saved {path}")

    def action_export(self) -> None:
        from tui.screens.export import ExportScreen

        self.app.push_screen(ExportScreen(self.song, self.app.project_path))

    def action_help(self) -> None:
        self.app.push_screen(HelpScreen())

    def action_toggle_dark(self) -> None:
        self.app.theme = "textual-light" if self.app.theme == "textual-dark" else "textual-dark"
        self.say(f"Theme {self.app.theme}")

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
        if ai.request is not None and ai.request.track_index == roll.track_index:
            ghosts += ai.shown
        take = self.take
        if take is not None and take.track is roll.track:
            notes = take.notes
            self._take_shown = len(notes)
            ghosts += notes
        roll.ghost_notes = ghosts
        roll.notes_changed()

    # ----- AI co-composer -----

    def _ai_ready(self) -> bool:
        ai = self.ai
        if ai.check_ready():
            return True
        ai.show_idle()
        self.say(ai.reason, error=True)
        return False

    def _ai_start(self, label: str, from_track: bool, count: int) -> None:
        track = self.require_track()
        if track is None or not self._ai_ready():
            return
        roll, ai = self.roll, self.ai
        self._stop_audition()
        region = roll.selection()
        at_s = region.end_s if region is not None and from_track else roll.cursor_s
        primer = primer_before(track, at_s) if from_track else []
        settings = ai.settings
        ai.retries = 0
        request = Request(label, track, roll.track_index, at_s, primer, settings, settings.seconds(self.song), count)
        ai.start(request)
        source = f"{len(primer)} notes before {bars_beats(self.song, at_s).strip()}" if primer else "nothing"
        self.say(f"AI: {label} from {source}, {settings.bars} bars · escape stops")

    def action_ai_continue(self) -> None:
        self._ai_start("continue", from_track=True, count=1)

    def action_ai_generate(self) -> None:
        self._ai_start("generate", from_track=False, count=1)

    def action_ai_variations(self) -> None:
        self._ai_start("variations", from_track=True, count=self.ai.settings.variations)

    def action_ai_cancel(self) -> None:
        self.ai.cancel()
        self.say("Stopping the AI…")

    def action_ai_again(self) -> None:
        self._stop_audition()
        self.ai.again()
        self.say("AI: sampling again with new seeds · escape stops")

    def action_ai_show(self, step: int) -> None:
        self._stop_audition()
        self.ai.show(step)

    def action_ai_discard(self) -> None:
        self._stop_audition()
        ai = self.ai
        ai.cancel()
        count = len(ai.candidates)
        ai.clear()
        self.say(f"Discarded {count} candidate{'s' if count != 1 else ''}")

    def action_ai_keep(self) -> None:
        ai = self.ai
        request, notes = ai.request, list(ai.shown)
        if request is None or not notes:
            return
        self._stop_audition()
        track = self._resolve(request.track, request.track_index)
        if track is None:
            ai.clear()
            self.say("The candidate's track is gone; candidate discarded", error=True)
            return
        ai.clear()
        with self.edit(f"AI {request.label} ({len(notes)} notes)"):
            place(track, notes)

    def action_ai_listen(self) -> None:
        ai = self.ai
        if ai.request is None or not ai.shown:
            return
        self._stop_audition()
        playback = self.app.playback
        playback.stop()
        start_s = max(0.0, ai.request.at_s - self.song.beats_to_s(self.song.beats_per_bar))
        playback.seek(start_s)
        self.audition = Audition(ai.shown, ai.request.track_index)
        playback.play()
        self._play_timer.resume()
        sound = f" ({playback.describe()})" if isinstance(playback, SilentClock) else ""
        self.refresh_all(f"Listening from {bars_beats(self.song, start_s).strip()}{sound}; space stops")

    def _stop_audition(self) -> None:
        audition, self.audition = self.audition, None
        if audition is None:
            return
        for pitch in audition.sounding:
            self.app.playback.live_note_off(audition.track_index, pitch)
        self.app.playback.stop()
        self._play_timer.pause()

    @work
    async def action_ai_settings(self) -> None:
        settings = await self.app.push_screen_wait(AISettingsScreen(self.ai.settings))
        if settings is not None:
            self.ai.settings = settings
            if not self.ai.generating and not self.ai.candidates:
                self.ai.show_idle()
            self.say(f"AI: {settings.describe()}")

    @on(AIPanel.Streamed, "#ai")
    def ai_streamed(self) -> None:
        self.show_ghosts()

    @on(AIPanel.Finished, "#ai")
    def ai_finished(self, event: AIPanel.Finished) -> None:
        count = len(self.ai.candidates)
        if event.outcome in ("done", "cancelled") and count:
            stopped = "Stopped early: " if event.outcome == "cancelled" else ""
            self.say(f"{stopped}{count} candidate{'s' if count != 1 else ''} · {CANDIDATE_KEYS}")
        elif event.outcome == "cancelled":
            self.say("AI stopped before any note")
        else:
            self.say(event.outcome, error=True)

    # ----- QWERTY piano -----

    def action_piano(self) -> None:
        self.piano_on = not self.piano_on
        if self.piano_on:
            self.say("QWERTY piano on: z-row and a-row, q-row and number row play; F3 / F4 octave; ctrl+k leaves")
        else:
            self.say("QWERTY piano off: letters are keys again")
        self.update_state()

    def action_piano_octave(self, step: int) -> None:
        self.piano_octave = max(-1, min(7, self.piano_octave + step))
        low = (self.piano_octave + 1) * 12
        self.say(f"Piano from {note_name(low)}")
        self.update_state()

    @work
    async def action_piano_length(self) -> None:
        answer = await self.app.push_screen_wait(
            PromptScreen("Piano note length (beats)", f"{self.piano_beats:g}", "0.0625 to 16; keys have no release")
        )
        if answer is None:
            return
        try:
            beats = float(answer)
            if not 0.0625 <= beats <= 16:
                raise ValueError
        except ValueError:
            self.say(f"Note length {answer!r}: expected a number of beats from 0.0625 to 16", error=True)
            return
        self.piano_beats = beats
        self.update_state()
        self.say(f"Piano notes last {beats:g} beat{'s' if beats != 1 else ''}")

    def on_key(self, event: events.Key) -> None:
        if not self.piano_on or event.key not in PIANO_KEYS:
            return
        event.stop()
        event.prevent_default()
        self.play_piano((self.piano_octave + 1) * 12 + PIANO_KEYS[event.key])

    def play_piano(self, pitch: int) -> None:
        """Sound `pitch` for the piano's note length on the track (the armed one while recording)."""
        if not 0 <= pitch <= 127:
            self.say("That key is above the highest MIDI note: F3 lowers the piano's octave")
            return
        take = self.take
        track_index = self.armed_index() if take is not None else self.roll.track_index
        if track_index is None:
            track_index = self.roll.track_index
        playback = self.app.playback
        playback.live_note_on(track_index, pitch, PIANO_VELOCITY)
        if take is not None:
            take.note_on(pitch, PIANO_VELOCITY)
        strike = self._piano_strikes.get(pitch, 0) + 1
        self._piano_strikes[pitch] = strike
        length_s = self.song.beats_to_s(self.piano_beats)
        self.set_timer(length_s, partial(self._piano_off, track_index, pitch, take, strike))
        sound = f" ({playback.describe()})" if isinstance(playback, SilentClock) else ""
        self.say(f"{'● ' if take is not None else ''}{note_name(pitch)}{sound}")

    def _piano_off(self, track_index: int, pitch: int, take: Take | None, strike: int) -> None:
        if self._piano_strikes.get(pitch) != strike:
            return  # struck again since: that strike's own timer ends it
        self.app.playback.live_note_off(track_index, pitch)
        if take is not None and take is self.take:
            take.note_off(pitch)
        self.show_ghosts()

    # ----- recording -----

    def armed_index(self) -> int | None:
        armed = self.armed
        if armed is None:
            return None
        return next((i for i, t in enumerate(self.song.tracks) if t is armed), None)

    def action_arm(self) -> None:
        track = self.require_track()
        if track is None:
            return
        if self.take is not None:
            self.say("Recording: stop first (ctrl+r) to arm another track")
            return
        if self.armed is track:
            self.armed = None
            self.refresh_all(f"{track.name} disarmed")
        else:
            self.armed = track
            self.refresh_all(f"{track.name} armed: ctrl+r records into it")

    def action_record(self) -> None:
        if self.take is not None:
            self.stop_take()
            return
        if self.armed_index() is None:
            track = self.require_track()
            if track is None:
                return
            self.armed = track
        track, index = self.armed, self.armed_index()
        assert track is not None and index is not None
        self._stop_audition()
        self.take = Take(track, lambda: self.app.playback.position_s)
        live = self.app.live
        if live is not None:
            live.arm(self.take.recorder)
            live.track_index = index  # the recorder's own index is its scratch track's
        playback = self.app.playback
        count_in = not isinstance(playback, SilentClock) and not playback.playing
        if not playback.playing:
            playback.play(count_in_bars=COUNT_IN_BARS if count_in else 0)
        self._play_timer.resume()
        how = f"after a {COUNT_IN_BARS}-bar count-in" if count_in else playback.describe()
        self.refresh_all(
            f"● Recording into {track.name} from {bars_beats(self.song, playback.position_s).strip()}"
            f" ({how}); ctrl+r or space stops"
        )

    def stop_take(self) -> None:
        take, self.take = self.take, None
        if take is None:
            return
        live = self.app.live
        if live is not None:
            live.disarm()
        notes = take.stop()
        self.app.playback.stop()
        self._play_timer.pause()
        self._take_shown = 0
        track = self._resolve(take.track, self.armed_index() if self.armed_index() is not None else -1)
        if not notes:
            self.refresh_all("Take stopped: nothing was played")
            return
        if track is None:
            self.refresh_all("The armed track is gone: take discarded", error=True)
            return
        with self.edit(f"record {len(notes)} note{'s' if len(notes) != 1 else ''} into {track.name}"):
            place(track, notes)

"""Jam mode of the main screen (H): the player plays, the co-composer answers in the gap, on its own track.

H starts a jam (tui/jam_link.py: synth.engine.jam.JamSession on the app's playback) with the track shown as
the player's and the song's "Answer" track as the answer's (a new one, a flute, unless there is one). The
MIDI keyboard (ComposerApp.midi_message) and the QWERTY piano play into it; the status line shows its state
(starting / listening / thinking / answering) and the last answer's latency. H again, or escape, stops it:
both parts go into the song as one undo step, the first note at the cursor where the jam began. While it
runs, only the keys that leave the song alone work (the piano, the view, help), so nothing else edits the
song under it. The model is the AI panel's (tui/widgets/ai_panel.py), loaded once for both.
"""

from __future__ import annotations

from textual import work

from composer.gm import instrument_name, playable_range
from composer.model.candidates import AUTO_STYLE, place
from composer.song import DRUM_CHANNEL, Note, Track
from tui.jam_link import ANSWER_NAME, AppJam, answer_program

JAM_FPS = 10  # status line refreshes while jamming
# what works while a jam runs: actions that leave the song (and its tracks' order) alone
JAM_ACTIONS = frozenset(
    {"jam", "jam_stop", "piano", "piano_octave", "piano_length", "help", "toggle_dark", "metronome"}
    | {"cursor", "extend", "zoom_time", "zoom_pitch", "grid", "volume", "pan", "mute", "solo"}
)


class JamActions:
    """Mixed into MainScreen (tui/screens/main.py)."""

    jam: AppJam | None = None

    def action_jam(self) -> None:
        if self.jam is not None:
            self.stop_jam()
            return
        player = self.require_track()
        if player is None:
            return
        ai = self.ai
        if player.is_drum:
            self.say(f"{player.name} is drums: jam on a melody track", error=True)
            return
        if self.take is not None:
            self.say("Recording: stop first (ctrl+r), then jam", error=True)
            return
        if ai.generating or ai.has_candidate:
            self.say("The AI has candidates: keep (enter) or discard (escape) them first", error=True)
            return
        if not self._ai_ready():
            return
        self._stop_audition()
        song, index = self.song, self.roll.track_index
        answer_index = next((i for i, t in enumerate(song.tracks) if t.name == ANSWER_NAME and i != index), None)
        self._jam_new_track = None
        if answer_index is None:  # a track for the jam's time only; stopping adds it in the undo step
            used = {t.channel for t in song.tracks}
            channel = next((c for c in range(16) if c != DRUM_CHANNEL and c not in used), 0)
            self._jam_new_track = Track(name=ANSWER_NAME, program=answer_program(player), channel=channel)
            song.tracks.append(self._jam_new_track)
            answer_index = len(song.tracks) - 1
            self.app.playback.notes_changed()
        answer = song.tracks[answer_index]
        self._jam_where = (player, index, answer, answer_index, self.roll.cursor_s)
        jam = AppJam(lambda: self.app.playback, None, index, answer_index, player, answer, None)
        self.jam = self.app.jam = jam
        self._jam_timer = self.set_interval(1 / JAM_FPS, self.update_state)
        self._start_jam(jam)
        self.refresh_all(
            f"Jam: {player.name} plays, {instrument_name(answer.program)} answers on {answer.name}"
            " · loading the model… · H or escape stops"
        )

    @work(thread=True, group="jam")
    def _start_jam(self, jam: AppJam) -> None:
        from composer.model.sample import SampleOptions

        settings = self.ai.settings
        try:
            jam.model = self.ai.load_model()
            jam.options = SampleOptions(
                temperature=settings.temperature,
                top_p=settings.top_p,
                seed=settings.seed,
                style=None if settings.style == AUTO_STYLE else settings.style,
                pitch_range=playable_range(jam.scratch.tracks[1].program),  # the answer's instrument's range
            )
            jam.options.key = settings.key
            jam.start()
        except Exception as exc:  # the model would not load or start: one line, the jam ends
            self.app.call_from_thread(self._jam_failed, jam, exc)
            return
        self.app.call_from_thread(self._jam_started, jam)

    def _jam_started(self, jam: AppJam) -> None:
        if jam is not self.jam:  # stopped while the model warmed up
            jam.stop()
            return
        self.say("Jam: play a phrase (piano or MIDI keyboard); the AI answers when you pause · H or escape stops")
        self.update_state()

    def _jam_failed(self, jam: AppJam, exc: Exception) -> None:
        if jam is self.jam:
            self.stop_jam()
        self.say(f"Jam not started: {exc}", error=True)

    def action_jam_stop(self) -> None:
        self.stop_jam()

    def stop_jam(self) -> None:
        """Stop the jam; what both parts played goes into the song, one undo step."""
        jam, self.jam = self.jam, None
        if jam is None:
            return
        self.app.jam = None
        self._jam_timer.stop()
        played, answered = jam.stop()
        player, index, answer, answer_index, at_s = self._jam_where
        new, song = self._jam_new_track, self.song
        if new is not None and any(t is new for t in song.tracks):
            song.tracks.remove(new)  # back as it was: the undo step below adds it
        player = self._resolve(player, index)
        if new is None:
            answer = self._resolve(answer, answer_index)
        self.app.playback.notes_changed()
        if not played and not answered or player is None or answer is None:
            self.refresh_all("Jam stopped: nothing was played" if not played else "Jam stopped: its track is gone")
            return
        shift = at_s - min(n.start_s for n in played + answered)
        moved = [[Note(n.pitch, n.velocity, n.start_s + shift, n.end_s + shift) for n in p] for p in (played, answered)]
        answers = f"{jam.answers} answer{'s' if jam.answers != 1 else ''}"
        label = f"jam ({len(played)} notes played, {len(answered)} answered in {answers})"
        with self.edit(label):
            place(player, moved[0])
            if moved[1]:
                place(answer, moved[1])
                if new is not None:
                    song.tracks.append(answer)

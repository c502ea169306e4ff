"""Jam mode in the app: a synth.engine.jam.JamSession on the app's playback, recording into a scratch song.

    jam = AppJam(lambda: app.playback, model, player_index, answer_index, player, answer, options)
    jam.start()                 # a worker thread: primes and warms the model (seconds on the shipped one)
    jam.handle(msg, time_s)     # the MIDI keyboard's and the QWERTY piano's messages
    jam.state, jam.last_latency_ms
    player_notes, answer_notes = jam.stop()

The session plays the player's part and its answers on the app's tracks through whatever the app's
playback is now (the engine once the device is open, else the silent clock: the answers still come,
unheard), and records both parts into a two-track scratch song of its own, so its threads never touch
the app's song; the screen places them in the song when the jam stops, as one undo step. Importing
this module imports no torch (the session is made in `start`).
"""

from __future__ import annotations

from collections.abc import Callable

from composer.song import Note, Song, Track

ANSWER_NAME = "Answer"
FLUTE, VIBRAPHONE = 73, 11
PIPE_FAMILY = range(72, 80)


def answer_program(player: Track) -> int:
    """The answer's instrument, one that stands apart from the player's: the flute (as `composer jam`), or
    the vibraphone when the player is on a pipe already."""
    return VIBRAPHONE if player.program in PIPE_FAMILY else FLUTE


class JamEngine:
    """What JamSession needs of an engine: `song` (the scratch song it records into; track 0 the player's,
    1 the answer's) and the `live_*` calls, sent to the app's tracks through the current playback."""

    def __init__(self, current: Callable[[], object], player_index: int, answer_index: int, scratch: Song) -> None:
        self.song = scratch
        self._current = current
        self._tracks = (player_index, answer_index)

    def live_note_on(self, track: int, pitch: int, velocity: int) -> None:
        self._current().live_note_on(self._tracks[track], pitch, velocity)

    def live_note_off(self, track: int, pitch: int) -> None:
        self._current().live_note_off(self._tracks[track], pitch)

    def live_control_change(self, track: int, controller: int, value: int) -> None:
        self._current().live_control_change(self._tracks[track], controller, value)

    def live_pitch_bend(self, track: int, semitones: float) -> None:
        self._current().live_pitch_bend(self._tracks[track], semitones)


class AppJam:
    """One jam of the app: the session, its scratch song and what the status line shows."""

    def __init__(
        self,
        current: Callable[[], object],
        model,
        player_index: int,
        answer_index: int,
        player: Track,
        answer: Track,
        options,
    ) -> None:
        self.scratch = Song(tracks=[Track(name=player.name, program=player.program), Track(name=answer.name)])
        self.scratch.tracks[1].program = answer.program
        self.engine = JamEngine(current, player_index, answer_index, self.scratch)
        self.model, self.options = model, options
        self.session = None  # synth.engine.jam.JamSession once started

    def start(self) -> None:
        """Make and start the session (call from a worker thread: the model warms up meanwhile)."""
        from synth.engine.jam import JamSession

        session = JamSession(self.engine, self.model, player_track=0, answer_track=1, options=self.options)
        session.start()
        self.session = session

    def handle(self, msg, time_s: float | None = None) -> None:
        session = self.session
        if session is not None:
            session.handle(msg, time_s)

    @property
    def state(self) -> str:
        session = self.session
        if session is None:
            return "starting"
        if session.error is not None:
            return "failed"
        return session.state

    @property
    def answers(self) -> int:
        session = self.session
        return 0 if session is None else len(session.answers)

    @property
    def last_latency_ms(self) -> float | None:
        session = self.session
        latencies = [] if session is None else session.latencies_ms
        return latencies[-1] if latencies else None

    def stop(self) -> tuple[list[Note], list[Note]]:
        """End the session (held notes end now); both parts, in seconds from the session's start."""
        if self.session is not None:
            self.session.stop()
        player, answer = self.scratch.tracks
        return list(player.notes), list(answer.notes)

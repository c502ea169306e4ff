"""Jam mode: the player plays a phrase, the transformer answers it, live (call and response).

    song = Song(tracks=[Track("Player", 0), Track("Answer", 73)])
    engine = Engine(song)
    with JamSession(engine, model, player_track=0, answer_track=1) as jam:
        port = MidiInput("Keystation", on_message=jam.handle)    # synth.engine.midi_ports
        ...
    jam.answers          # JamAnswer per phrase: key, latency_ms, notes, yielded_at_s
    song.tracks[0/1]     # the player's and the answer's notes, in seconds from the start

Threads: `handle` runs on the MIDI thread: it plays the player's notes on the
player track, records them, and on a note-on cuts the answer off at once
(note-offs for its sounding notes, nothing more of it is handed to the
engine). A worker thread owns the model: it feeds each played event to the
KV cache as it comes (a forward pass of one or two tokens), and as soon as
the player falls silent it samples the answer's first note speculatively, so
that when the gap ends the note is handed over at once. It then samples the
rest at most `lookahead_s` ahead of the clock; a playback thread hands each
note to the engine at its time. When the player plays again, the context
keeps the answer only as far as it was heard, then the player's new notes.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import mido

from composer.model.answer import AnswerStep, answer_steps, sounding_after
from composer.model.context import TokenContext
from composer.model.model import MusicTransformer
from composer.model.phrase import PhraseTokenizer, estimate_key, estimate_tempo_bpm, gap_for_tempo
from composer.model.sample import SampleOptions
from composer.tokens import STEP_S, note_off, shift_tokens
from synth.engine.recorder import SUSTAIN_CC, Recorder, bend_semitones

DEFAULT_STYLE = "folk"
KEY_NOTES = 24  # the player's most recent notes that decide the key, when the phrase is short
PHRASE_KEY_NOTES = 6  # a phrase with this many notes decides its key alone
MIN_ANSWER_S, MAX_ANSWER_S = 1.0, 8.0
ANSWER_TOKEN_ROOM = 256  # context kept free for an answer, so it never re-primes while it plays
LOG_LEN = 100_000


@dataclass
class JamAnswer:
    """One answer, as measured."""

    gap_end_s: float  # clock time the player's gap ended and the answer was due
    key: str | None  # the key it was held to (None: unconstrained)
    seconds: float  # the length asked for
    prepare_ms: float  # model time before the gap ended: the gap's tokens and the first note
    latency_ms: float | None = None  # gap end -> first note-on handed to the engine
    notes: int = 0  # note-ons handed to the engine
    yielded_at_s: float | None = None  # clock time the player cut it off


@dataclass
class JamEvent:
    """A note-on/off handed to the engine, in order."""

    time_s: float
    part: str  # "player" or "answer"
    on: bool
    pitch: int


@dataclass
class _Prepared:
    base: TokenContext  # the context after the gap's TIME_SHIFTs
    branch: TokenContext  # base + the answer so far
    steps: Iterator[AnswerStep]
    first: AnswerStep
    record: JamAnswer


@dataclass
class _Live:
    """The answer being played."""

    record: JamAnswer
    prepared: _Prepared
    cancel: threading.Event = field(default_factory=threading.Event)
    steps: list[AnswerStep] = field(default_factory=list)
    sounding: set[int] = field(default_factory=set)
    sampled: bool = False  # the sampler is done with it
    pending: int = 0  # events scheduled but not yet handed over


class JamSession:
    """Call and response between a MIDI player and a Music Transformer, on two engine tracks.

    Args:
        engine: the Engine; its song's tracks `player_track` and `answer_track` are played and recorded into.
        model: the transformer (eval mode, CPU).
        gap_s: silence that ends a phrase; None: one beat at the player's tempo, or 0.6 s.
        options: temperature, top-k/p, seed, style (default folk), key: a fixed key; without one the
            answer is held to the key estimated from the player's notes (unless `constrain_key` is off).
        answer_s: the answer's length; None: as long as the phrase (1 to 8 s).
        lookahead_s: how far the sampler may run ahead of the clock.
        clock: seconds, the clock of `handle`'s time_s (perf_counter, as synth.engine.midi_ports gives).
    """

    def __init__(
        self,
        engine,
        model: MusicTransformer,
        player_track: int = 0,
        answer_track: int = 1,
        gap_s: float | None = None,
        options: SampleOptions | None = None,
        clock: Callable[[], float] = time.perf_counter,
        answer_s: float | None = None,
        constrain_key: bool = True,
        lookahead_s: float = 0.25,
    ) -> None:
        self.options = options or SampleOptions()
        self.options.validate()
        if gap_s is not None and not 0.05 <= gap_s <= 10:
            raise ValueError(f"gap_s must be 0.05..10 s, got {gap_s}")
        if answer_s is not None and not 0.1 <= answer_s <= 60:
            raise ValueError(f"answer_s must be 0.1..60 s, got {answer_s}")
        self.engine, self.model = engine, model
        self.player_track, self.answer_track = player_track, answer_track
        self.gap_s, self.answer_s, self.constrain_key = gap_s, answer_s, constrain_key
        self.lookahead_s, self.clock = lookahead_s, clock
        self.style = self.options.style or DEFAULT_STYLE
        self.t0_s = clock()
        song_time = lambda: clock() - self.t0_s  # noqa: E731
        self.player_recorder = Recorder(engine.song, player_track, now_s=song_time)
        self.answer_recorder = Recorder(engine.song, answer_track, now_s=song_time)
        self.answers: list[JamAnswer] = []
        self.log: deque[JamEvent] = deque(maxlen=LOG_LEN)
        self.error: BaseException | None = None
        self._lock = threading.RLock()
        self._wake_worker = threading.Condition(self._lock)
        self._wake_playback = threading.Condition(self._lock)
        self._inbox: list[tuple[str, int, int, float]] = []  # (kind, pitch, velocity, time_s) for the tokenizer
        self._held: set[int] = set()
        self._pedal_down = False
        self._last_event_s: float | None = None
        self._phrase_open = False  # played since the last answer began
        self._live: _Live | None = None
        self._heap: list[tuple[float, int, _Live, bool, int, int]] = []
        self._seq = 0
        self._running = False
        self._ready = threading.Event()
        self._threads: list[threading.Thread] = []

    # ---- lifecycle -----------------------------------------------------------------------------------

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the worker (primes and warms the model) and the playback thread; returns when ready."""
        if self._running:
            return
        self._running = True
        self._threads = [
            threading.Thread(target=self._work, name="jam-model", daemon=True),
            threading.Thread(target=self._playback, name="jam-playback", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        if not self._ready.wait(timeout_s) and self.error is None:
            raise TimeoutError(f"the model was not ready after {timeout_s:g} s")
        if self.error is not None:
            raise self.error

    def stop(self) -> None:
        """Cut the answer off, stop the threads, close the notes still held in both recordings."""
        with self._lock:
            self._running = False
            self._yield(self.clock())
            self._wake_worker.notify_all()
            self._wake_playback.notify_all()
        for thread in self._threads:
            thread.join(timeout=10.0)
        self._threads = []
        for recorder in (self.player_recorder, self.answer_recorder):
            if recorder.recording:
                recorder.stop()

    def __enter__(self) -> JamSession:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    @property
    def state(self) -> str:
        """ "answering" while an answer plays, "thinking" in the gap after a phrase (the player silent, the
        model preparing the answer), else "listening" (the player plays, holds a key, or has not begun)."""
        with self._lock:
            live = self._live
            if live is not None and not live.cancel.is_set() and (not live.sampled or live.pending or live.sounding):
                return "answering"
            if self._phrase_open and not self._held and not self._pedal_down:
                return "thinking"
            return "listening"

    @property
    def latencies_ms(self) -> list[float]:
        """Per answer that sounded: gap end -> first note-on handed to the engine."""
        return [a.latency_ms for a in list(self.answers) if a.latency_ms is not None]

    # ---- the MIDI thread -----------------------------------------------------------------------------

    def handle(self, msg: mido.Message, time_s: float | None = None) -> None:
        """One message from the keyboard; `time_s` is its arrival on `clock` (default: now)."""
        t = self.clock() if time_s is None else time_s
        track = self.player_track
        with self._lock:
            if msg.type == "note_on" and msg.velocity > 0:
                self._yield(t)  # the answer gives way before the player's note sounds
                self._held.add(msg.note)
                self.engine.live_note_on(track, msg.note, msg.velocity)
                self.log.append(JamEvent(t, "player", True, msg.note))
                self._note_event(("on", msg.note, msg.velocity, t))
            elif msg.type in ("note_off", "note_on"):
                self._held.discard(msg.note)
                self.engine.live_note_off(track, msg.note)
                self.log.append(JamEvent(t, "player", False, msg.note))
                self._note_event(("off", msg.note, 0, t))
            elif msg.type == "control_change":
                self.engine.live_control_change(track, msg.control, msg.value)
                if msg.control == SUSTAIN_CC:
                    self._pedal_down = msg.value >= 64
                    self._note_event(("pedal", int(self._pedal_down), 0, t))
            elif msg.type == "pitchwheel":
                self.engine.live_pitch_bend(track, bend_semitones(msg.pitch))
            self.player_recorder.handle(msg, t - self.t0_s)

    def _note_event(self, event: tuple[str, int, int, float]) -> None:
        self._inbox.append(event)
        self._last_event_s = event[3]
        self._phrase_open = True
        self._wake_worker.notify()

    def _yield(self, at_s: float) -> None:
        """Under the lock: cut the live answer off at `at_s` (note-offs now, nothing more handed over)."""
        live = self._live
        if live is None or live.cancel.is_set():
            return
        live.cancel.set()
        if not live.sampled or live.pending or live.sounding:
            live.record.yielded_at_s = at_s
        for pitch in sorted(live.sounding):
            self._answer_off(pitch, at_s)
        live.sounding.clear()
        self._heap = [item for item in self._heap if item[2] is not live]
        heapq.heapify(self._heap)
        live.pending = 0

    # ---- handing the answer to the engine (under the lock) --------------------------------------------

    def _answer_on(self, live: _Live, pitch: int, velocity: int, at_s: float) -> None:
        if pitch in live.sounding:
            self._answer_off(pitch, at_s)
        self.engine.live_note_on(self.answer_track, pitch, velocity)
        live.sounding.add(pitch)
        live.record.notes += 1
        if live.record.latency_ms is None:
            live.record.latency_ms = (at_s - live.record.gap_end_s) * 1000.0
        self.log.append(JamEvent(at_s, "answer", True, pitch))
        self.answer_recorder.handle(mido.Message("note_on", note=pitch, velocity=velocity), at_s - self.t0_s)

    def _answer_off(self, pitch: int, at_s: float) -> None:
        self.engine.live_note_off(self.answer_track, pitch)
        self.log.append(JamEvent(at_s, "answer", False, pitch))
        self.answer_recorder.handle(mido.Message("note_off", note=pitch), at_s - self.t0_s)

    def _schedule(self, live: _Live, step: AnswerStep) -> None:
        with self._lock:
            if live.cancel.is_set():
                return
            now = self.clock()
            for event in step.events:
                due = live.record.gap_end_s + event.time_s
                if due <= now and not self._heap:
                    self._hand(live, event.on, event.pitch, event.velocity, now)
                else:
                    self._seq += 1
                    heapq.heappush(self._heap, (due, self._seq, live, event.on, event.pitch, event.velocity))
                    live.pending += 1
            self._wake_playback.notify()

    def _hand(self, live: _Live, on: bool, pitch: int, velocity: int, now: float) -> None:
        if on:
            self._answer_on(live, pitch, velocity, now)
        elif pitch in live.sounding:
            live.sounding.discard(pitch)
            self._answer_off(pitch, now)

    def _playback(self) -> None:
        with self._lock:
            while self._running:
                now = self.clock()
                while self._heap and self._heap[0][0] <= now:
                    _, _, live, on, pitch, velocity = heapq.heappop(self._heap)
                    live.pending -= 1
                    if not live.cancel.is_set():
                        self._hand(live, on, pitch, velocity, now)
                timeout = self._heap[0][0] - now if self._heap else 0.5
                self._wake_playback.wait(max(timeout, 0.0))

    # ---- the model thread ----------------------------------------------------------------------------

    def _work(self) -> None:
        try:
            ctx = self._warm_up()
            self._ready.set()
            self._loop(ctx)
        except BaseException as exc:  # reported to the owner; the player still sounds
            self.error = exc
            self._ready.set()

    def _warm_up(self) -> TokenContext:
        ctx = TokenContext.for_style(self.model, self.style)
        trial = ctx.fork()  # run every code path once, so the first phrase pays no first-call costs
        trial.push(PhraseTokenizer().note_on(60, 80, 0.0))
        for _ in zip(range(3), answer_steps(trial.fork(), replace(self.options, seed=0), 1.0), strict=False):
            pass
        return ctx

    def _loop(self, ctx: TokenContext) -> None:
        tokenizer = PhraseTokenizer()
        onsets: list[float] = []  # this phrase's note-ons
        prepared: _Prepared | None = None
        heard: _Live | None = None  # the last answer, until the player's next event says how much was heard
        while True:
            with self._lock:
                if not self._running:
                    return
                events, self._inbox = self._inbox, []
                silent = not self._held and not self._pedal_down
                phrase_open, last_event_s = self._phrase_open, self._last_event_s
                if not events and not (phrase_open and silent):
                    self._wake_worker.wait(0.5)
                    continue
            if events:
                prepared = None
                ids: list[int] = []
                if heard is not None:
                    ctx, ids = self._settle(heard, tokenizer, events[0][3])
                    heard = None
                for kind, pitch, velocity, t in events:
                    if kind == "on":
                        ids += tokenizer.note_on(pitch, velocity, t)
                        onsets.append(t)
                    elif kind == "off":
                        ids += tokenizer.note_off(pitch, t)
                    else:
                        ids += tokenizer.pedal(bool(pitch), t)
                ctx.push(ids)
                continue
            gap_end_s = last_event_s + (self.gap_s or gap_for_tempo(estimate_tempo_bpm(onsets)))
            if prepared is None:
                prepared = self._prepare(ctx, tokenizer, gap_end_s, onsets)
                continue  # the player may have played meanwhile
            with self._lock:
                wait_s = gap_end_s - self.clock()
                if self._inbox or not self._running:
                    continue
                if wait_s > 0:
                    self._wake_worker.wait(wait_s)
                    continue
                live = _Live(prepared.record, prepared)
                self._live, self._phrase_open = live, False
                self.answers.append(live.record)
            self._play_answer(live)
            heard, prepared, onsets = live, None, []

    def _prepare(self, ctx: TokenContext, tokenizer: PhraseTokenizer, gap_end_s: float, onsets: list[float]):
        """Before the gap ends: the gap's TIME_SHIFTs and the answer's first note, on a fork of `ctx`."""
        t0 = time.perf_counter()
        key = self.options.key
        if key is None and self.constrain_key:
            key = estimate_key(self._key_notes(min(onsets, default=gap_end_s)))
        seconds = self.answer_s
        if seconds is None:
            seconds = min(max(gap_end_s - min(onsets, default=gap_end_s), MIN_ANSWER_S), MAX_ANSWER_S)
        ctx.make_room(min(ANSWER_TOKEN_ROOM, self.model.cfg.max_len // 2))
        base = ctx.fork()
        steps = round((gap_end_s - tokenizer.anchor_s) / STEP_S) if tokenizer.anchor_s is not None else 0
        base.push(shift_tokens(min(steps, round(tokenizer.max_rest_s / STEP_S))))
        branch = base.fork()
        seed = None if self.options.seed is None else self.options.seed + len(self.answers)  # each answer its own
        stream = answer_steps(branch, replace(self.options, key=key, seed=seed), seconds)
        first = next(stream)
        record = JamAnswer(gap_end_s, key, seconds, (time.perf_counter() - t0) * 1000.0)
        return _Prepared(base, branch, stream, first, record)

    def _key_notes(self, phrase_start_s: float) -> list:
        """The phrase's own notes when it has a few (the player may change key), else the latest ones."""
        notes = list(self.engine.song.tracks[self.player_track].notes)
        start_s = phrase_start_s - self.t0_s - STEP_S
        phrase = [n for n in notes if n.start_s >= start_s]
        return phrase if len(phrase) >= PHRASE_KEY_NOTES else notes[-KEY_NOTES:]

    def _play_answer(self, live: _Live) -> None:
        """Sample and schedule until the answer is complete or cut off; never more than lookahead_s ahead."""
        prepared = live.prepared
        step = prepared.first
        while True:
            live.steps.append(step)
            self._schedule(live, step)
            ahead_s = live.record.gap_end_s + step.time_s - self.clock() - self.lookahead_s
            if ahead_s > 0:
                live.cancel.wait(ahead_s)
            if live.cancel.is_set():
                break
            step = next(prepared.steps, None)
            if step is None:
                break
        with self._lock:
            live.sampled = True

    def _settle(self, live: _Live, tokenizer: PhraseTokenizer, at_s: float) -> tuple[TokenContext, list[int]]:
        """The context after the answer as far as it was heard, and the ids that end its cut-off notes.

        `at_s` is the time of the player's first event since the answer began.
        """
        if live.record.yielded_at_s is None:  # heard to the end
            ctx, kept = live.prepared.branch, [i for s in live.steps for i in s.fed]
            end_s = live.steps[-1].time_s if live.steps else 0.0
        else:
            heard_s = live.record.yielded_at_s - live.record.gap_end_s
            ctx, kept, end_s = live.prepared.base.fork(), [], 0.0
            for step in live.steps:
                if step.time_s > heard_s:
                    break
                kept += step.fed
                end_s = step.time_s
            ctx.push(kept)
        tokenizer.set_anchor(live.record.gap_end_s + end_s, ctx.velocity_bin)
        cut = sorted(sounding_after(kept))
        cut_s = live.record.yielded_at_s if live.record.yielded_at_s is not None else at_s
        ids = tokenizer.advance_to(cut_s) + [note_off(p) for p in cut] if cut else []
        return ctx, ids

"""The engine: transport, scheduler, one synth per track, mixer, metronome, limiter.

    engine = Engine(song, sample_rate=48000, block_frames=256)
    engine.play()
    block = engine.render_block(256)        # float32 (256, 2), within +-1
    engine.render_into(out)                 # the same into a caller's (n, 2) block: no new sample memory

`render_block`/`render_into` is the only thing the render thread calls. Everything else
(transport, live input, track changes) may be called from other threads:
transport calls take a short lock and leave their effect (a reset of the
synths on stop and seek) for the next block; live input goes through a
queue drained at the start of each block, at frame offset 0.

Plans: what the render thread plays (each track's synth and its scheduled events) is a `Plan`,
built whole off the render thread and published with one reference assignment; the render
thread only picks up the latest one at a block start. While an AudioOutput plays the engine
(it calls `attach_output`), a planner thread builds plans: when `notes_changed()` or
`sync_tracks()` asks, and when it notices the song's tracks changed (undo, redo, open and restore
replace them). Building a plan never holds the engine's lock. A plan reuses the synths of the
last one by content (program, drum kit, synth kind; the same track object or position first),
not by object identity, so an undo that replaces every track with an equal copy keeps every
synth and its sounding voices. Offline (no output attached), the render thread builds a plan
itself when the song changed: there, slow only means slow.

The plan types and the planner (building, publishing, the planner thread) are in
`synth.engine.planner`, a mixin of Engine.

Faults: an exception from one track's synth (in render, note_on or note_off) moves that track
to the DSP synth, with a notice, and the notes its schedule was holding start again there; the
other tracks never notice. A DSP synth that raises is replaced by a fresh one.

The song is in seconds. Scheduling is sample-accurate (an event lands on its
frame inside the block), also across a loop wrap. Offline rendering
(`synth.render`) runs this same engine.
"""

from __future__ import annotations

import copy
import math
import queue
import threading
import time
from collections.abc import Callable

import numpy as np

from composer.song import Song, Track
from synth.base import Synth
from synth.engine.limiter import PeakLimiter
from synth.engine.metronome import Metronome, beat_grid
from synth.engine.mixer import Mixer
from synth.engine.planner import (  # noqa: F401  (re-exported: imported from here)
    OVERLOAD_WINDOW_BLOCKS,
    PLAN_POLL_S,
    Plan,
    Planner,
    SynthFactory,
    _synth_key,
    _Voice,
)
from synth.engine.scheduler import Scheduler, TrackEvents  # noqa: F401  (TrackEvents re-exported)
from synth.instruments.dsp.dsp import DspSynth

_LIVE_ON, _LIVE_OFF, _LIVE_CC, _LIVE_BEND = range(4)
LOAD_SMOOTHING = 0.1  # weight of the newest block in render_load
OVERLOAD_LOAD = 0.8  # a synth that may overload and needs more than this share of each block...
POSITION_LOG_LEN = 512  # blocks remembered to tell which song position is being heard
RESTRIKE_VELOCITY = 80  # a note a failed synth was holding starts again on the DSP synth at this


_RENDERS_INTO: dict[type, bool] = {}


def _renders_into(synth) -> bool:
    """Whether `synth`'s own render_into is its way to render (not a `render` overridden below it)."""
    cls = type(synth)
    known = _RENDERS_INTO.get(cls)
    if known is None:
        known = False
        for klass in cls.__mro__:
            if "render" in klass.__dict__:
                break
            if "render_into" in klass.__dict__:
                known = klass is not Synth
                break
        _RENDERS_INTO[cls] = known
    return known


class Engine(Planner):
    """Plays a Song block by block: sample-accurate, thread-safe controls.

    Args:
        song: what to play; edited in place by the app.
        sample_rate: output rate, Hz.
        block_frames: the usual block length (render_block accepts any).
        synth_factory: track -> Synth at `sample_rate`; by default DspSynth, or NeuralSynth for a track
            whose `synth` is "neural" where the weights are installed (else DSP and a notice saying why).
        on_notice: called with each one-line notice (also kept in `notices`); an overload notice
            comes from the render thread, so a UI hands it over to its own thread.
        overload_guard: watch synths that may overload (`may_overload`, the neural one): one whose
            render time per block stays above OVERLOAD_LOAD of the block's duration over
            OVERLOAD_WINDOW_BLOCKS blocks is replaced by the DSP synth, with a notice. Offline
            rendering turns it off: there, slow only means slow.

    Attributes a UI may set or read:
        metronome (bool): click on every beat while playing.
        count_in_bars (int): bars of clicks after play() before the song moves.
        render_load (float): render time / block duration, smoothed.
        notices (list[str]): one-line messages for the user (fallbacks to the DSP synth), oldest first.
        track_peaks (list[float]): each track's post-fader peak in the last block.
        gain_reduction_db (float): the master limiter's work in the last block.
    """

    def __init__(
        self,
        song: Song,
        sample_rate: int = 48000,
        block_frames: int = 256,
        synth_factory: SynthFactory | None = None,
        on_notice: Callable[[str], None] | None = None,
        overload_guard: bool = True,
    ) -> None:
        if not 1000 <= int(sample_rate) <= 384000:
            raise ValueError(f"sample_rate must be 1000..384000 Hz, not {sample_rate}")
        if int(block_frames) < 1:
            raise ValueError(f"block_frames must be at least 1, not {block_frames}")
        self.song = song
        self.sample_rate = int(sample_rate)
        self.block_frames = int(block_frames)
        self.synth_factory = synth_factory or self._default_synth
        self.on_notice = on_notice
        self.overload_guard = overload_guard
        self.notices: list[str] = []
        self._neural_factory: SynthFactory | None = None
        self.metronome = False
        self.count_in_bars = 0
        self.render_load = 0.0
        self.track_peaks: list[float] = []
        self._lock = threading.RLock()  # transport state only: held for microseconds, never while building
        self._live: queue.SimpleQueue = queue.SimpleQueue()
        self._pos = 0  # song position, samples
        self._playing = False
        self._count_in_left = 0  # samples of count-in still to click
        self._count_in_done = 0
        self._loop: tuple[int, int] | None = None
        self._reset_pending = False
        self._deferred_offs: list[tuple[Synth, int]] = []
        self._scheduler = Scheduler(self.sample_rate)
        self._mixer = Mixer(self.sample_rate)
        self._limiter = PeakLimiter(self.sample_rate)
        self._clicks = Metronome(self.sample_rate)
        # Plans: built under _plan_lock by whoever builds (never the render thread while an output
        # plays), published in _published; the render thread's own is _plan.
        self._plan_lock = threading.Lock()
        self._stale = False  # notes were edited in place: the next plan must be built
        self._retired: queue.SimpleQueue = queue.SimpleQueue()  # plans the render thread let go of
        self._output = None  # the AudioOutput playing this engine (attach_output)
        self._planner: threading.Thread | None = None
        self._plan_wanted = threading.Event()
        self._planner_running = False
        self.plans_built = 0
        self._preview: tuple[int, tuple] | None = None  # (track index, notes) heard but not in the song
        # Which song position each block started at, to tell what is being heard (heard_position_s).
        self._frames_rendered = 0
        self._log_count = 0
        self._position_log = np.zeros((POSITION_LOG_LEN, 3), np.int64)  # frames rendered, position, moving
        self._touched: set[int] = set()
        self._clicks_due: list[tuple[int, bool]] = []
        self._spans: list[tuple[int, int, int]] = []
        self._plan = Plan((), (), (), ())
        self._published = self._plan
        self._rebuild()
        self._switch(self._published)

    def _dsp_synth(self, track: Track) -> Synth:
        return DspSynth(track.program, track.is_drum, self.sample_rate)

    def _default_synth(self, track: Track) -> Synth:
        if track.synth != "neural":
            return self._dsp_synth(track)
        if self._neural_factory is None:  # torch is imported only when a neural track appears
            from synth.instruments.neural.neural_synth import NeuralSynthFactory

            self._neural_factory = NeuralSynthFactory(
                self.sample_rate, notify=self.notice, block_frames=self.block_frames
            )
        return self._neural_factory(track)

    def prepare_synth(self, track: Track, synth: str) -> None:
        """Load what `track` would need to play with `synth` ("dsp" or "neural"), in the caller's thread.

        Call it off the audio thread before switching a track to the neural
        synth: the models (a second or more to load) are then cached, and the
        render thread, noticing the switch, only makes the synth itself.
        """
        if synth not in ("dsp", "neural"):
            raise ValueError(f"synth must be 'dsp' or 'neural', not {synth!r}")
        wanted = copy.copy(track)
        wanted.synth = synth
        self.synth_factory(wanted)

    def prepare_clip(self, clip) -> None:
        """Resample an audio clip to the engine's rate now, in the caller's thread (a worker's), so the
        audio thread does not do it when the clip first plays."""
        self._mixer.clip_audio(clip)

    def notice(self, line: str) -> None:
        """Tell the user something in one line (kept in `notices`, passed to `on_notice`)."""
        self.notices.append(line)
        if self.on_notice is not None:
            self.on_notice(line)

    # ---- what is heard -------------------------------------------------------------------------------

    @property
    def output_latency_s(self) -> float:
        """From a block being rendered to its being heard, as the attached output knows it (0 offline)."""
        output = self._output
        return float(output.latency_s) if output is not None else 0.0

    @property
    def heard_position_s(self) -> float:
        """The song position the listener hears now: the render position less the output latency."""
        return self.heard_state()[0]

    def heard_state(self) -> tuple[float, bool]:
        """(the song position heard now, seconds; whether what is heard now is the song moving): what was
        rendered an output latency ago. A count-in, or the blocks of a stop still in the ring, are not moving."""
        latency = round(self.output_latency_s * self.sample_rate)
        if latency <= 0:
            return self.position_s, self._playing and self._count_in_left <= 0
        target = self._frames_rendered - latency
        log = self._position_log
        written = self._log_count
        for back in range(1, min(written, POSITION_LOG_LEN) + 1):
            frames, position, moving = log[(written - back) % POSITION_LOG_LEN].tolist()
            if frames <= target:
                return (position + (target - frames if moving else 0)) / self.sample_rate, bool(moving)
        return self.position_s, False

    # ---- transport -----------------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def counting_in(self) -> bool:
        return self._playing and self._count_in_left > 0

    @property
    def position_s(self) -> float:
        return self._pos / self.sample_rate

    @property
    def loop(self) -> tuple[float, float] | None:
        loop = self._loop
        return None if loop is None else (loop[0] / self.sample_rate, loop[1] / self.sample_rate)

    def play(self) -> None:
        """Start from the current position, after `count_in_bars` bars of clicks."""
        with self._lock:
            if self._playing:
                return
            beat_s, per_bar = beat_grid(self.song.seconds_per_beat, self.song.time_signature)
            self._count_in_left = round(max(int(self.count_in_bars), 0) * per_bar * beat_s * self.sample_rate)
            self._count_in_done = 0
            self._playing = True

    def stop(self) -> None:
        """Stop where we are; every sounding note is cut (synth reset)."""
        with self._lock:
            self._playing = False
            self._count_in_left = 0
            self._reset_pending = True

    def seek(self, position_s: float) -> None:
        if not math.isfinite(position_s):
            raise ValueError(f"position must be a finite number of seconds, not {position_s}")
        with self._lock:
            self._pos = max(int(round(position_s * self.sample_rate)), 0)
            self._reset_pending = True

    def set_loop(self, start_s: float, end_s: float) -> None:
        """Loop [start_s, end_s) while playing inside it (or before it)."""
        if not (math.isfinite(start_s) and math.isfinite(end_s)) or start_s < 0 or end_s <= start_s:
            raise ValueError(f"loop must have 0 <= start < end, not {start_s}..{end_s}")
        start, end = round(start_s * self.sample_rate), round(end_s * self.sample_rate)
        with self._lock:
            self._loop = (start, max(end, start + 1))

    def clear_loop(self) -> None:
        with self._lock:
            self._loop = None

    # ---- live input (any thread) ---------------------------------------------------------------------

    def live_note_on(self, track_index: int, pitch: int, velocity: int) -> None:
        self._live.put((_LIVE_ON, track_index, pitch, velocity))

    def live_note_off(self, track_index: int, pitch: int) -> None:
        self._live.put((_LIVE_OFF, track_index, pitch, 0))

    def live_control_change(self, track_index: int, controller: int, value: int) -> None:
        self._live.put((_LIVE_CC, track_index, controller, value))

    def live_pitch_bend(self, track_index: int, semitones: float) -> None:
        self._live.put((_LIVE_BEND, track_index, semitones, 0))

    # ---- stats ---------------------------------------------------------------------------------------

    @property
    def active_voices(self) -> int:
        return sum(v.synth.active_voices for v in self._plan.voices)

    @property
    def synths(self) -> list[Synth]:
        """The synth of each track, in track order (as of the last block)."""
        return [v.synth for v in self._plan.voices]

    @property
    def gain_reduction_db(self) -> float:
        """How far the master limiter pulled the last block down, dB (0: not limiting)."""
        return self._limiter.gain_reduction_db

    # ---- rendering (the render thread) ---------------------------------------------------------------

    def render_block(self, n_frames: int | None = None) -> np.ndarray:
        """The next block: float32 (n_frames, 2), within +-1. Advances the transport when playing."""
        n = self.block_frames if n_frames is None else int(n_frames)
        out = np.zeros((max(n, 0), 2), np.float32)
        if n > 0:
            self.render_into(out)
        return out

    def render_into(self, out: np.ndarray) -> None:
        """The next len(out) frames into float32 `out` (n, 2), within +-1 (no new sample memory per block)."""
        t_begin = time.perf_counter()
        n = out.shape[0]
        out.fill(0.0)
        if n <= 0:
            return
        plan = self._published
        if self._planner is None and (self._stale or self._signature() != plan.signature):
            self._rebuild()  # offline: nobody else builds
            plan = self._published
        if plan is not self._plan:
            self._switch(plan)
        voices = plan.voices
        touched = self._touched
        touched.clear()
        clicks = self._clicks_due
        clicks.clear()
        spans = self._spans  # (block offset, song sample, length)
        spans.clear()
        with self._lock:
            if self._reset_pending:
                self._reset_pending = False
                for voice in voices:
                    voice.synth.reset()
                self._scheduler.sounding()
                self._deferred_offs.clear()
                self._clicks.reset()
            for synth, pitch in self._deferred_offs:
                synth.note_off(pitch, 0)
            self._deferred_offs.clear()
            self._drain_live(voices, touched)
            position, moving = self._pos, self._playing and self._count_in_left < n
            if self._playing:
                self._advance(n, clicks, voices, touched, spans)
        log = self._position_log[self._log_count % POSITION_LOG_LEN]
        log[0], log[1], log[2] = self._frames_rendered, position, moving
        self._log_count += 1
        self._frames_rendered += n
        self._mix(out, n, plan, touched, spans, clicks)
        elapsed = time.perf_counter() - t_begin
        self.render_load += LOAD_SMOOTHING * (elapsed * self.sample_rate / n - self.render_load)

    def _drain_live(self, voices, touched: set[int]) -> None:
        live = self._live
        while not live.empty():  # (no queue.Empty raised, and so no garbage, in a block without input)
            kind, index, a, b = live.get_nowait()  # this thread is the only reader
            if not 0 <= index < len(voices):
                continue
            voice = voices[index]
            try:
                if kind == _LIVE_ON:
                    voice.synth.note_on(int(a), int(b), 0)
                elif kind == _LIVE_OFF:
                    voice.synth.note_off(int(a), 0)
                elif kind == _LIVE_CC:
                    voice.synth.control_change(int(a), int(b), 0)
                else:
                    voice.synth.pitch_bend(float(a), 0)
            except Exception as exc:
                self._fail_over(index, voice, exc, "live input")
            touched.add(index)

    def _advance(self, n: int, clicks: list, voices, touched: set[int], spans: list) -> None:
        """Move the transport by n frames: count-in, then the song in spans cut at the loop end."""
        beat_s, per_bar = beat_grid(self.song.seconds_per_beat, self.song.time_signature)
        beat_samples = beat_s * self.sample_rate
        offset = 0
        if self._count_in_left > 0:
            length = min(n, self._count_in_left)
            clicks += self._clicks.hits(self._count_in_done, length, beat_samples, per_bar)
            self._count_in_left -= length
            self._count_in_done += length
            offset = length
        while offset < n:
            length = n - offset
            loop = self._loop
            wraps = loop is not None and self._pos < loop[1] and self._pos + length >= loop[1]
            if wraps:
                length = loop[1] - self._pos
            spans.append((offset, self._pos, length))
            self._dispatch(self._pos, length, offset, voices, touched)
            if self.metronome:
                clicks += [(offset + o, a) for o, a in self._clicks.hits(self._pos, length, beat_samples, per_bar)]
            offset += length
            self._pos += length
            if wraps:
                self._pos = loop[0]
                self._end_sounding(offset if offset < n else None)

    def _dispatch(self, start: int, length: int, offset: int, voices, touched: set[int]) -> None:
        scheduler = self._scheduler
        for index in range(min(len(voices), len(scheduler.tracks))):
            voice = voices[index]
            try:
                if scheduler.play(index, start, start + length, voice.synth, offset):
                    touched.add(index)
            except Exception as exc:
                self._fail_over(index, voice, exc, "its notes")
                touched.add(index)

    def _fail_over(self, index: int, voice: _Voice, exc: BaseException, doing: str) -> None:
        """Render thread: a synth raised. The track moves to a fresh DSP synth; its held notes start again."""
        failed = voice.synth
        track = self._plan.tracks[index] if index < len(self._plan.tracks) else None
        name = track.name if track is not None else f"track {index + 1}"
        kind = "DSP" if isinstance(failed, DspSynth) else getattr(track, "synth", "its")
        try:
            replacement = self._dsp_synth(track) if track is not None else DspSynth(0, False, self.sample_rate)
        except Exception:  # not even a DSP synth for this track: the plain piano, never silence for good
            replacement = DspSynth(0, False, self.sample_rate)
        voice.synth = replacement
        voice.loads.clear()
        for pitch in self._scheduler.sounding_pitches(index):
            replacement.note_on(pitch, RESTRIKE_VELOCITY, 0)
        self.notice(
            f"{name}: the {kind} synth failed on {doing} ({type(exc).__name__}: {exc}); moved to a new DSP synth"
        )

    def _watch_load(self, voice: _Voice, index: int, load: float) -> None:
        """Move a synth that cannot keep up to the DSP synth (the next block on), saying so."""
        voice.loads.append(load)
        if len(voice.loads) < OVERLOAD_WINDOW_BLOCKS:
            return
        mean = sum(voice.loads) / len(voice.loads)
        if mean <= OVERLOAD_LOAD:
            return
        track = self._plan.tracks[index]
        voice.synth = self._dsp_synth(track)
        voice.loads.clear()
        self.notice(
            f"{track.name}: the neural synth needs {mean:.0%} of each block's time "
            f"(over {OVERLOAD_WINDOW_BLOCKS} blocks, limit {OVERLOAD_LOAD:.0%}); moved to the DSP synth"
        )

    def _render_voice(self, index: int, voice: _Voice, n: int) -> np.ndarray:
        """One track's mono block, in the voice's own buffer; a synth that raises is replaced (silence now)."""
        mono = voice.mono
        if mono.shape[0] != n:
            mono = voice.mono = np.zeros(n, np.float32)
        synth = voice.synth
        try:
            watch = self.overload_guard and getattr(synth, "may_overload", False)
            t_begin = time.perf_counter() if watch else 0.0
            if _renders_into(synth):
                synth.render_into(mono)
            else:
                mono[:] = synth.render(n)
            if watch:
                self._watch_load(voice, index, (time.perf_counter() - t_begin) * self.sample_rate / n)
        except Exception as exc:
            self._fail_over(index, voice, exc, "rendering")
            try:  # this very block from the replacement, with the notes it started again
                mono[:] = voice.synth.render(n)
            except Exception:
                mono.fill(0.0)
        return mono

    def _mix(self, out: np.ndarray, n: int, plan: Plan, touched, song_spans, clicks) -> None:
        tracks = plan.tracks
        soloing = False
        for track in tracks:
            if track.solo:
                soloing = True
                break
        peaks = self.track_peaks
        if len(peaks) != len(tracks):
            peaks = self.track_peaks = [0.0] * len(tracks)
        for index, voice in enumerate(plan.voices):
            synth = voice.synth
            # Every synth renders every block, so its clock stays the engine's; one that had no
            # voices and got no events is silent by contract and is not mixed.
            quiet = not synth.active_voices and index not in touched
            mono = self._render_voice(index, voice, n)
            track = tracks[index]
            audible = track.solo if soloing else not track.mute  # as Song.audible_tracks()
            volume = track.volume if audible else 0.0
            peaks[index] = self._mixer.mix_track(out, id(voice), None if quiet else mono, volume, track.pan)
        if self.song.clips and not soloing:
            clips = [c for c in self.song.clips if not c.mute]
            for offset, start, length in song_spans:
                self._mixer.add_clips(out, clips, start, offset, length)
        self._clicks.add_into(out, clicks)
        self._limiter.process(out)

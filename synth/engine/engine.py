"""The engine: transport, scheduler, one synth per track, mixer, metronome, limiter.

    engine = Engine(song, sample_rate=48000, block_frames=256)
    engine.play()
    block = engine.render_block(256)        # float32 (256, 2), within +-1

`render_block` is the only thing the render thread calls. Everything else
(transport, live input, track changes) may be called from other threads:
transport calls take a short lock and leave their effect (a reset of the
synths on stop and seek) for the next block; live input goes through a
queue drained at the start of each block, at frame offset 0.

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
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from composer.song import Song, Track
from synth.base import Synth
from synth.engine.limiter import PeakLimiter
from synth.engine.metronome import Metronome, beat_grid
from synth.engine.mixer import Mixer
from synth.engine.scheduler import ON, Scheduler
from synth.instruments.dsp.dsp import DspSynth

SynthFactory = Callable[[Track], Synth]

_LIVE_ON, _LIVE_OFF, _LIVE_CC, _LIVE_BEND = range(4)
LOAD_SMOOTHING = 0.1  # weight of the newest block in render_load
OVERLOAD_LOAD = 0.8  # a synth that may overload and needs more than this share of each block...
OVERLOAD_WINDOW_BLOCKS = 32  # ...on average over this many blocks moves to the DSP synth


@dataclass
class _Slot:
    """A track and the synth made for it (with what it was made from, to notice changes)."""

    track: Track
    synth: Synth
    made_from: tuple
    loads: deque = field(default_factory=lambda: deque(maxlen=OVERLOAD_WINDOW_BLOCKS))  # render s / block s


def _synth_key(track: Track) -> tuple:
    return (track.program, track.is_drum, track.synth)


class Engine:
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
        self._lock = threading.RLock()
        self._live: queue.SimpleQueue = queue.SimpleQueue()
        self._pos = 0  # song position, samples
        self._playing = False
        self._count_in_left = 0  # samples of count-in still to click
        self._count_in_done = 0
        self._loop: tuple[int, int] | None = None
        self._reset_pending = False
        self._deferred_offs: list[tuple[Synth, int]] = []
        self._slots: list[_Slot] = []
        self._pending_slots: list[_Slot] | None = None
        self._schedule_stale = False
        self._scheduler = Scheduler(self.sample_rate)
        self._notes_signature: tuple = ()
        self._mixer = Mixer(self.sample_rate)
        self._limiter = PeakLimiter(self.sample_rate)
        self._clicks = Metronome(self.sample_rate)
        self.sync_tracks()
        self._apply_track_changes()

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

    # ---- tracks --------------------------------------------------------------------------------------

    def sync_tracks(self) -> None:
        """Match the synths to song.tracks: keep those whose track is unchanged, make new ones.

        New synths are made here, in the caller's thread; the render thread
        switches to them at the start of its next block.
        """
        with self._lock:
            current = self._pending_slots if self._pending_slots is not None else self._slots
            old = {id(s.track): s for s in current}
            slots = []
            for track in list(self.song.tracks):
                slot = old.get(id(track))
                if slot is None or slot.made_from != _synth_key(track):
                    synth = self.synth_factory(track)
                    if synth.sample_rate != self.sample_rate:
                        raise ValueError(
                            f"synth for {track.name!r} runs at {synth.sample_rate} Hz, "
                            f"the engine at {self.sample_rate} Hz"
                        )
                    slot = _Slot(track, synth, _synth_key(track))
                slots.append(slot)
            self._pending_slots = slots
            self._notes_signature = self._signature()

    def notes_changed(self) -> None:
        """Call after editing notes in place (moving or resizing one); adding or removing is noticed alone."""
        with self._lock:
            self._schedule_stale = True

    def _apply_track_changes(self) -> None:
        """At a block start, under the lock: new synths and schedule; notes the old schedule started end."""
        if self._signature() != self._notes_signature:
            self.sync_tracks()
        if self._pending_slots is None and not self._schedule_stale:
            return
        self._end_sounding(0)
        if self._pending_slots is not None:
            self._slots, self._pending_slots = self._pending_slots, None
            self._mixer.forget({id(s.track) for s in self._slots})
        self._schedule_stale = False
        self._scheduler.build([s.track for s in self._slots])

    def _signature(self) -> tuple:
        return tuple((id(t), id(t.notes), len(t.notes), *_synth_key(t)) for t in self.song.tracks)

    def _end_sounding(self, offset: int | None) -> None:
        """Note-offs for every note the scheduler started, at `offset` (None: at the start of the next block)."""
        for slot, pitches in zip(self._slots, self._scheduler.sounding(), strict=False):
            for pitch in pitches:
                if offset is None:
                    self._deferred_offs.append((slot.synth, pitch))
                else:
                    slot.synth.note_off(pitch, offset)

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
        return sum(s.synth.active_voices for s in self._slots)

    @property
    def synths(self) -> list[Synth]:
        """The synth of each track, in track order (as of the last block)."""
        return [s.synth for s in self._slots]

    @property
    def gain_reduction_db(self) -> float:
        """How far the master limiter pulled the last block down, dB (0: not limiting)."""
        return self._limiter.gain_reduction_db

    # ---- rendering (the render thread) ---------------------------------------------------------------

    def render_block(self, n_frames: int | None = None) -> np.ndarray:
        """The next block: float32 (n_frames, 2), within +-1. Advances the transport when playing."""
        t_begin = time.perf_counter()
        n = self.block_frames if n_frames is None else int(n_frames)
        out = np.zeros((n, 2), np.float32)
        if n <= 0:
            return out
        with self._lock:
            self._apply_track_changes()
            slots = self._slots
            if self._reset_pending:
                self._reset_pending = False
                for slot in slots:
                    slot.synth.reset()
                self._scheduler.sounding()
                self._deferred_offs.clear()
                self._clicks.reset()
            for synth, pitch in self._deferred_offs:
                synth.note_off(pitch, 0)
            self._deferred_offs.clear()
            touched = self._drain_live(slots)
            clicks: list[tuple[int, bool]] = []
            song_spans: list[tuple[int, int, int]] = []  # (block offset, song sample, length)
            if self._playing:
                song_spans = self._advance(n, clicks, slots, touched)
        self._mix(out, n, slots, touched, song_spans, clicks)
        elapsed = time.perf_counter() - t_begin
        self.render_load += LOAD_SMOOTHING * (elapsed * self.sample_rate / n - self.render_load)
        return out

    def _drain_live(self, slots: list[_Slot]) -> set[int]:
        touched: set[int] = set()
        while True:
            try:
                kind, index, a, b = self._live.get_nowait()
            except queue.Empty:
                return touched
            if not 0 <= index < len(slots):
                continue
            synth = slots[index].synth
            if kind == _LIVE_ON:
                synth.note_on(int(a), int(b), 0)
            elif kind == _LIVE_OFF:
                synth.note_off(int(a), 0)
            elif kind == _LIVE_CC:
                synth.control_change(int(a), int(b), 0)
            else:
                synth.pitch_bend(float(a), 0)
            touched.add(index)

    def _advance(self, n: int, clicks: list, slots: list[_Slot], touched: set[int]) -> list[tuple[int, int, int]]:
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
        spans = []
        while offset < n:
            length = n - offset
            loop = self._loop
            wraps = loop is not None and self._pos < loop[1] and self._pos + length >= loop[1]
            if wraps:
                length = loop[1] - self._pos
            spans.append((offset, self._pos, length))
            self._dispatch(self._pos, length, offset, slots, touched)
            if self.metronome:
                clicks += [(offset + o, a) for o, a in self._clicks.hits(self._pos, length, beat_samples, per_bar)]
            offset += length
            self._pos += length
            if wraps:
                self._pos = loop[0]
                self._end_sounding(offset if offset < n else None)
        return spans

    def _dispatch(self, start: int, length: int, offset: int, slots: list[_Slot], touched: set[int]) -> None:
        for index, events in enumerate(self._scheduler.events(start, start + length)):
            if not events or index >= len(slots):
                continue
            synth = slots[index].synth
            touched.add(index)
            for sample, kind, pitch, velocity in events:
                at = offset + sample - start
                if kind == ON:
                    synth.note_on(pitch, velocity, at)
                else:
                    synth.note_off(pitch, at)

    def _watch_load(self, slot: _Slot, load: float) -> None:
        """Move a synth that cannot keep up to the DSP synth (the next block on), saying so."""
        slot.loads.append(load)
        if len(slot.loads) < OVERLOAD_WINDOW_BLOCKS:
            return
        mean = sum(slot.loads) / len(slot.loads)
        if mean <= OVERLOAD_LOAD:
            return
        slot.synth = self._dsp_synth(slot.track)
        slot.loads.clear()
        self.notice(
            f"{slot.track.name}: the neural synth needs {mean:.0%} of each block's time "
            f"(over {OVERLOAD_WINDOW_BLOCKS} blocks, limit {OVERLOAD_LOAD:.0%}); moved to the DSP synth"
        )

    def _mix(self, out: np.ndarray, n: int, slots, touched, song_spans, clicks) -> None:
        audible = {id(t) for t in self.song.audible_tracks()}
        tracks = []
        for index, slot in enumerate(slots):
            synth = slot.synth
            # Every synth renders every block, so its clock stays the engine's; one that had no
            # voices and got no events is silent by contract and is not mixed.
            quiet = not synth.active_voices and index not in touched
            if self.overload_guard and getattr(synth, "may_overload", False):
                t_begin = time.perf_counter()
                mono = synth.render(n)
                self._watch_load(slot, (time.perf_counter() - t_begin) * self.sample_rate / n)
            else:
                mono = synth.render(n)
            track = slot.track
            volume = track.volume if id(track) in audible else 0.0
            tracks.append((id(track), None if quiet else mono, volume, track.pan))
        self.track_peaks = self._mixer.mix_tracks(out, tracks)
        soloing = any(t.solo for t in self.song.tracks)
        clips = [c for c in self.song.clips if not c.mute and not soloing]
        if clips:
            for offset, start, length in song_spans:
                self._mixer.add_clips(out, clips, start, offset, length)
        click = self._clicks.render(n, clicks)
        if click is not None:
            out += click[:, None]
        self._limiter.process(out)

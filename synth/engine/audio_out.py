"""Real-time output: a render thread fills a lock-free ring ahead; a C callback drains it.

    out = AudioOutput(engine.render_block, sample_rate=48000, block_frames=128, ahead_blocks=1)
    with out:                     # opens the default device, starts the render thread
        ...                       # out.underflows, out.underruns, out.render_load, out.render_time_s(0.99), ...

The device callback runs no Python: python-rtmixer's C callback (`backend="rtmixer"`, the default)
copies frames out of a PortAudio ring buffer (lock-free, single producer, single consumer), so no
GIL, no garbage collection, no allocation and no lock can delay it. Where rtmixer is not installed
the fallback (`backend="python"`) is a Python callback that only copies from a FrameRing into the
device buffer and writes four numbers into a preallocated log.

The render thread (real-time priority where the OS allows, one notice line where not) renders
`block_frames` at a time into one preallocated block, and keeps the ring `ahead_blocks` blocks deep:
an event queued to the engine sounds after at most `ahead_blocks + 1` block periods, plus the
device's own output latency (`output_latency_s`). When a block's render time nears the block's
duration (ADAPT_LOAD), or the ring ran dry, it deepens the ring by one block (up to
`max_ahead_blocks`) and says so in one notice line instead of dropping the next block. After
`calm_s` in which every block would have fitted a ring one block shallower, it gives that block back
(never below the `ahead_blocks` asked for), also with a notice: one spike does not cost latency for good.

Faults: an exception from `render_block` is stored in `render_error` (and counted in
`render_failures`); that block is silence and rendering goes on with the next one. Only when every
block fails for FAILURES_GIVE_UP_S does the render thread stop (`failed` is then true).

Without any audio device, `start()` raises `NoAudioDevice` ("no audio device (reason)"), a
`ComposerError`, so the command line prints one line and exits 2.

If `render_block` is the bound `render_block` of an object with `render_into(out)` (the Engine),
that is called instead, into the preallocated block; and an object with `attach_output(output)` /
`detach_output(output)` is told when the stream starts and stops (the Engine then builds new plans
off the render thread and knows the output latency).
"""

from __future__ import annotations

import bisect
import contextlib
import math
import threading
import time
from collections.abc import Callable

import numpy as np

from composer.errors import ComposerError
from synth.engine.realtime import request_realtime_priority
from synth.engine.ring_buffer import FrameRing

TIMING_LOG_LEN = 4096  # python backend: callbacks remembered (frames read, perf_counter, DAC time)
# Columns of AudioOutput.timing_log, one row per callback (python backend).
LOG_READ_BEFORE, LOG_READ_AFTER, LOG_PERF_S, LOG_DAC_AHEAD_S, LOG_DAC_TIME_S = range(5)
ADAPT_LOAD = 0.75  # a block whose render time exceeds this share of its duration deepens the ring
MAX_AHEAD_S = 0.04  # the adaptive margin stops deepening here (or at ahead_blocks, if that is more)
CALM_S = 10.0  # this long with every block fitting a ring one block shallower: the margin gives a block back
FAILURES_GIVE_UP_S = 2.0  # every block failing for this long: the render thread gives up
HIST_BIN_S = 10e-6  # render-time histogram: 10 us bins...
HIST_BINS = 20000  # ...up to 200 ms (the last bin holds everything slower)


class NoAudioDevice(ComposerError):
    """No output device could be opened; the message starts with "no audio device"."""

    def __init__(self, reason: str) -> None:
        reason = " ".join(str(reason).split())  # one line, whatever PortAudio said
        super().__init__(None, f"no audio device ({reason})" if reason else "no audio device")


def import_sounddevice():
    """Import sounddevice (initializes PortAudio); no PortAudio library at all is NoAudioDevice."""
    try:
        import sounddevice
    except OSError as exc:  # libportaudio missing
        raise NoAudioDevice(str(exc)) from None
    return sounddevice


def import_rtmixer():
    """python-rtmixer (the C callback), or None where it is not installed."""
    try:
        import rtmixer
    except (ImportError, OSError):
        return None
    return rtmixer


def default_output_device(device: int | str | None = None) -> dict:
    """The output device that would be opened (sounddevice's device dict), or NoAudioDevice."""
    sd = import_sounddevice()
    try:
        info = sd.query_devices(device, kind="output")
    except (ValueError, sd.PortAudioError) as exc:
        if not any(d["max_output_channels"] > 0 for d in sd.query_devices()):
            raise NoAudioDevice("no output device found; is a sound server such as JACK running?") from None
        raise NoAudioDevice(str(exc)) from None
    if info["max_output_channels"] < 1:
        raise NoAudioDevice(f"device {info['name']!r} has no outputs")
    return info


def _pow2_at_least(n: int) -> int:
    return 1 << max(int(n) - 1, 1).bit_length()


class AudioOutput:
    """Plays `render_block(n_frames) -> float32 (n_frames, channels)` on the default (or given) device.

    Args:
        render_block: the source (see the module docstring for the Engine's faster path).
        sample_rate, block_frames, device, channels: the stream.
        ahead_blocks: blocks rendered ahead of the callback (the ring's depth to start with).
        max_ahead_blocks: how deep the adaptive margin may make it (default: MAX_AHEAD_S worth).
        backend: "rtmixer" (C callback), "python" (Python callback), or None: rtmixer where installed.
        on_notice: called with each one-line notice (from the render thread; must not block).
        realtime_priority: ask for SCHED_FIFO for the render thread.
        calm_s: how long the margin must be unneeded before it shrinks by a block (CALM_S).
    """

    def __init__(
        self,
        render_block: Callable[[int], np.ndarray],
        sample_rate: int = 48000,
        block_frames: int = 256,
        device: int | str | None = None,
        ahead_blocks: int = 2,
        channels: int = 2,
        max_ahead_blocks: int | None = None,
        backend: str | None = None,
        on_notice: Callable[[str], None] | None = None,
        realtime_priority: bool = True,
        calm_s: float = CALM_S,
    ) -> None:
        if block_frames <= 0 or ahead_blocks <= 0:
            raise ValueError(f"block_frames and ahead_blocks must be positive, got {block_frames}, {ahead_blocks}")
        if backend not in (None, "rtmixer", "python"):
            raise ValueError(f"backend must be 'rtmixer' or 'python', not {backend!r}")
        self.render_block = render_block
        owner = getattr(render_block, "__self__", None)
        into = getattr(owner, "render_into", None)
        self._render_into = into if callable(into) and getattr(render_block, "__name__", "") == "render_block" else None
        self._owner = owner if self._render_into is not None else None
        self.sample_rate = sample_rate
        self.block_frames = block_frames
        self.device = device
        self.channels = channels
        self.ahead_blocks = ahead_blocks
        self.min_ahead_blocks = ahead_blocks  # the adaptive margin shrinks back to this, never below
        self.calm_s = calm_s
        self._calm_since = time.perf_counter()
        block_s = block_frames / sample_rate
        self.max_ahead_blocks = max(
            ahead_blocks, max_ahead_blocks if max_ahead_blocks is not None else math.ceil(MAX_AHEAD_S / block_s)
        )
        self.backend = backend or ("rtmixer" if import_rtmixer() is not None else "python")
        self.on_notice = on_notice
        self.realtime_priority = realtime_priority
        self.notices: list[str] = []
        self.realtime_refused: str | None = None  # why the render thread has normal priority, if it has
        # The ring: room for the deepest margin plus one block. The python backend's is a FrameRing.
        capacity = (self.max_ahead_blocks + 1) * block_frames
        self.ring = FrameRing(capacity, channels) if self.backend == "python" else None
        self._block = np.zeros((block_frames, channels), dtype=np.float32)  # what the render thread fills
        # python backend: one row per callback.
        self.timing_log = np.zeros((TIMING_LOG_LEN, 5), dtype=np.float64)
        self._callbacks = 0
        self._underflows = 0
        self.underruns = 0  # times the ring ran dry (the render thread was late; silence was played)
        self.render_blocks = 0
        self.render_load = 0.0  # mean render time / block time since start
        self.render_load_max = 0.0
        self.render_error: BaseException | None = None  # the latest exception from render_block
        self.render_failures = 0  # blocks that raised (each played as silence)
        self.failed = False  # every block failed for FAILURES_GIVE_UP_S: the render thread stopped
        self.device_name = ""
        self._render_hist = np.zeros(HIST_BINS, dtype=np.int64)
        self._render_s_total = 0.0
        self._render_s_max = 0.0
        self._failing_since: float | None = None
        self._frames_written = 0  # frames the render thread put into the ring, ever
        self._stream = None
        self._rt = None  # rtmixer: (ring, cdata of the block, lib, ring pointer, the callback's result queue)
        self._action = None  # rtmixer: the playing ring action
        self._segments: list[tuple[int, object]] = []  # rtmixer: (first frame, action) per (re)start
        self._segment_starts: list[int] = []
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()  # the render thread is running
        self._running = False

    # -- the python backend's callback: copy only ------------------------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        if status.output_underflow:
            self._underflows += 1
        log = self.timing_log
        i = self._callbacks % TIMING_LOG_LEN
        ring = self.ring
        log[i, LOG_READ_BEFORE] = ring.read_frames
        log[i, LOG_PERF_S] = time.perf_counter()
        dac_s = time_info.outputBufferDacTime
        log[i, LOG_DAC_AHEAD_S] = dac_s - time_info.currentTime
        log[i, LOG_DAC_TIME_S] = dac_s
        if ring.read_into(outdata) < frames:
            self.underruns += 1
        log[i, LOG_READ_AFTER] = ring.read_frames
        self._callbacks += 1

    # -- figures the callback keeps ---------------------------------------------------------------

    @property
    def callbacks(self) -> int:
        if self._stream is not None and self.backend == "rtmixer":
            return int(self._stream._state.stats.blocks)
        return self._callbacks

    @property
    def underflows(self) -> int:
        """Callbacks whose status flagged output_underflow (the device itself was starved)."""
        if self._stream is not None and self.backend == "rtmixer":
            return int(self._stream._state.stats.output_underflows)
        return self._underflows

    @property
    def frames_delivered(self) -> int:
        """Frames handed to the device, silence included."""
        return self.callbacks * self.block_frames

    @property
    def frames_written(self) -> int:
        """Frames rendered into the ring since start (frame 0 is the first rendered)."""
        return self._frames_written

    @property
    def queued_frames(self) -> int:
        """Frames rendered and not yet taken by the callback."""
        if self.backend == "python":
            return self.ring.available_frames
        rt = self._rt
        return int(rt[2].PaUtil_GetRingBufferReadAvailable(rt[3])) if rt is not None else 0

    @property
    def frames_taken(self) -> int:
        """Frames the callback has taken from the ring (frame index of the next one it will take)."""
        return self._frames_written - self.queued_frames

    # -- the render thread -----------------------------------------------------------------------

    def _render_one(self, adapt: bool = True) -> None:
        """Render one block into self._block and time it; an exception makes it silence.

        With `adapt`, a render time near the time the ring had left (ADAPT_LOAD of it) deepens the ring.
        """
        block = self._block
        slack_s = (self.queued_frames + self.block_frames) / self.sample_rate  # until the ring would run dry
        t0 = time.perf_counter()
        try:
            if self._render_into is not None:
                self._render_into(block)
            else:
                block[:] = self.render_block(self.block_frames)
            self._failing_since = None
        except Exception as exc:  # stored for the owner; this block is silence, the next one is tried
            block.fill(0.0)
            first = self.render_error is None or type(exc) is not type(self.render_error)
            self.render_error = exc
            self.render_failures += 1
            if self._failing_since is None:
                self._failing_since = t0
            if first:
                self._notice(f"audio: rendering failed ({type(exc).__name__}: {exc}); playing on")
        elapsed = time.perf_counter() - t0
        self.render_blocks += 1
        self._render_hist[min(int(elapsed / HIST_BIN_S), HIST_BINS - 1)] += 1
        self._render_s_total += elapsed
        if elapsed > self._render_s_max:
            self._render_s_max = elapsed
        block_s = self.block_frames / self.sample_rate
        self.render_load = self._render_s_total / self.render_blocks / block_s
        self.render_load_max = self._render_s_max / block_s
        if adapt and elapsed > ADAPT_LOAD * slack_s:
            self._deepen(f"a block took {elapsed * 1000:.1f} ms, the ring had {slack_s * 1000:.1f} ms left")
        elif adapt and self.ahead_blocks > self.min_ahead_blocks:
            self._maybe_shrink(elapsed, slack_s - block_s, t0)

    def _write(self) -> None:
        if self.backend == "python":
            self.ring.write(self._block)
        else:
            rt = self._rt
            rt[2].PaUtil_WriteRingBuffer(rt[3], rt[1], self.block_frames)
        self._frames_written += self.block_frames

    def _maybe_shrink(self, elapsed_s: float, shallower_slack_s: float, now: float) -> None:
        """A block back once every block for calm_s would have fitted a ring one block shallower."""
        if elapsed_s > ADAPT_LOAD * shallower_slack_s:
            self._calm_since = now
        elif now - self._calm_since >= self.calm_s:
            self.ahead_blocks -= 1
            self._calm_since = now
            ahead_ms = self.ahead_blocks * self.block_frames / self.sample_rate * 1000
            depth = f"rendering {self.ahead_blocks} blocks ahead ({ahead_ms:.1f} ms)"
            self._notice(f"audio: calm for {self.calm_s:g} s; {depth}")

    def _deepen(self, why: str) -> None:
        self._calm_since = time.perf_counter()
        if self.ahead_blocks >= self.max_ahead_blocks:
            return
        self.ahead_blocks += 1
        ahead_ms = self.ahead_blocks * self.block_frames / self.sample_rate * 1000
        self._notice(f"audio: {why}; rendering {self.ahead_blocks} blocks ahead now ({ahead_ms:.1f} ms)")

    def _notice(self, line: str) -> None:
        self.notices.append(line)
        if self.on_notice is not None:
            with contextlib.suppress(Exception):  # a notice must never stop the sound
                self.on_notice(line)

    def _fill(self, adapt: bool = True) -> None:
        """Render blocks until the ring is `ahead_blocks` deep."""
        while self.queued_frames + self.block_frames <= self.ahead_blocks * self.block_frames:
            self._render_one(adapt)
            self._write()

    def _restart_if_dry(self) -> None:
        """rtmixer: the C callback ends the ring action when the ring runs dry (and says so in its result
        queue, the only action we give it); count it, refill, restart."""
        action, rt = self._action, self._rt
        if action is None or not rt[2].PaUtil_GetRingBufferReadAvailable(rt[4]):
            return  # (one C call: nothing ended)
        if action in self._stream.actions:  # drains the result queue
            return
        self.underruns += 1
        self._deepen("the ring ran dry")
        self._fill(adapt=False)
        self._play_ring()

    def _play_ring(self) -> None:
        start = self.frames_taken
        self._action = self._stream.play_ringbuffer(self._rt[0])
        self._segments.append((start, self._action))
        self._segment_starts.append(start)

    def _render_loop(self) -> None:
        if self.realtime_priority:
            self.realtime_refused = request_realtime_priority()
            if self.realtime_refused is not None:
                self._notice(f"audio: {self.realtime_refused}")
        self._ready.set()
        poll_s = min(0.001, self.block_frames / self.sample_rate / 4)
        while self._running:
            if self.backend == "rtmixer":
                self._restart_if_dry()
            self._fill()
            if self._failing_since is not None and time.perf_counter() - self._failing_since > FAILURES_GIVE_UP_S:
                self.failed = True
                self._notice(f"audio: every block failed for {FAILURES_GIVE_UP_S:g} s; rendering stopped")
                return
            time.sleep(poll_s)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        """Open the device (NoAudioDevice if there is none), pre-render, start playing."""
        if self._stream is not None:
            return
        sd = import_sounddevice()
        info = default_output_device(self.device)
        self.device_name = info["name"]
        kwargs = dict(
            samplerate=self.sample_rate,
            blocksize=self.block_frames,
            device=self.device,
            channels=self.channels,
            latency="low",
        )
        try:
            if self.backend == "rtmixer":
                rtmixer = import_rtmixer()
                if rtmixer is None:
                    raise NoAudioDevice("python-rtmixer is not installed")
                stream = rtmixer.Mixer(**kwargs)
                frames = _pow2_at_least((self.max_ahead_blocks + 1) * self.block_frames)
                ring = rtmixer.RingBuffer(4 * self.channels, frames)
                block = rtmixer._ffi.from_buffer(self._block)
                self._rt = (ring, block, rtmixer._lib, ring._ptr, stream._result_q._ptr)
            else:
                stream = sd.OutputStream(dtype="float32", callback=self._callback, **kwargs)
                self.ring = FrameRing((self.max_ahead_blocks + 1) * self.block_frames, self.channels)
                self._callbacks = self._underflows = 0
        except sd.PortAudioError as exc:
            raise NoAudioDevice(str(exc)) from None
        self._stream = stream
        self._frames_written = 0
        self._segments, self._segment_starts = [], []
        self.failed = False
        if self._owner is not None and hasattr(self._owner, "attach_output"):
            self._owner.attach_output(self)
        self._fill(adapt=False)  # the first callback finds the ring full (first-call costs are no overload)
        # The render thread runs (at its priority) before the device asks for anything, so the first
        # blocks do not wait for a thread to start on a busy machine.
        self._running = True
        self._ready.clear()
        self._thread = threading.Thread(target=self._render_loop, name="audio-render", daemon=True)
        self._thread.start()
        self._ready.wait(1.0)
        stream.start()
        if self.backend == "rtmixer":
            self._play_ring()

    def stop(self) -> None:
        """Stop the stream and the render thread; `start()` may be called again after `close()`."""
        self._running = False
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        if self._stream is not None:
            self._stream.stop()
        if self._owner is not None and hasattr(self._owner, "detach_output"):
            self._owner.detach_output(self)

    def close(self) -> None:
        self.stop()
        if self._stream is not None:
            if self.backend == "rtmixer":  # keep the figures the C callback counted
                stats = self._stream._state.stats
                self._callbacks, self._underflows = int(stats.blocks), int(stats.output_underflows)
            self._stream.close()
            self._stream = None
        self._action = None
        self._rt = None
        if self.ring is not None:
            self.ring.clear()

    def __enter__(self) -> AudioOutput:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- figures ---------------------------------------------------------------------------------

    @property
    def active(self) -> bool:
        return self._stream is not None and self._stream.active

    @property
    def output_latency_s(self) -> float:
        """The device's reported output latency (stream.latency), 0 before start."""
        return float(self._stream.latency) if self._stream is not None else 0.0

    @property
    def ahead_latency_s(self) -> float:
        """Worst-case time a block waits in the ring before the callback takes it."""
        return (self.ahead_blocks + 1) * self.block_frames / self.sample_rate

    @property
    def latency_s(self) -> float:
        """About how long from a block being rendered now to its being heard: the ring, then the device."""
        return self.queued_frames / self.sample_rate + self.output_latency_s

    def render_time_s(self, quantile: float) -> float:
        """The render time per block at `quantile` (0.99: p99) since start, seconds (10 us resolution)."""
        counts = self._render_hist
        total = int(counts.sum())
        if total == 0:
            return 0.0
        k = int(np.searchsorted(np.cumsum(counts), math.ceil(quantile * total)))
        return (k + 1) * HIST_BIN_S

    @property
    def render_time_max_s(self) -> float:
        return self._render_s_max

    def stream_time(self) -> float:
        """The stream's clock now (PortAudio's Pa_GetStreamTime), the clock of `dac_time_of_frame`."""
        return float(self._stream.time) if self._stream is not None else 0.0

    def dac_time_of_frame(self, frame: int) -> float | None:
        """When frame `frame` (counted from the first rendered) leaves the DAC, on `stream_time`'s clock.

        None if the callback has not taken it yet (or, python backend, no longer remembers it).
        """
        if frame >= self.frames_taken:
            return None
        if self.backend == "python":
            n = min(self._callbacks, TIMING_LOG_LEN)
            rows = self.timing_log[:n]
            hit = np.nonzero((rows[:, LOG_READ_BEFORE] <= frame) & (frame < rows[:, LOG_READ_AFTER]))[0]
            if hit.size == 0:
                return None
            row = rows[hit[0]]
            return float(row[LOG_DAC_TIME_S] + (frame - row[LOG_READ_BEFORE]) / self.sample_rate)
        k = bisect.bisect_right(self._segment_starts, frame) - 1
        if k < 0:
            return None
        start, action = self._segments[k]
        if action.actual_time <= 0:
            return None
        return float(action.actual_time) + (frame - start) / self.sample_rate

    def callback_for_frame(self, frame: int) -> tuple[float, float] | None:
        """python backend: (perf_counter at the callback that delivered `frame`, DAC time ahead of it in s).

        None if that callback is not (or no longer) in the timing log, and always with the rtmixer
        backend (its callback keeps no Python-side log: use `dac_time_of_frame`).
        """
        if self.backend != "python":
            return None
        n = min(self._callbacks, TIMING_LOG_LEN)
        rows = self.timing_log[:n]
        hit = np.nonzero((rows[:, LOG_READ_BEFORE] <= frame) & (frame < rows[:, LOG_READ_AFTER]))[0]
        if hit.size == 0:
            return None
        row = rows[hit[0]]
        offset_s = (frame - row[LOG_READ_BEFORE]) / self.sample_rate
        return float(row[LOG_PERF_S]), float(row[LOG_DAC_AHEAD_S] + offset_s)

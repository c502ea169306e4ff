"""Real-time output: a render thread fills a small ring, the audio callback copies from it.

    out = AudioOutput(engine.render_block, sample_rate=48000, block_frames=128, ahead_blocks=1)
    with out:                     # opens the default device, starts both threads
        ...                       # out.frames_delivered, out.underflows, out.render_load, ...

The callback does nothing but copy frames already rendered (no allocation of
sample memory, no lock, no model call); on an underrun it writes silence and
counts it. The render thread renders `block_frames` at a time as soon as the
callback frees room, so the ring holds at most `ahead_blocks` blocks: an event
queued to the engine sounds after at most `ahead_blocks + 1` block periods,
plus the device's own output latency (`output_latency_s`).

Without any audio device, `start()` raises `NoAudioDevice` ("no audio device
(reason)"), a `ComposerError`, so the command line prints one line and exits 2.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from composer.errors import ComposerError
from synth.engine.ring_buffer import FrameRing

TIMING_LOG_LEN = 4096  # callbacks remembered for latency measurement
# Columns of AudioOutput.timing_log, one row per callback.
LOG_READ_BEFORE, LOG_READ_AFTER, LOG_PERF_S, LOG_DAC_AHEAD_S = range(4)


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


class AudioOutput:
    """Plays `render_block(n_frames) -> float32 (n_frames, 2)` on a sounddevice OutputStream."""

    def __init__(
        self,
        render_block: Callable[[int], np.ndarray],
        sample_rate: int = 48000,
        block_frames: int = 256,
        device: int | str | None = None,
        ahead_blocks: int = 2,
        channels: int = 2,
    ) -> None:
        if block_frames <= 0 or ahead_blocks <= 0:
            raise ValueError(f"block_frames and ahead_blocks must be positive, got {block_frames}, {ahead_blocks}")
        self.render_block = render_block
        self.sample_rate = sample_rate
        self.block_frames = block_frames
        self.device = device
        self.ahead_blocks = ahead_blocks
        self.channels = channels
        self.ring = FrameRing(ahead_blocks * block_frames, channels)
        # One row per callback: frames read before/after, perf_counter at callback, DAC time - now.
        self.timing_log = np.zeros((TIMING_LOG_LEN, 4), dtype=np.float64)
        self.callbacks = 0
        self.frames_delivered = 0  # frames handed to the device, silence included
        self.underruns = 0  # callbacks that found the ring short (silence written)
        self.underflows = 0  # callbacks whose status flagged output_underflow
        self.render_blocks = 0
        self.render_load = 0.0  # mean render time / block time since start
        self.render_load_max = 0.0
        self.render_error: BaseException | None = None
        self.device_name = ""
        self._render_s_total = 0.0
        self._stream = None
        self._thread: threading.Thread | None = None
        self._room = threading.Event()  # set by the callback when it frees room in the ring
        self._running = False

    # -- the audio callback: copy only -------------------------------------------------

    def _callback(self, outdata: np.ndarray, frames: int, time_info, status) -> None:
        if status and status.output_underflow:
            self.underflows += 1
        row = self.timing_log[self.callbacks % TIMING_LOG_LEN]
        row[LOG_READ_BEFORE] = self.ring.read_frames
        row[LOG_PERF_S] = time.perf_counter()
        row[LOG_DAC_AHEAD_S] = time_info.outputBufferDacTime - time_info.currentTime
        got = self.ring.read_into(outdata)
        row[LOG_READ_AFTER] = self.ring.read_frames
        if got < frames:
            self.underruns += 1
        self.frames_delivered += frames
        self.callbacks += 1
        self._room.set()

    # -- the render thread ----------------------------------------------------------------

    def _fill(self) -> None:
        """Render blocks until the ring is full."""
        block_s = self.block_frames / self.sample_rate
        while self.ring.free_frames >= self.block_frames:
            t0 = time.perf_counter()
            block = self.render_block(self.block_frames)  # (block_frames, channels)
            load = (time.perf_counter() - t0) / block_s
            self.ring.write(block)
            self.render_blocks += 1
            self._render_s_total += load
            self.render_load = self._render_s_total / self.render_blocks
            self.render_load_max = max(self.render_load_max, load)

    def _render_loop(self) -> None:
        try:
            while self._running:
                self._room.clear()
                self._fill()
                self._room.wait(0.05)
        except BaseException as exc:  # reported to the owner; the callback plays silence
            self.render_error = exc
            self._running = False

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> None:
        """Open the device (NoAudioDevice if there is none), pre-render, start playing."""
        if self._stream is not None:
            return
        sd = import_sounddevice()
        info = default_output_device(self.device)
        self.device_name = info["name"]
        try:
            stream = sd.OutputStream(
                samplerate=self.sample_rate,
                blocksize=self.block_frames,
                device=self.device,
                channels=self.channels,
                dtype="float32",
                latency="low",
                callback=self._callback,
            )
        except sd.PortAudioError as exc:
            raise NoAudioDevice(str(exc)) from None
        self._stream = stream
        self._fill()  # the first callback finds the ring full
        self._running = True
        self._thread = threading.Thread(target=self._render_loop, name="audio-render", daemon=True)
        self._thread.start()
        stream.start()

    def stop(self) -> None:
        """Stop the stream and the render thread; `start()` may be called again after `close()`."""
        self._running = False
        self._room.set()
        if self._stream is not None:
            self._stream.stop()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None

    def close(self) -> None:
        self.stop()
        if self._stream is not None:
            self._stream.close()
            self._stream = None
        self.ring.clear()

    def __enter__(self) -> AudioOutput:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- figures --------------------------------------------------------------------------

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

    def callback_for_frame(self, frame: int) -> tuple[float, float] | None:
        """(perf_counter at the callback that delivered `frame`, DAC time ahead of it in s).

        `frame` counts from the first frame rendered; None if that callback is
        not (or no longer) in the timing log.
        """
        n = min(self.callbacks, TIMING_LOG_LEN)
        rows = self.timing_log[:n]
        hit = np.nonzero((rows[:, LOG_READ_BEFORE] <= frame) & (frame < rows[:, LOG_READ_AFTER]))[0]
        if hit.size == 0:
            return None
        row = rows[hit[0]]
        offset_s = (frame - row[LOG_READ_BEFORE]) / self.sample_rate
        return float(row[LOG_PERF_S]), float(row[LOG_DAC_AHEAD_S] + offset_s)

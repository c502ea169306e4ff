"""The app's transport: the audio engine when there is one, else a silent clock.

The silent clock moves the playhead in real time (honouring the loop) so that
playback, recording and the QWERTY piano still work without a sound card; the
status bar says why there is no sound.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from composer.song import Song, Track


class SilentClock:
    """Transport without audio: position advances with the wall clock."""

    def __init__(self, song: Song, reason: str, now: Callable[[], float] = time.monotonic) -> None:
        self.song = song
        self.reason = reason
        self.now = now
        self.metronome = False
        self.loop_s: tuple[float, float] | None = None
        self._playing = False
        self._origin_s = 0.0
        self._started = 0.0

    @property
    def playing(self) -> bool:
        return self._playing

    @property
    def counting_in(self) -> bool:
        return False

    @property
    def output_latency_s(self) -> float:
        """No sound, no latency: what is "heard" is the clock itself."""
        return 0.0

    @property
    def render_position_s(self) -> float:
        return self.position_s

    @property
    def position_s(self) -> float:
        if not self._playing:
            return self._origin_s
        pos = self._origin_s + self.now() - self._started
        if self.loop_s is not None:
            lo, hi = self.loop_s
            if hi > lo and pos >= hi:
                pos = lo + (pos - lo) % (hi - lo)
        return pos

    def play(self, count_in_bars: int = 0) -> None:
        """Start (there is no click to count in without sound, so `count_in_bars` is ignored)."""
        if not self._playing:
            self._started = self.now()
            self._playing = True

    def stop(self) -> None:
        if self._playing:
            self._origin_s = self.position_s
            self._playing = False

    def seek(self, position_s: float) -> None:
        self._origin_s = max(0.0, position_s)
        self._started = self.now()

    def set_loop(self, start_s: float, end_s: float) -> None:
        self.loop_s = (start_s, end_s)

    def clear_loop(self) -> None:
        self.loop_s = None

    def live_note_on(self, track_index: int, pitch: int, velocity: int) -> None:
        """No sound to make; the note is still recorded by the caller."""

    def live_note_off(self, track_index: int, pitch: int) -> None:
        """No sound to stop."""

    def live_control_change(self, track_index: int, controller: int, value: int) -> None:
        """No sound to shape."""

    def live_pitch_bend(self, track_index: int, semitones: float) -> None:
        """No sound to bend."""

    def set_preview(self, track_index: int | None, notes=()) -> None:
        """No sound to preview."""

    def notes_changed(self) -> None:
        """Nothing scheduled ahead, nothing to refresh."""

    def prepare_synth(self, track, synth: str) -> None:
        """Nothing plays, nothing to load."""

    def preload_neural(self) -> bool:
        """Nothing plays: nothing to load ahead."""
        return False

    def prepare_clip(self, clip) -> None:
        """Nothing plays, nothing to resample."""

    def describe(self) -> str:
        return f"no sound: {self.reason}"

    def close(self) -> None:
        self.stop()


class EnginePlayback:
    """The audio engine (synth.engine.engine) playing through the sound card (synth.engine.audio_out).

    `position_s` is what the listener hears now: the engine renders ahead of the sound card by its
    ring and the device's own buffer (`output_latency_s`), so the render position
    (`render_position_s`) runs that far ahead. The playhead shows, and a take (tui.take) stamps its
    notes with, the heard position: a note played along with the song lands where it was heard.
    """

    def __init__(self, engine, output) -> None:
        self.engine = engine
        self.output = output

    @property
    def playing(self) -> bool:
        return self.engine.playing

    @property
    def position_s(self) -> float:
        return self.engine.heard_position_s

    @property
    def render_position_s(self) -> float:
        """Where the engine renders: ahead of `position_s` by the output latency."""
        return self.engine.position_s

    @property
    def output_latency_s(self) -> float:
        return self.engine.output_latency_s

    @property
    def metronome(self) -> bool:
        return self.engine.metronome

    @metronome.setter
    def metronome(self, on: bool) -> None:
        self.engine.metronome = on

    @property
    def loop_s(self) -> tuple[float, float] | None:
        return self.engine.loop

    def play(self, count_in_bars: int = 0) -> None:
        """Start, after `count_in_bars` bars of metronome clicks."""
        self.engine.count_in_bars = count_in_bars
        self.engine.play()
        self.engine.count_in_bars = 0

    def stop(self) -> None:
        self.engine.stop()

    def seek(self, position_s: float) -> None:
        self.engine.seek(position_s)

    def set_loop(self, start_s: float, end_s: float) -> None:
        self.engine.set_loop(start_s, end_s)

    def clear_loop(self) -> None:
        self.engine.clear_loop()

    def live_note_on(self, track_index: int, pitch: int, velocity: int) -> None:
        self.engine.live_note_on(track_index, pitch, velocity)

    def live_note_off(self, track_index: int, pitch: int) -> None:
        self.engine.live_note_off(track_index, pitch)

    def live_control_change(self, track_index: int, controller: int, value: int) -> None:
        self.engine.live_control_change(track_index, controller, value)

    def live_pitch_bend(self, track_index: int, semitones: float) -> None:
        self.engine.live_pitch_bend(track_index, semitones)

    @property
    def counting_in(self) -> bool:
        return self.engine.counting_in

    def set_preview(self, track_index: int | None, notes=()) -> None:
        """Hear `notes` on a track without adding them (synth.engine.Engine.set_preview); None ends it."""
        self.engine.set_preview(track_index, notes)

    def notes_changed(self) -> None:
        self.engine.notes_changed()

    def prepare_synth(self, track, synth: str) -> None:
        """Load the synth's models now (call from a worker thread), not in the audio thread."""
        self.engine.prepare_synth(track, synth)

    def preload_neural(self) -> bool:
        """Import torch and load the neural models now, while nothing plays (call from a worker thread, once
        the sound is up): done later, under a playing song, the import holds the interpreter for a second or
        more and the render thread runs late (tests/tui/test_app_real_engine.py measured 7-10 dry blocks).
        The switch to the neural synth then finds them loaded. False (nothing loaded) without the models."""
        from synth.instruments.neural.neural_synth import models_dir

        folder = models_dir()
        if not all((folder / kind / "model.safetensors").is_file() for kind in ("renderer", "vocoder")):
            return False
        self.engine.prepare_synth(Track(name="preload", program=0), "neural")
        return True

    def prepare_clip(self, clip) -> None:
        """Resample a new clip now (call from a worker thread), not in the audio thread."""
        self.engine.prepare_clip(clip)

    def describe(self) -> str:
        out = self.output
        if out.failed and out.render_error is not None:
            return f"no sound: render failed ({out.render_error})"
        latency_ms = (out.ahead_latency_s + out.output_latency_s) * 1000
        return (
            f"♪ {out.device_name[:24]} · dsp · load {self.engine.render_load:.0%}"
            f" · underflows {out.underflows + out.underruns} · {latency_ms:.0f} ms"
        )

    def close(self) -> None:
        self.engine.stop()
        self.output.close()


class CurrentPlayback:
    """Live input for whatever the app's playback is now (the engine replaces the silent clock once the
    device is open): what synth.engine.live.LiveSession plays a MIDI keyboard into."""

    def __init__(self, current: Callable[[], SilentClock | EnginePlayback]) -> None:
        self.current = current

    def live_note_on(self, track_index: int, pitch: int, velocity: int) -> None:
        self.current().live_note_on(track_index, pitch, velocity)

    def live_note_off(self, track_index: int, pitch: int) -> None:
        self.current().live_note_off(track_index, pitch)

    def live_control_change(self, track_index: int, controller: int, value: int) -> None:
        self.current().live_control_change(track_index, controller, value)

    def live_pitch_bend(self, track_index: int, semitones: float) -> None:
        self.current().live_pitch_bend(track_index, semitones)

    @property
    def output_latency_s(self) -> float:
        return self.current().output_latency_s


def open_engine(
    song: Song,
    sample_rate: int = 48000,
    block_frames: int = 256,
    on_notice: Callable[[str], None] | None = None,
    device: int | None = None,
) -> EnginePlayback | SilentClock:
    """The engine on output `device` (PortAudio's index; None: the default device), or a silent clock saying
    why there is no sound.

    `on_notice` gets the engine's and the output's one-line notices (a track falling back to the DSP
    synth, and why; a deeper ahead buffer; real-time priority refused); it may be called from the
    render thread, so it must not block."""
    try:
        from synth.engine.audio_out import AudioOutput
        from synth.engine.engine import Engine
    except ImportError as exc:
        return SilentClock(song, f"audio engine not available ({exc})")
    engine = Engine(song, sample_rate=sample_rate, block_frames=block_frames, on_notice=on_notice)
    output = AudioOutput(
        engine.render_block, sample_rate=sample_rate, block_frames=block_frames, device=device, on_notice=on_notice
    )
    try:
        output.start()
    except Exception as exc:  # NoAudioDevice, or PortAudio failing in its own way
        output.close()
        return SilentClock(song, str(exc))
    return EnginePlayback(engine, output)

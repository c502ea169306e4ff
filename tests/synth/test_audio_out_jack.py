"""AudioOutput through the session's JACK dummy server: pace, loopback, figures."""

import time

import numpy as np
import pytest

from synth.engine.audio_out import AudioOutput

SAMPLE_RATE = 48000
pytestmark = pytest.mark.jack


class Sine:
    """A small real source: a sine render function, (n_frames, 2) float32."""

    def __init__(self, freq_hz: float = 1000.0, amplitude: float = 0.5) -> None:
        self.freq_hz = freq_hz
        self.amplitude = amplitude
        self.frame = 0

    def __call__(self, n_frames: int) -> np.ndarray:
        t = (self.frame + np.arange(n_frames)) / SAMPLE_RATE
        self.frame += n_frames
        x = (self.amplitude * np.sin(2 * np.pi * self.freq_hz * t)).astype(np.float32)
        return np.stack([x, x], axis=1)


def test_output_runs_at_real_time_pace(jack_server):
    out = AudioOutput(Sine(), sample_rate=SAMPLE_RATE, block_frames=256, ahead_blocks=2)
    with out:
        assert out.device_name == "system"
        time.sleep(0.2)
        frames0, t0 = out.frames_delivered, time.perf_counter()
        time.sleep(2.0)
        frames1, t1 = out.frames_delivered, time.perf_counter()
        latency_s = out.output_latency_s
    rate = (frames1 - frames0) / (t1 - t0)
    assert abs(rate - SAMPLE_RATE) < 0.1 * SAMPLE_RATE
    assert out.render_blocks * 256 >= frames1  # everything delivered was rendered ahead
    assert 0 < out.render_load < 1
    assert 0 < latency_s < 0.1
    assert out.callbacks > 300
    assert not out.active


def test_loopback_brings_the_sound_back_at_pitch_and_level(jack_server):
    import sounddevice as sd

    captured: list[np.ndarray] = []
    source = Sine(freq_hz=1000.0, amplitude=0.5)
    out = AudioOutput(source, sample_rate=SAMPLE_RATE, block_frames=256)
    with (
        out,
        sd.InputStream(
            samplerate=SAMPLE_RATE,
            blocksize=256,
            channels=1,
            dtype="float32",
            callback=lambda data, frames, t, status: captured.append(data[:, 0].copy()),
        ),
    ):
        ports = jack_server.ports()
        outs = [p for p in ports if p.startswith("PortAudio") and ":out_" in p]
        ins = [p for p in ports if p.startswith("PortAudio") and ":in_" in p]
        assert outs and ins, ports
        jack_server.connect(outs[0], ins[0])
        time.sleep(1.0)
    signal = np.concatenate(captured)[-SAMPLE_RATE // 2 :]  # the last 0.5 s
    spectrum = np.abs(np.fft.rfft(signal * np.hanning(len(signal))))
    peak_hz = np.argmax(spectrum) * SAMPLE_RATE / len(signal)
    assert abs(peak_hz - 1000.0) < 5.0
    rms = float(np.sqrt(np.mean(signal**2)))
    assert abs(rms - 0.5 / np.sqrt(2)) < 0.05


def test_a_failing_render_block_is_reported_played_as_silence_and_rendering_goes_on(jack_server):
    calls = []

    def render(n_frames):
        calls.append(n_frames)
        if 3 < len(calls) <= 6:
            raise RuntimeError("synth broke")
        return np.full((n_frames, 2), 0.1, dtype=np.float32)

    out = AudioOutput(render, sample_rate=SAMPLE_RATE, block_frames=256, ahead_blocks=2)
    with out:
        time.sleep(0.3)
    assert isinstance(out.render_error, RuntimeError)
    assert out.render_failures == 3
    assert not out.failed  # one bad block does not silence the session
    assert len(calls) > 20  # it went on rendering
    assert out.frames_taken >= 0.9 * out.frames_delivered  # and the device played it
    assert out.notices == ["audio: rendering failed (RuntimeError: synth broke); playing on"]


def test_a_render_block_that_always_fails_gives_up_after_a_while(jack_server, monkeypatch):
    import synth.engine.audio_out as audio_out

    monkeypatch.setattr(audio_out, "FAILURES_GIVE_UP_S", 0.2)

    def render(n_frames):
        raise ValueError("always")

    out = AudioOutput(render, sample_rate=SAMPLE_RATE, block_frames=256, ahead_blocks=2)
    with out:
        time.sleep(0.6)
        assert out.failed
    assert isinstance(out.render_error, ValueError)


def test_composer_play_plays_a_song_to_the_end(jack_server, tmp_path):
    import os
    import subprocess
    import sys

    from composer.files.midi_io import write_midi
    from composer.song import Note, Song, Track

    song_path = tmp_path / "short.mid"
    write_midi(Song(tracks=[Track(notes=[Note(60, 100, 0.0, 0.3), Note(67, 100, 0.3, 0.6)])]), song_path)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    run = subprocess.run(
        [sys.executable, "-m", "tui.cli", "play", str(song_path)], env=env, capture_output=True, text=True, timeout=60
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith(f"playing {song_path} on system")
    assert "done (" in run.stdout

"""NeuralSynth in the engine: DSP fallback with the reason, rendering through tiny weights, overload guard, CLI."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
from neural_fixtures import save_tiny_models, tiny_renderer

from composer.errors import ComposerError
from composer.files.midi_io import write_midi
from composer.song import Note, Song, Track
from synth.engine.engine import OVERLOAD_WINDOW_BLOCKS, Engine
from synth.instruments.dsp.dsp import DspSynth
from synth.instruments.neural.neural_checkpoint import save_neural
from synth.instruments.neural.neural_synth import NeuralSynth, NeuralSynthFactory, load_neural_models
from synth.render import render_song
from tui.cli import main

NOTES = [Note(60, 100, 0.0, 0.3), Note(64, 90, 0.1, 0.4), Note(67, 80, 0.2, 0.5)]


@pytest.fixture(autouse=True)
def keep_torch_threads():
    """NeuralSynth pins torch's (process-wide) thread count in its render thread; put it back."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def models(tmp_path, monkeypatch):
    folder = save_tiny_models(tmp_path / "models")
    monkeypatch.setenv("COMPOSER_MODELS", str(folder))
    return folder


@pytest.fixture
def no_models(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_MODELS", str(tmp_path / "empty"))


def neural_song() -> Song:
    return Song(tracks=[Track("Lead", 0, synth="neural", notes=list(NOTES)), Track("Bass", 33, notes=[NOTES[0]])])


def test_missing_weights_fall_back_to_dsp_with_the_reason(no_models):
    heard = []
    engine = Engine(neural_song(), sample_rate=48000, on_notice=heard.append)
    assert all(isinstance(s, DspSynth) for s in engine.synths)
    assert len(heard) == 1 and engine.notices == heard
    assert "renderer" in heard[0] and "no renderer weights" in heard[0] and "DSP" in heard[0]


def test_mismatched_weights_fall_back_to_dsp_with_the_reason(models):
    save_neural(tiny_renderer(), models / "vocoder" / "model.safetensors")  # a renderer where the vocoder goes
    engine = Engine(neural_song(), sample_rate=48000)
    assert isinstance(engine.synths[0], DspSynth)
    assert "not a vocoder file" in engine.notices[0]


def test_tiny_weights_render_finite_audio_through_neural_synth(models):
    engine = Engine(neural_song(), sample_rate=48000)
    assert isinstance(engine.synths[0], NeuralSynth) and isinstance(engine.synths[1], DspSynth)
    assert engine.notices == []
    audio = render_song(neural_song(), sample_rate=48000)
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0


@pytest.mark.parametrize("sample_rate", [24000, 44100, 48000])
def test_block_size_does_not_change_the_audio(models, sample_rate):
    models = load_neural_models()
    outputs = []
    for block in (64, 1000):
        synth = NeuralSynth(models, program=5, sample_rate=sample_rate)
        events = {int(0.01 * sample_rate): ("on", 60), int(0.05 * sample_rate): ("on", 67),
                  int(0.2 * sample_rate): ("off", 60)}  # fmt: skip
        pieces, pos = [], 0
        total = int(0.4 * sample_rate)
        while pos < total:
            n = min(block, total - pos)
            for at, (kind, pitch) in events.items():
                if pos <= at < pos + n:
                    synth.note_on(pitch, 100, at - pos) if kind == "on" else synth.note_off(pitch, at - pos)
            pieces.append(synth.render(n))
            pos += n
        outputs.append(np.concatenate(pieces))
    a, b = outputs
    assert np.abs(a).max() > 0
    assert np.abs(a - b).max() <= 1e-4 * np.abs(a).max()


def test_onset_arrives_when_the_pipeline_says(models):
    neural = load_neural_models()
    synth = NeuralSynth(neural, program=0, sample_rate=48000)
    hop, rate_ratio = neural.hop_samples, 2  # 48 kHz out, 24 kHz inside
    synth.render(4800)
    note_at = 1000  # engine samples into the next block
    synth.note_on(60, 100, note_at)
    out = synth.render(4800)
    first = int(np.flatnonzero(out)[0])
    frame = (4800 + note_at) // rate_ratio // hop  # the frame the note lands in
    # Its samples enter the stream pipeline_delay later; the resampler reaches half_width ahead.
    expected = rate_ratio * (frame * hop + synth.pipeline_delay_samples - synth._resampler.half_width) - 4800
    assert 0 <= first - expected <= 2 * rate_ratio  # the windows' zero end points move it a sample or two later
    assert synth.latency_samples == rate_ratio * (synth.pipeline_delay_samples + neural.vocoder.latency_samples)
    assert synth.active_voices == 1


def test_idle_synth_is_silent_and_costs_no_model_call(models):
    synth = NeuralSynth(load_neural_models(), program=0, sample_rate=48000)
    synth.renderer_calls = 0
    original = synth.models.renderer.step

    def counting(*args):
        synth.renderer_calls += 1
        return original(*args)

    synth.models.renderer.step = counting
    assert not synth.render(48000).any() and synth.renderer_calls == 0 and synth.active_voices == 0


class SlowSynth(DspSynth):
    may_overload = True

    def render(self, n_frames: int) -> np.ndarray:
        time.sleep(n_frames / self.sample_rate)  # the whole block's time: over the 80 % limit
        return super().render(n_frames)


def test_overload_moves_the_track_to_dsp_and_says_so():
    song = Song(tracks=[Track("Lead", 0, notes=[Note(60, 100, 0.0, 5.0)])])
    engine = Engine(song, sample_rate=48000, block_frames=256, synth_factory=lambda t: SlowSynth(t.program))
    engine.play()
    for _ in range(OVERLOAD_WINDOW_BLOCKS + 1):
        engine.render_block()
    assert type(engine.synths[0]) is DspSynth
    assert len(engine.notices) == 1 and "Lead" in engine.notices[0] and "moved to the DSP synth" in engine.notices[0]
    quick = Engine(song, sample_rate=48000, synth_factory=lambda t: SlowSynth(t.program), overload_guard=False)
    quick.play()
    for _ in range(OVERLOAD_WINDOW_BLOCKS + 1):
        quick.render_block()
    assert type(quick.synths[0]) is SlowSynth and quick.notices == []


def test_cli_synth_neural_without_weights_exits_2_with_one_line(no_models, tmp_path, capsys):
    song = tmp_path / "song.mid"
    write_midi(Song(tracks=[Track("Piano", 0, notes=list(NOTES))]), song)
    out = tmp_path / "out.wav"
    assert main(["render", str(song), "-o", str(out), "--synth", "neural"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no renderer weights" in err[0]
    assert not out.exists()


def test_cli_synth_neural_with_weights_writes_the_wav(models, tmp_path, capsys):
    song = tmp_path / "song.mid"
    write_midi(Song(tracks=[Track("Piano", 0, notes=list(NOTES))]), song)
    out = tmp_path / "out.wav"
    assert main(["render", str(song), "-o", str(out), "--synth", "neural", "--sample-rate", "44100"]) == 0
    assert out.exists() and "wrote" in capsys.readouterr().out


def test_factory_tells_each_reason_once(no_models):
    heard = []
    factory = NeuralSynthFactory(48000, notify=heard.append)
    synths = [factory(Track("A", synth="neural")), factory(Track("B", synth="neural")), factory(Track("C"))]
    assert all(isinstance(s, DspSynth) for s in synths) and len(heard) == 1


def play(synth: NeuralSynth, blocks: list[int], note_at: int) -> np.ndarray:
    """Render blocks of the given lengths with a note from `note_at` (samples) for 0.1 s."""
    pieces, pos = [], 0
    off_at = note_at + synth.sample_rate // 10
    for n in blocks:
        if pos <= note_at < pos + n:
            synth.note_on(62, 100, note_at - pos)
        if pos <= off_at < pos + n:
            synth.note_off(62, off_at - pos)
        pieces.append(synth.render(n))
        pos += n
    return np.concatenate(pieces)


def test_told_the_block_length_the_pipeline_is_shorter_by_what_it_saves(models):
    neural = load_neural_models()
    general = NeuralSynth(neural, sample_rate=24000)
    aligned = NeuralSynth(neural, sample_rate=24000, block_frames=256)
    assert general.pipeline_delay_samples == 255 and aligned.pipeline_delay_samples == 0
    assert aligned.latency_samples == neural.vocoder.latency_samples  # 10.7 ms at 24 kHz
    a = play(general, [64] * 200, note_at=3000)
    b = play(aligned, [256] * 50, note_at=3000)
    np.testing.assert_allclose(a[255:], b[: len(a) - 255], atol=1e-5 * np.abs(b).max())
    assert int(np.flatnonzero(b)[0]) in (3000 // 256 * 256, 3000 // 256 * 256 + 1)  # the note's frame, at once
    # A block of another length still gets its samples (the next frames are made early).
    odd = NeuralSynth(neural, sample_rate=24000, block_frames=256)
    c = play(odd, [256, 100, 256, 300, 256] * 8, note_at=3000)
    assert len(c) == sum([256, 100, 256, 300, 256] * 8) and np.isfinite(c).all() and np.abs(c).max() > 0


def test_live_synth_choice(models, monkeypatch, tmp_path):
    from tui.commands.live import synth_choice

    assert synth_choice("dsp") == {}
    factory = synth_choice("neural", 48000, 128)["synth_factory"]
    assert isinstance(factory(Track("Live", 0)), NeuralSynth)  # every track, whatever its own choice
    monkeypatch.setenv("COMPOSER_MODELS", str(tmp_path / "none"))
    with pytest.raises(ComposerError, match="no renderer weights"):
        synth_choice("neural", 48000, 128)


def test_after_falling_idle_a_note_sounds_as_from_the_start(models):
    synth = NeuralSynth(load_neural_models(), sample_rate=24000, block_frames=256)
    gap_blocks = int(6.0 * 24000 / 256)  # longer than the release kept (4 s) plus the pipeline
    blocks, pieces = 3 * gap_blocks, []
    for b in range(blocks):
        if b in (10, 10 + gap_blocks):
            synth.note_on(64, 90, 17)
        if b in (20, 20 + gap_blocks):
            synth.note_off(64, 0)
        pieces.append(synth.render(256))
    audio = np.concatenate(pieces)
    first, second = audio[: gap_blocks * 256], audio[gap_blocks * 256 : 2 * gap_blocks * 256]
    assert np.abs(first).max() > 0 and synth.active_voices == 0
    np.testing.assert_array_equal(first, second)


def _first_sound(audio: np.ndarray) -> int:
    return int(np.flatnonzero(np.abs(audio).max(axis=1))[0])


@pytest.mark.parametrize("sample_rate", [24000, 44100, 48000])
def test_offline_render_compensates_the_neural_latency(models, sample_rate):
    from synth.render import _run, compensated

    note = Note(60, 100, 0.5, 1.0)
    neural = Track("Lead", 0, synth="neural", notes=[note])
    dsp = Track("Pad", 0, notes=[note])
    engine = Engine(Song(tracks=[neural, dsp]), sample_rate=sample_rate, block_frames=4096, overload_guard=False)
    latencies = [s.latency_samples for s in engine.synths]
    assert latencies[0] > 0 and latencies[1] == 0
    uncompensated = _run(engine, 1.0, sample_rate, 4096, None, 0)
    alone = render_song(Song(tracks=[neural]), sample_rate)
    # The neural track sounds `latency_samples` earlier than the engine plays it live (within one model hop).
    hop = 256 * sample_rate / 24000
    moved = _first_sound(uncompensated) - _first_sound(alone)
    assert abs(moved - latencies[0]) <= hop
    # The DSP track is moved later by the same amount and that lead is cut again: it is where it was.
    shifted = compensated(Song(tracks=[neural, dsp]), latencies, sample_rate)
    assert shifted.tracks[1].notes[0].start_s == pytest.approx(0.5 + latencies[0] / sample_rate)
    assert shifted.tracks[0].notes[0].start_s == 0.5 and neural.notes[0].start_s == 0.5  # the song is not changed
    pad_alone = render_song(Song(tracks=[dsp]), sample_rate)
    both = render_song(Song(tracks=[neural, dsp]), sample_rate)
    n = min(len(both), len(pad_alone), len(alone))
    pad_in_mix = both[:n] - alone[:n]  # the neural track is not moved: what is left is the DSP track
    assert _first_sound(pad_in_mix) == _first_sound(pad_alone)  # at its own time, though rendered `lead` later
    assert np.abs(pad_in_mix - pad_alone[:n]).max() < 0.03 * np.abs(pad_alone).max()  # (DSP LFO phases differ)


def test_a_synth_that_prefers_long_blocks_renders_the_song_in_one_call(models):
    neural = load_neural_models()
    calls = []

    def counting(original):
        def count(*args):
            calls.append(args[0].shape[1])  # frames in this call
            return original(*args)

        return count

    neural.renderer.step = counting(neural.renderer.step)  # the vocoder voice's path
    neural.renderer.step_controls = counting(neural.renderer.step_controls)  # the harmonic voice's
    song = Song(tracks=[Track("Lead", 0, synth="neural", notes=[Note(60, 100, 0.2, 0.6), Note(64, 90, 0.5, 1.5)])])

    def long_blocks(track):
        synth = NeuralSynth(neural, track.program, 48000, block_frames=4096)
        synth.prefers_long_blocks = True  # as on a GPU
        return synth

    one_call = render_song(song, 48000, synth_factory=long_blocks)
    # Two one-frame warm-ups (delay probe, render), then every frame from the first note to the song's end in one call.
    assert calls[:2] == [1, 1] and calls[2] == int(1.5 * 93.75) - int(0.2 * 93.75) + 1

    def streaming(track):
        return NeuralSynth(neural, track.program, 48000, block_frames=4096)

    streamed = render_song(song, 48000, synth_factory=streaming)
    n = min(len(one_call), len(streamed))
    np.testing.assert_allclose(one_call[:n], streamed[:n], atol=1e-4 * np.abs(streamed).max())

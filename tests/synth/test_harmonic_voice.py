"""The harmonic voice plays the renderer's controls: partials at the note's pitch, its mel the renderer's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from neural_fixtures import save_tiny_models, tiny_renderer

from synth.instruments.neural.harmonic_voice import HarmonicVoice
from synth.instruments.neural.mel import LogMel, MelConfig
from synth.instruments.neural.neural_synth import NeuralSynth, load_neural_models
from synth.instruments.neural.note_features import features_from_notes
from synth.instruments.neural.renderer import VoiceControls

SR, HOP, M, S = 24000, 256, 80, 4


def flat_controls(pitch: float, n_frames: int, gain: float = 0.05, noise: float = 0.0) -> VoiceControls:
    """One slot sounding `pitch` with the same gain in every band for n_frames frames."""
    active = torch.zeros(1, n_frames, S, dtype=torch.bool)
    active[0, :, 0] = True
    semitones = torch.zeros(1, n_frames, S)
    semitones[0, :, 0] = pitch
    age = torch.linspace(0, 1, n_frames)[None, :, None].expand(1, n_frames, S).contiguous()
    harm = torch.zeros(1, n_frames, S, M)
    harm[0, :, 0] = gain
    return VoiceControls(active, semitones, age, harm, torch.zeros(1, n_frames, S), torch.full((1, n_frames, M), noise))


def peak_hz(audio: np.ndarray) -> float:
    """The lowest frequency with at least half the strongest spectral peak's magnitude."""
    spectrum = np.abs(np.fft.rfft(audio * np.hanning(len(audio))))
    return float(np.argmax(spectrum > 0.5 * spectrum.max()) * SR / len(audio))


@pytest.mark.parametrize("pitch", [33.0, 45.0, 57.0, 69.5])
def test_the_lowest_partial_is_at_the_notes_pitch(pitch):
    voice = HarmonicVoice(MelConfig(), S)
    controls = flat_controls(pitch, 100)
    controls.harmonic_gain[..., 20:] = 0.0  # only the bands below ~1 kHz
    audio, _ = voice.step(controls, voice.initial_state())
    f0_hz = 440 * 2 ** ((pitch - 69) / 12)
    assert abs(peak_hz(audio[2400:]) - f0_hz) < 1.5  # 1.03 Hz bins at this length


def test_a_bend_moves_the_partials():
    voice = HarmonicVoice(MelConfig(), S)
    plain, _ = voice.step(flat_controls(57.0, 100), voice.initial_state())
    bent, _ = voice.step(flat_controls(58.0, 100), voice.initial_state())
    assert abs(peak_hz(bent[2400:]) / peak_hz(plain[2400:]) - 2 ** (1 / 12)) < 0.012


def test_the_voice_sounds_the_mel_the_renderer_describes():
    renderer = tiny_renderer(seed=2)
    notes = [(48, 100, 0.0, 0.8), (64, 90, 0.3, 1.0), (71, 80, 0.5, 1.2)]
    n_frames = 150
    pitch, feats, track = (torch.from_numpy(x)[None] for x in features_from_notes(notes, n_frames))
    program = torch.tensor([0])
    voice = HarmonicVoice(MelConfig(), 16)
    with torch.no_grad():
        controls, log_mel, _ = renderer.step_controls(pitch, feats, track, program, renderer.initial_state(1))
        audio, _ = voice.step(controls, voice.initial_state())
        heard = LogMel(MelConfig())(torch.from_numpy(audio[None]))[0]  # (M, T): one hop late (the latency)
    sounding = slice(10, 100)
    described = log_mel[0, :, sounding]
    assert (heard[:, 11:101] - described).abs().mean() < 0.6
    # and it is not merely loud: an octave away is far off
    assert (heard[:, 11:101] - described).abs().mean() < (heard[:, 11:101] - described.roll(12, 0)).abs().mean()


def test_streaming_in_any_blocks_equals_one_pass():
    renderer = tiny_renderer(seed=1)
    notes = [(50 + i, 70 + i, 0.05 * i, 0.05 * i + 0.3) for i in range(12)]
    n_frames = 80
    pitch, feats, track = (torch.from_numpy(x)[None] for x in features_from_notes(notes, n_frames))
    program = torch.tensor([3])
    voice = HarmonicVoice(MelConfig(), 16)
    rng = np.random.default_rng(0)
    with torch.no_grad():
        controls, _, _ = renderer.step_controls(pitch, feats, track, program, renderer.initial_state(1))
        whole, _ = voice.step(controls, voice.initial_state())
        state, vstate, pieces, t = renderer.initial_state(1), voice.initial_state(), [], 0
        while t < n_frames:
            n = int(rng.integers(1, 6))
            c, _, state = renderer.step_controls(
                pitch[:, t : t + n], feats[:, t : t + n], track[:, t : t + n], program, state
            )
            y, vstate = voice.step(c, vstate)
            pieces.append(y)
            t += n
    assert np.abs(np.concatenate(pieces) - whole).max() <= 1e-5 * np.abs(whole).max()


def test_noise_has_the_mel_magnitude_asked_for():
    voice = HarmonicVoice(MelConfig(), S)
    controls = flat_controls(60.0, 200, gain=0.0, noise=0.5)
    controls.active[:] = False
    audio, _ = voice.step(controls, voice.initial_state())
    mel = LogMel(MelConfig())(torch.from_numpy(audio[None]))[0, :, 10:-2].exp().mean(dim=1)
    assert abs(float(mel.median()) - 0.5) < 0.1


@pytest.mark.parametrize("voice", ["harmonic", "vocoder"])
def test_both_voices_play_in_the_neural_synth_with_the_same_latency(tmp_path, voice):
    models = load_neural_models(save_tiny_models(tmp_path))
    synth = NeuralSynth(models, program=0, sample_rate=24000, voice=voice)
    synth.note_on(60, 100)
    audio = np.concatenate([synth.render(256) for _ in range(40)])
    assert np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert synth.latency_samples == NeuralSynth(models, 0, 24000, voice="vocoder").latency_samples


def test_an_untrained_program_plays_as_the_nearest_trained_one_of_its_family(tmp_path):
    models = load_neural_models(save_tiny_models(tmp_path))
    models.programs = (0, 11, 42, 48)
    assert models.played_program(3) == 0  # piano family
    assert models.played_program(41) == 42  # strings: the cello
    assert models.played_program(50) == 48  # ensemble
    assert models.played_program(60) == 60  # brass: none trained, itself
    assert models.played_program(42) == 42


def test_a_slot_gain_scales_that_slots_partials():
    voice = HarmonicVoice(MelConfig(), max_notes=S)
    controls = flat_controls(60, 20)
    plain, _ = voice.step(controls, voice.initial_state())
    gain = np.ones((20, S))
    gain[:, 0] = 2.0  # the sounding slot
    louder, _ = voice.step(controls, voice.initial_state(), slot_gain=gain)
    gain[:, 0], gain[:, 1] = 1.0, 5.0  # another, silent slot
    same, _ = voice.step(controls, voice.initial_state(), slot_gain=gain)
    assert np.abs(plain).max() > 0 and np.allclose(louder, 2.0 * plain, atol=1e-6) and np.allclose(same, plain)


def frame_levels_db(audio: np.ndarray) -> np.ndarray:
    """RMS level of each hop of `audio`, dB."""
    frames = audio[: len(audio) // HOP * HOP].reshape(-1, HOP).astype(np.float64)
    return 10 * np.log10((frames**2).mean(axis=1) + 1e-20)


def test_a_released_note_only_fades_though_its_controls_swell():
    """The renderer's frames at a note-off can swell back over the held level; the voice plays only the fade."""
    n, off = 60, 40
    controls = flat_controls(60.0, n, gain=0.05, noise=0.001)
    controls.harmonic_gain[0, off + 1 : off + 3, 0] = 0.1  # the swell: twice the held gain, after the note-off
    controls.noise_magnitude[0, off + 1 : off + 3] = 0.02  # and a burst of noise
    controls.harmonic_gain[0, off + 3 :, 0] = 0.01
    released = np.zeros((n, S), bool)
    released[off:, 0] = True
    voice = HarmonicVoice(MelConfig(), S)
    swelling, _ = voice.step(controls, voice.initial_state())
    fading, _ = voice.step(controls, voice.initial_state(), released=released)
    held_db = frame_levels_db(fading)[off - 5 : off].max()  # a sine's level per hop wobbles by its phase
    after = frame_levels_db(fading)[off + 1 : off + 8]  # a hop late: the voice's latency
    assert frame_levels_db(swelling)[off + 2 : off + 4].max() > held_db + 4  # the controls alone swell
    assert after.max() < held_db + 0.1 and np.all(np.diff(after) < 0.1)  # played: it never rises again
    assert np.allclose(fading[: off * HOP], swelling[: off * HOP])  # before the note-off: as the controls say


def test_a_note_starting_in_a_released_slot_is_not_held_under_the_old_one():
    """A new note in the slot (its age drops) starts at its own gains, though the slot was released."""
    n = 60
    controls = flat_controls(60.0, n, gain=0.05)
    controls.harmonic_gain[0, 20:30, 0] = 0.001  # the first note fades out
    controls.age[0, 30:, 0] = torch.linspace(0, 1, n - 30)  # a new note takes the slot at frame 30
    controls.harmonic_gain[0, 30:, 0] = 0.05
    released = np.zeros((n, S), bool)
    released[20:30, 0] = True
    voice = HarmonicVoice(MelConfig(), S)
    plain, _ = voice.step(controls, voice.initial_state())
    played, _ = voice.step(controls, voice.initial_state(), released=released)
    assert np.allclose(played[35 * HOP :], plain[35 * HOP :], atol=1e-6)

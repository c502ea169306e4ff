"""Prompted audio moved to the key asked for (synth.prompt.key_conform), through the shipped vocoder."""

from pathlib import Path

import numpy as np
import pytest
import torch

from composer.errors import ComposerError
from synth.instruments.neural.mel import LogMel
from synth.prompt.key_conform import Key, key_in_prompt, key_named, parse_key, ratio, semitones_to, speed_up
from synth.prompt.music_analysis import KeyEstimate, chroma, estimate_key
from synth.prompt.prompt_audio import PromptGenerator, PromptRequest, clip_request, prompted_clip, validate_request

ROOT = Path(__file__).resolve().parents[2]
SR = 24000


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("slow cello melody in D minor", Key(2, "minor")),
        ("Eb major pad", Key(3, "major")),
        ("bright piano in F# MAJOR", Key(6, "major")),
        ("C#min arpeggio", Key(1, "minor")),
        ("a minor change of mood", None),  # a lower-case letter is a word, not a note
        ("drum groove at 120 BPM", None),
    ],
)
def test_the_key_a_prompt_names(text, key):
    assert key_in_prompt(text) == key
    assert key_named(text) == (key.name if key else None)


def test_parse_key_and_its_refusals():
    assert parse_key("Bb:minor") == Key(10, "minor") and parse_key("G:major").name == "G:major"
    for bad in ("H:major", "D", "D:dorian", ""):
        with pytest.raises(ValueError):
            parse_key(bad)


def test_the_nearest_move_and_the_relative_key_when_the_modes_differ():
    d_minor = parse_key("D:minor")
    assert semitones_to(KeyEstimate(2, "minor", 0.9), d_minor) == 0
    assert semitones_to(KeyEstimate(0, "minor", 0.9), d_minor) == 2
    assert semitones_to(KeyEstimate(9, "minor", 0.9), d_minor) == 5  # A minor up a fourth, not down a fifth
    assert semitones_to(KeyEstimate(0, "major", 0.9), d_minor) == 5  # C major -> F major, D minor's notes
    assert semitones_to(KeyEstimate(0, "major", 0.2), d_minor) == 0  # no clear key: left alone
    assert semitones_to(None, d_minor) == 0
    assert all(-6 <= semitones_to(KeyEstimate(t, "major", 0.9), d_minor) <= 5 for t in range(12))


@pytest.mark.parametrize("shift", [-5, -1, 2, 6])
def test_speed_up_moves_a_tone_by_the_ratio_and_keeps_the_length(shift):
    t = np.arange(int(1.5 * SR * ratio(shift)) + 64) / SR
    tone = np.sin(2 * np.pi * 440.0 * t)
    out = speed_up(tone, ratio(shift), SR)
    assert out.shape == (SR,) and out.dtype == np.float32
    spectrum = np.abs(np.fft.rfft(out * np.hanning(SR)))
    assert np.argmax(spectrum) == pytest.approx(440.0 * ratio(shift), abs=2)  # 1-Hz bins
    assert np.abs(out[SR // 4 : -SR // 4]).max() == pytest.approx(1.0, abs=0.02)  # no loss in the pass band


def arpeggio_log_mel(vocoder, tonic_hz: float, seconds: float) -> np.ndarray:
    """The log-mel of a major arpeggio with three harmonics, as the diffusion model would hand it over."""
    t = np.arange(int(seconds * SR)) / SR
    audio = np.zeros_like(t)
    for i, semis in enumerate([0, 4, 7, 12, 7, 4] * 8):
        start, end = int(i * 0.25 * SR), int((i + 1) * 0.25 * SR)
        if start >= len(t):
            break
        f = tonic_hz * 2 ** (semis / 12)
        seg = t[start:end] - t[start]
        envelope = np.exp(-3 * seg)
        audio[start:end] = sum(np.sin(2 * np.pi * k * f * seg) / k for k in (1, 2, 3)) * envelope * 0.3
    mel = LogMel(vocoder.cfg.mel_config())(torch.from_numpy(audio.astype(np.float32))[None])
    return mel[0].numpy()


@pytest.fixture(scope="module")
def generator():
    torch.set_num_threads(1)
    models = ROOT / "models"  # the key moved after the fact, asked for (a controls model's default is off)
    diffusion, vocoder = models / "diffusion/model.safetensors", models / "vocoder/model.safetensors"
    return PromptGenerator(diffusion, vocoder, conform_key=True)


def test_a_clip_made_in_c_major_asked_for_in_d_major_comes_out_in_d_major(generator, monkeypatch):
    c6 = 1046.5  # where the mel bands are narrow enough for the vocoder to place partials within a semitone
    made = {}

    def fake_sample_mel(text, n_frames, request, progress):  # the diffusion model's part, made known
        seconds = n_frames * generator.vocoder.cfg.hop_samples / SR + 0.1
        made["mel"] = mel = arpeggio_log_mel(generator.vocoder, c6, seconds)
        return mel[:, :n_frames]

    monkeypatch.setattr(generator, "sample_mel", fake_sample_mel)
    plain = generator.generate(validate_request(PromptRequest("an arpeggio", 3.0)))
    assert estimate_key(plain).name == "C major"
    moved = generator.generate(validate_request(PromptRequest("an arpeggio", 3.0, key="D:major")))
    assert generator.last_shift == 2 and generator.last_key.name == "C major"
    assert moved.shape == plain.shape == (3 * SR,)
    assert set(np.argsort(chroma(plain))[-3:]) == {0, 4, 7}  # C E G
    assert set(np.argsort(chroma(moved))[-3:]) == {2, 6, 9}  # D F# A: every note a whole tone up
    minor = generator.generate(validate_request(PromptRequest("an arpeggio", 3.0, key="A:minor")))
    assert generator.last_shift == 0 and np.array_equal(minor, plain)  # C major is A minor's relative: no move


def test_a_request_with_a_bad_key_is_one_line():
    with pytest.raises(ComposerError) as info:
        validate_request(PromptRequest("pad", 2.0, key="H:major"))
    assert info.value.path == "key"
    assert validate_request(PromptRequest("pad", 2.0, key="Eb:minor")).key == "Eb:minor"


def test_a_clip_made_again_keeps_the_key_its_text_names():
    clip = prompted_clip(PromptRequest("slow cello melody in D minor", 2.0), np.zeros(2 * SR, dtype=np.float32))
    assert clip_request(clip).key == "D:minor"

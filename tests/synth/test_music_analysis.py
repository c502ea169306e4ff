"""synth/prompt/music_analysis.py: tempo of click tracks and grooves, key of scales and chords, the agreement scores."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from synth.instruments.neural.mel import LogMel
from synth.prompt.music_analysis import (
    MODES,
    KeyEstimate,
    chroma,
    estimate_key,
    estimate_tempo,
    key_from_chroma,
    key_score,
    onset_strength,
    pitch_class,
    tempo_agreement,
)

SR = 24000
CLIP_S = 512 * 256 / SR  # the prompt-data clip length, 5.46 s
MAJOR = (0, 2, 4, 5, 7, 9, 11)
MINOR = (0, 2, 3, 5, 7, 8, 10)


def tempo_of(audio: np.ndarray) -> float:
    with torch.no_grad():
        log_mel = LogMel()(torch.from_numpy(audio)[None])[0].numpy()
    return estimate_tempo(onset_strength(log_mel)).bpm


def burst(n: int, rng: np.random.Generator, decay_s: float) -> np.ndarray:
    return rng.standard_normal(n) * np.exp(-np.arange(n) / (decay_s * SR))


def click_track(bpm: float, seconds: float = CLIP_S, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SR))
    for start_s in np.arange(0.1, seconds, 60.0 / bpm):
        k = int(start_s * SR)
        n = min(2400, len(out) - k)
        out[k : k + n] += 0.3 * burst(n, rng, 0.0125)
    return out.astype(np.float32)


def groove(bpm: float, seconds: float = CLIP_S, seed: int = 0) -> np.ndarray:
    """Kick on 1 and 3, snare on 2 and 4, hi-hat on every eighth."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SR))
    for i, start_s in enumerate(np.arange(0.05, seconds, 30.0 / bpm)):
        k = int(start_s * SR)
        n = min(6000, len(out) - k)
        t = np.arange(n) / SR
        out[k : k + n] += 0.05 * burst(n, rng, 0.02)
        if i % 4 == 0:
            out[k : k + n] += 0.8 * np.sin(2 * np.pi * 55 * t) * np.exp(-t / 0.15)
        elif i % 4 == 2:
            out[k : k + n] += 0.4 * burst(n, rng, 0.08)
    return out.astype(np.float32)


def tone(midi: int, seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    f0_hz = 440.0 * 2 ** ((midi - 69) / 12)
    partials = sum(np.sin(2 * np.pi * k * f0_hz * t) / k for k in range(1, 6) if k * f0_hz < SR / 2)
    return partials * np.exp(-t / 1.0)


def scale(tonic: int, mode: str) -> np.ndarray:
    steps = MAJOR if mode == "major" else MINOR
    up = [60 + tonic + s for s in steps] + [72 + tonic]
    return np.concatenate([tone(m, 0.35) for m in up + up[-2::-1]])


def cadence(tonic: int, mode: str) -> np.ndarray:
    """I - IV - V - I (minor: i - iv - V - i with the raised leading tone), bass doubled an octave down."""
    steps = MAJOR if mode == "major" else MINOR
    chords = []
    for degree in (0, 3, 4, 0):
        notes = [steps[(degree + i) % 7] + 12 * ((degree + i) // 7) for i in (0, 2, 4)]
        if mode == "minor" and degree == 4:
            notes[1] += 1
        chord = sum(tone(48 + tonic + n, 1.0) for n in notes) + tone(36 + tonic + steps[degree], 1.0)
        chords.append(chord)
    return np.concatenate(chords)


@pytest.mark.parametrize("bpm", [40, 55, 72, 90, 100, 120, 135, 150, 165, 180, 200])
def test_click_tracks_give_their_tempo(bpm):
    estimate = tempo_of(click_track(bpm))
    assert tempo_agreement(estimate, bpm)["exact"], estimate
    assert abs(estimate - bpm) < 0.02 * bpm


@pytest.mark.parametrize("bpm", [60, 80, 100, 110, 120, 140, 160])
def test_a_drum_groove_gives_its_tempo_up_to_a_factor_of_two(bpm):
    estimate = tempo_of(groove(bpm))
    assert tempo_agreement(estimate, bpm)["octave"], estimate


def test_silence_and_steady_tones_have_no_tempo():
    assert math.isnan(tempo_of(np.zeros(SR * 3, np.float32)))
    assert math.isnan(estimate_tempo(np.zeros(300)).bpm)
    assert math.isnan(estimate_tempo(np.arange(20.0)).bpm)  # too short for any lag of 40-200 BPM


def test_tempo_agreement():
    assert tempo_agreement(121.0, 120.0) == {"exact": True, "octave": True}
    assert tempo_agreement(60.5, 120.0) == {"exact": False, "octave": True}
    assert tempo_agreement(236.0, 120.0) == {"exact": False, "octave": True}
    assert tempo_agreement(90.0, 120.0) == {"exact": False, "octave": False}
    assert tempo_agreement(129.0, 120.0) == {"exact": True, "octave": True}  # 7.5 % off
    assert tempo_agreement(130.0, 120.0)["exact"] is False  # 8.3 % off
    assert tempo_agreement(math.nan, 120.0) == {"exact": False, "octave": False}


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("tonic", range(12))
def test_scales_give_their_key(tonic, mode):
    key = estimate_key(scale(tonic, mode))
    assert (key.tonic, key.mode) == (tonic, mode), key.name


@pytest.mark.parametrize(
    "name,mode", [("D", "minor"), ("Eb", "major"), ("G", "major"), ("F#", "minor"), ("A", "minor")]
)
def test_chord_progressions_give_their_key(name, mode):
    key = estimate_key(cadence(pitch_class(name), mode))
    assert key_score(key, name, mode) == 1.0, key.name


def test_chroma_of_a_pure_tone_is_its_pitch_class():
    t = np.arange(SR) / SR
    vector = chroma(np.sin(2 * np.pi * 440.0 * t))
    assert vector.shape == (12,) and abs(vector.sum() - 1) < 1e-9 and int(np.argmax(vector)) == 9
    assert estimate_key(np.zeros(SR)) is None
    with pytest.raises(ValueError, match="12 pitch classes"):
        key_from_chroma(np.ones(7))


def test_key_score_is_mirex():
    def key(name: str, mode: str) -> KeyEstimate:
        return KeyEstimate(pitch_class(name), mode, 0.9)

    assert key_score(key("D", "minor"), "D", "minor") == 1.0
    assert key_score(key("A", "minor"), "D", "minor") == 0.5  # a fifth above
    assert key_score(key("G", "minor"), "D", "minor") == 0.5  # a fifth below
    assert key_score(key("F", "major"), "D", "minor") == 0.3  # relative
    assert key_score(key("A", "minor"), "C", "major") == 0.3
    assert key_score(key("D", "major"), "D", "minor") == 0.2  # parallel
    assert key_score(key("E", "minor"), "D", "minor") == 0.0
    assert key_score(None, "D", "minor") == 0.0
    with pytest.raises(ValueError, match="mode"):
        key_score(key("D", "minor"), "D", "dorian")


def test_pitch_class_names():
    assert [pitch_class(n) for n in ("C", "C#", "Db", "D", "Eb", "F#", "Ab", "Bb", "B", "Cb")] == [
        0, 1, 1, 2, 3, 6, 8, 10, 11, 11
    ]  # fmt: skip
    for bad in ("", "H", "D minor", "Dx"):
        with pytest.raises(ValueError, match="note name"):
            pitch_class(bad)


def test_onset_strength_peaks_at_onsets():
    audio = click_track(120.0, seconds=3.0)
    with torch.no_grad():
        log_mel = LogMel()(torch.from_numpy(audio)[None])[0].numpy()
    onsets = onset_strength(log_mel)
    assert onsets.shape == (log_mel.shape[1],) and onsets.min() >= 0
    first_click_frame = int(0.1 * SR / 256)
    assert abs(int(np.argmax(onsets[:40])) - first_click_frame) <= 3
    with pytest.raises(ValueError, match="n_mels, T"):
        onset_strength(np.zeros(10))

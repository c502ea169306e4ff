"""Prompted audio in the key asked for: the made clip's key is measured and its pitch moved to it.

    key = key_in_prompt("slow cello melody in D minor")       # Key(tonic=2, mode="minor"); None: no key named
    key = parse_key("F#:minor")                               # the --key form
    shift = semitones_to(estimate, key)                       # -6..+5, 0 when the clip has no clear key
    log_mel_longer = stretch_log_mel(log_mel, ratio(shift), ...) ; audio = vocoder(log_mel_longer)
    audio = speed_up(audio, ratio(shift), n_samples)          # the same length, `shift` semitones higher

The diffusion model barely follows key words (key exact 0.05 against 0.54 for real clips). What a
sampler's "fit to key" does, done with the parts we have: the clip's key is estimated
(synth.prompt.music_analysis, Krumhansl-Schmuckler on the vocoded audio) and the clip transposed by the
nearest interval (-6..+5 semitones) that lands it there. A transposition keeps the mode, so a clip the
estimator calls major, asked for in a minor key, goes to that key's relative major (the same seven notes;
D minor -> F major): the notes are right, the tonal centre is the clip's own.

Transposition without a change of length: the log-mel is played `r` = 2**(shift/12) times longer
(synth.prompt.tempo_conform.stretch_log_mel: frames resampled, each frame's spectrum kept), vocoded, then
the waveform is read `r` times faster with a windowed-sinc interpolator: the length comes back and every
partial moves by the ratio. A clip without a clear key (drums; a correlation under MIN_CORRELATION) is
left as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from synth.prompt.music_analysis import MODES, PITCH_CLASSES, KeyEstimate, pitch_class

MIN_CORRELATION = 0.3  # a clip whose best key profile correlates less has no key to speak of (noise)
HALF_WIDTH = 16  # sinc taps each side of an output sample
# a capital note letter (so "a minor change" is not A minor), an accidental, then the mode in any case
_KEY_WORDS = re.compile(r"\b([A-G])\s?([#b♯♭]?)\s*((?i:major|minor|maj|min))\b")


@dataclass(frozen=True)
class Key:
    tonic: int  # pitch class, 0 = C
    mode: str  # "major" or "minor"

    @property
    def name(self) -> str:
        return f"{PITCH_CLASSES[self.tonic]}:{self.mode}"


def key_in_prompt(prompt: str) -> Key | None:
    """The key a prompt names ("... in D minor", "Eb major"), or None."""
    match = _KEY_WORDS.search(prompt)
    if match is None:
        return None
    letter, accidental, mode = match.groups()
    accidental = {"♯": "#", "♭": "b"}.get(accidental, accidental.lower() if accidental else "")
    mode = "major" if mode.lower().startswith("maj") else "minor"
    return Key(pitch_class(letter.upper() + accidental), mode)


def parse_key(text: str) -> Key:
    """ "D:minor", "F#:major", "Eb:minor" -> Key; ValueError naming the form otherwise."""
    tonic, _, mode = text.partition(":")
    if mode not in MODES:
        raise ValueError(f"expected a key such as D:minor or F#:major, not {text!r}")
    return Key(pitch_class(tonic), mode)


def semitones_to(estimate: KeyEstimate | None, key: Key) -> int:
    """The transposition (-6..+5) that takes a clip in `estimate` to `key` (to its relative key when the modes
    differ: the same notes); 0 when the clip has no clear key."""
    if estimate is None or not estimate.correlation >= MIN_CORRELATION:
        return 0
    target = key.tonic
    if estimate.mode != key.mode:  # the relative key: C major <-> A minor
        target = (target + 3) % 12 if key.mode == "minor" else (target + 9) % 12
    return (target - estimate.tonic + 6) % 12 - 6


def ratio(shift: int) -> float:
    """How much longer the mel is played (and how much faster the audio is read) for `shift` semitones."""
    return float(2.0 ** (shift / 12.0))


def speed_up(audio: np.ndarray, r: float, n_samples: int) -> np.ndarray:
    """float32 (n_samples,): mono `audio` read `r` times faster (output m is the input at m * r), with a
    Hann-windowed sinc cut off at the lower Nyquist; zeros past the input's end."""
    audio = np.asarray(audio, dtype=np.float64)
    cutoff = min(1.0, 1.0 / r)
    taps = np.arange(-HALF_WIDTH + 1, HALF_WIDTH + 1)  # (2W,)
    padded = np.concatenate([np.zeros(HALF_WIDTH), audio, np.zeros(HALF_WIDTH + int(np.ceil(r)) + 1)])
    out = np.empty(n_samples, dtype=np.float64)
    block = 8192
    for first in range(0, n_samples, block):
        position = np.arange(first, min(first + block, n_samples), dtype=np.float64) * r  # (B,)
        base = np.floor(position).astype(np.int64)
        index = base[:, None] + taps[None, :]  # (B, 2W) input samples around each position
        distance = position[:, None] - index
        window = 0.5 + 0.5 * np.cos(np.pi * np.clip(distance / HALF_WIDTH, -1.0, 1.0))
        weights = cutoff * np.sinc(cutoff * distance) * window
        valid = index < len(audio)
        out[first : first + len(position)] = (padded[np.where(valid, index, -1) + HALF_WIDTH] * weights * valid).sum(1)
    return out.astype(np.float32)


def key_named(prompt: str) -> str | None:
    """The key a prompt names in the request's form ("D:minor"), or None."""
    key = key_in_prompt(prompt)
    return key.name if key is not None else None

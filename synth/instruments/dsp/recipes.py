"""The Patch data types of the DSP synth and the instrument-family builders the GM tables use.

A patch is data, not code: a few wavetable layers (harmonic amplitudes, a
frequency ratio, an envelope), optional filtered noise, vibrato or a pitch
sweep. A layer's `ratio` lets a pure-sine layer sit at an inharmonic partial
(bells, marimba bars), slightly detuned (chorus for pads and ensembles) or
slightly stretched (the piano's sharp upper partials).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

REFERENCE_HZ = 261.63  # middle C: decay times are given for this pitch


@dataclass(frozen=True)
class Layer:
    """A wavetable read at `ratio` times the note's frequency, with its own envelope.

    `harmonics` are amplitudes of harmonics 1..K. `decay_s` is a time
    constant (0: no decay) toward `sustain`; `decay_keytrack` shortens it for
    higher notes as (f0/C4)**-keytrack. `velocity_bright` adds gain with
    velocity, (velocity/127)**velocity_bright, so hard notes are brighter.
    `formants_hz` weights harmonics by vowel resonances (choirs).
    """

    harmonics: tuple[float, ...] = (1.0,)
    ratio: float = 1.0
    gain: float = 1.0
    attack_s: float = 0.005
    decay_s: float = 0.0
    sustain: float = 1.0
    decay_keytrack: float = 0.0
    velocity_bright: float = 0.0
    formants_hz: tuple[float, ...] = ()

    def amplitudes(self, f0_hz: float, sample_rate: int) -> np.ndarray:
        """Harmonic amplitudes for a note at f0_hz, with harmonics near Nyquist removed."""
        amps = np.asarray(self.harmonics, dtype=np.float64)
        k = np.arange(1, len(amps) + 1)
        freqs = k * f0_hz * self.ratio
        if self.formants_hz:
            weight = 0.15 + sum(1.0 / (1.0 + ((freqs - fc) / (0.12 * fc + 60.0)) ** 2) for fc in self.formants_hz)
            amps = amps * weight
        # A whole tone of pitch-bend headroom below 0.45 * sample rate.
        return np.where(freqs * 1.13 < 0.45 * sample_rate, amps, 0.0)


@dataclass(frozen=True)
class Noise:
    """Filtered noise from `synth.instruments.dsp.tables.NOISE_KINDS` with an attack/decay/sustain envelope."""

    kind: str = "white"
    gain: float = 0.1
    attack_s: float = 0.001
    decay_s: float = 0.05
    sustain: float = 0.0


@dataclass(frozen=True)
class Patch:
    """An instrument: layers + noise + pitch movement + release.

    Times (`attack_s` aside) are time constants of exponentials: a release
    of 0.1 s is at -60 dB (where the voice ends) after about 0.7 s.
    `vibrato_depth` is a fraction of the frequency (0.006 is about 10 cents);
    `sweep` starts the pitch at (1 + sweep) times the note and falls back
    with time constant `sweep_s` (kick drums, toms). `fixed_hz` ignores the
    MIDI pitch (drums). `level` evens out loudness between patches.
    """

    name: str
    layers: tuple[Layer, ...]
    release_s: float = 0.1
    noise: Noise | None = None
    vibrato_depth: float = 0.0
    vibrato_hz: float = 5.5
    vibrato_delay_s: float = 0.25
    sweep: float = 0.0
    sweep_s: float = 0.03
    velocity_curve: float = 1.6
    fixed_hz: float | None = None
    level: float = 1.0

    @property
    def percussive(self) -> bool:
        """True when every part decays to silence on its own (no sustain)."""
        parts = [(la.sustain, la.decay_s) for la in self.layers if la.gain > 0]
        if self.noise is not None:
            parts.append((self.noise.sustain, self.noise.decay_s))
        return all(s == 0.0 and d > 0.0 for s, d in parts)


def _series(n: int, fn) -> tuple[float, ...]:
    return tuple(float(fn(k)) for k in range(1, n + 1))


def saw(n: int = 24, tilt: float = 1.0) -> tuple[float, ...]:
    """All harmonics falling as 1/k**tilt (bowed strings, brass, saw leads)."""
    return _series(n, lambda k: 1.0 / k**tilt)


def square(n: int = 24, even: float = 0.0, tilt: float = 1.0) -> tuple[float, ...]:
    """Odd harmonics at 1/k**tilt, even ones scaled by `even` (clarinet: small)."""
    return _series(n, lambda k: (1.0 if k % 2 else even) / k**tilt)


def plucked(n: int = 24, position: float = 0.18, tilt: float = 1.3) -> tuple[float, ...]:
    """A string plucked at `position` of its length: a comb over 1/k**tilt."""
    return _series(n, lambda k: abs(np.sin(np.pi * k * position)) / k**tilt / abs(np.sin(np.pi * position)))


def upper(amps: tuple[float, ...], first: int) -> tuple[float, ...]:
    """Only harmonics >= first (a bright layer that decays apart from the body)."""
    return tuple(a if k >= first else 0.0 for k, a in enumerate(amps, 1))


def lower(amps: tuple[float, ...], last: int) -> tuple[float, ...]:
    return tuple(a if k <= last else 0.0 for k, a in enumerate(amps, 1))


SINE = (1.0,)


def _piano(name: str, bright: float = 1.0, detune: float = 1.0) -> Patch:
    body = plucked(12, position=1 / 7, tilt=1.1)
    return Patch(
        name,
        (
            Layer(lower(body, 4), ratio=1.0003, gain=1.0, attack_s=0.002, decay_s=2.2, sustain=0.0, decay_keytrack=0.6),
            Layer(
                upper(plucked(20, 1 / 7, 1.0), 4),
                ratio=1.0 + 0.004 * detune,  # inharmonic stretch of the upper partials
                gain=0.6 * bright,
                attack_s=0.001,
                decay_s=0.35,
                sustain=0.0,
                decay_keytrack=0.5,
                velocity_bright=1.2,
            ),
        ),
        release_s=0.06,
        level=1.2,
    )


def _electric_piano(name: str, bell: float) -> Patch:
    return Patch(
        name,
        (
            Layer((1.0, 0.25, 0.06), attack_s=0.002, decay_s=2.5, sustain=0.0, decay_keytrack=0.5),
            Layer(SINE, ratio=7.0, gain=0.35 * bell, attack_s=0.001, decay_s=0.08, sustain=0.0, velocity_bright=1.5),
        ),
        release_s=0.12,
        level=1.1,
    )


def _pluck(name: str, position: float, decay_s: float, bright: float = 1.0, n: int = 24, ratio: float = 1.0) -> Patch:
    body = plucked(n, position=position, tilt=1.3)
    return Patch(
        name,
        (
            Layer(lower(body, 3), gain=1.0, attack_s=0.001, decay_s=decay_s, sustain=0.0, decay_keytrack=0.5),
            Layer(
                upper(body, 4),
                ratio=ratio,
                gain=0.8 * bright,
                attack_s=0.001,
                decay_s=decay_s * 0.15,
                sustain=0.0,
                decay_keytrack=0.5,
                velocity_bright=1.0,
            ),
        ),
        release_s=0.08,
        level=1.1,
    )


def _bell(name: str, partials: tuple[tuple[float, float, float], ...], release_s: float = 0.6) -> Patch:
    """Pure-sine layers at inharmonic ratios: (ratio, gain, decay_s)."""
    layers = tuple(
        Layer(
            SINE, ratio=r, gain=g, attack_s=0.001, decay_s=d, sustain=0.0, decay_keytrack=0.3, velocity_bright=0.8 * i
        )
        for i, (r, g, d) in enumerate(partials)
    )
    return Patch(name, layers, release_s=release_s, level=0.9)


def _organ(name: str, drawbars: tuple[float, ...], release_s: float = 0.04, vibrato: float = 0.0) -> Patch:
    # Drawbars 8', 4', 2 2/3', 2', 1 3/5', 1 1/3', 1' are harmonics 1, 2, 3, 4, 5, 6, 8.
    amps = [0.0] * 8
    for harmonic, level in zip((1, 2, 3, 4, 5, 6, 8), drawbars, strict=False):
        amps[harmonic - 1] = level / 8.0
    return Patch(
        name,
        (Layer(tuple(amps), attack_s=0.006, sustain=1.0),),
        release_s=release_s,
        vibrato_depth=vibrato,
        vibrato_hz=6.5,
        vibrato_delay_s=0.0,
        velocity_curve=0.6,
        level=0.9,
    )


def _reed(name: str, harmonics: tuple[float, ...], attack_s: float = 0.03, breath: float = 0.03) -> Patch:
    return Patch(
        name,
        (Layer(harmonics, attack_s=attack_s, decay_s=0.3, sustain=0.85),),
        release_s=0.07,
        noise=Noise("breath", breath, 0.02, 0.1, 0.5),
        vibrato_depth=0.004,
        vibrato_hz=5.0,
        vibrato_delay_s=0.3,
        level=1.0,
    )


def _brass(name: str, tilt: float, attack_s: float = 0.035, n: int = 20, vibrato: float = 0.003) -> Patch:
    full = saw(n, tilt)
    return Patch(
        name,
        (
            Layer(lower(full, 3), attack_s=attack_s, decay_s=0.25, sustain=0.9),
            # Upper harmonics arrive later and louder with velocity: the brassy "blat".
            Layer(upper(full, 4), gain=0.9, attack_s=attack_s * 2.2, decay_s=0.3, sustain=0.7, velocity_bright=1.5),
        ),
        release_s=0.08,
        vibrato_depth=vibrato,
        vibrato_hz=5.2,
        vibrato_delay_s=0.35,
        level=1.0,
    )


def _bowed(name: str, attack_s: float, tilt: float = 1.0, ensemble: bool = False, release_s: float = 0.12) -> Patch:
    layers = [Layer(saw(24, tilt), attack_s=attack_s, decay_s=0.4, sustain=0.9)]
    if ensemble:  # a second, slightly sharp section: slow beating, the ensemble width
        layers.append(Layer(saw(24, tilt), ratio=1.0045, gain=0.8, attack_s=attack_s * 1.3, decay_s=0.4, sustain=0.9))
    return Patch(
        name,
        tuple(layers),
        release_s=release_s,
        noise=None if ensemble else Noise("breath", 0.015, attack_s, 0.3, 0.6),  # a solo bow's hair
        vibrato_depth=0.006,
        vibrato_hz=5.6,
        vibrato_delay_s=0.2,
        velocity_curve=1.2,
        level=0.9,
    )


def _pipe(
    name: str, harmonics: tuple[float, ...], breath: float, attack_s: float = 0.04, vibrato: float = 0.004
) -> Patch:
    return Patch(
        name,
        (Layer(harmonics, attack_s=attack_s, decay_s=0.5, sustain=0.9),),
        release_s=0.06,
        noise=Noise("breath", breath, 0.01, 0.06, 0.35),  # the chiff, then steady air
        vibrato_depth=vibrato,
        vibrato_hz=5.0,
        vibrato_delay_s=0.3,
        velocity_curve=1.2,
        level=1.1,
    )


def _pad(
    name: str, harmonics: tuple[float, ...], attack_s: float = 0.35, release_s: float = 0.6, detune: float = 0.006
) -> Patch:
    return Patch(
        name,
        (
            Layer(harmonics, attack_s=attack_s, sustain=1.0),
            Layer(harmonics, ratio=1.0 + detune, gain=0.8, attack_s=attack_s * 1.5, sustain=1.0),
        ),
        release_s=release_s,
        vibrato_depth=0.002,
        vibrato_hz=0.8,
        vibrato_delay_s=0.0,
        velocity_curve=1.0,
        level=0.8,
    )


def _lead(name: str, harmonics: tuple[float, ...], detune: float = 0.0) -> Patch:
    layers = [Layer(harmonics, attack_s=0.004, decay_s=0.2, sustain=0.85)]
    if detune:
        layers.append(Layer(harmonics, ratio=1.0 + detune, gain=0.7, attack_s=0.004, decay_s=0.2, sustain=0.85))
    return Patch(
        name, tuple(layers), release_s=0.05, vibrato_depth=0.003, vibrato_hz=5.5, vibrato_delay_s=0.4, level=0.8
    )


def _bass(
    name: str, harmonics: tuple[float, ...], decay_s: float, sustain: float = 0.0, attack_s: float = 0.003
) -> Patch:
    return Patch(
        name,
        (
            Layer(lower(harmonics, 3), attack_s=attack_s, decay_s=decay_s, sustain=sustain),
            Layer(
                upper(harmonics, 4),
                gain=0.7,
                attack_s=attack_s,
                decay_s=0.12,
                sustain=sustain * 0.3,
                velocity_bright=1.0,
            ),
        ),
        release_s=0.06,
        level=1.3,
    )


def _fx_noise(name: str, kind: str, gain: float, attack_s: float, decay_s: float, sustain: float) -> Patch:
    return Patch(
        name,
        (Layer(SINE, gain=0.0),),
        release_s=0.3,
        noise=Noise(kind, gain, attack_s, decay_s, sustain),
        velocity_curve=1.0,
        level=2.0,
    )

"""Wavetables and noise tables for the DSP synth: pure functions, built once.

A voice layer reads a single-cycle wavetable (a sum of harmonics, built with
an inverse FFT, so it is band-limited by construction) with a phase in
cycles. Noise (breath, snares, hats, cymbals) is read from long tables of
filtered white noise indexed by the voice's age, so a voice's noise does not
depend on how the audio was cut into blocks.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

TABLE_SIZE = 4096  # samples per cycle; power of two so a bit mask wraps the phase
NOISE_SIZE = 1 << 17  # 2.7 s at 48 kHz before a noise table repeats

NOISE_KINDS = ("white", "breath", "snare", "hat", "cymbal", "low", "thump")


def harmonic_table(amps: np.ndarray) -> np.ndarray:
    """One cycle of sum_k amps[k-1] * sin(2 pi k x), float32 of shape (TABLE_SIZE,).

    `amps` holds harmonics 1..K; the table is scaled to unit RMS times the
    input's RMS (a lone unit sine stays a unit sine).
    """
    amps = np.asarray(amps, dtype=np.float64)
    spectrum = np.zeros(TABLE_SIZE // 2 + 1, dtype=np.complex128)
    k = min(len(amps), TABLE_SIZE // 2 - 1)
    # irfft of -i*N/2 at bin k is sin(2 pi k x).
    spectrum[1 : k + 1] = -0.5j * TABLE_SIZE * amps[:k]
    return np.fft.irfft(spectrum, n=TABLE_SIZE).astype(np.float32)


def _band_gain(freqs_hz: np.ndarray, low_hz: float | None, high_hz: float | None, order: int = 2) -> np.ndarray:
    """Magnitude of a Butterworth-like band: high-pass at low_hz, low-pass at high_hz."""
    gain = np.ones_like(freqs_hz)
    f = np.maximum(freqs_hz, 1e-3)
    if low_hz is not None:
        gain *= 1.0 / np.sqrt(1.0 + (low_hz / f) ** (2 * order))
    if high_hz is not None:
        gain *= 1.0 / np.sqrt(1.0 + (f / high_hz) ** (2 * order))
    return gain


@lru_cache(maxsize=16)
def noise_bank(sample_rate: int) -> np.ndarray:
    """Every noise kind, float32 of shape (len(NOISE_KINDS), NOISE_SIZE), unit peak-ish (RMS 0.3).

    Shaped in the frequency domain from one seeded white noise, so the same
    sample rate always gives the same tables. Read-only.
    """
    rng = np.random.default_rng(20240611)
    white = rng.standard_normal(NOISE_SIZE)
    spectrum = np.fft.rfft(white)
    freqs = np.fft.rfftfreq(NOISE_SIZE, d=1.0 / sample_rate)
    nyq = sample_rate / 2
    shapes = {
        "white": np.ones_like(freqs),
        "breath": _band_gain(freqs, 900.0, min(5000.0, 0.45 * sample_rate), 1),
        "snare": _band_gain(freqs, 1200.0, min(9000.0, 0.45 * sample_rate), 2),
        "hat": _band_gain(freqs, min(7000.0, 0.3 * sample_rate), None, 3),
        "cymbal": _band_gain(freqs, min(3500.0, 0.2 * sample_rate), min(16000.0, 0.45 * sample_rate), 2)
        * (1.0 + 0.6 * np.cos(freqs / 310.0) ** 8),  # a few metallic ridges
        "low": _band_gain(freqs, 40.0, 600.0, 2),
        "thump": _band_gain(freqs, 60.0, 2500.0, 1),
    }
    bank = np.empty((len(NOISE_KINDS), NOISE_SIZE), dtype=np.float32)
    for i, kind in enumerate(NOISE_KINDS):
        shape = shapes[kind] * (freqs < nyq)
        signal = np.fft.irfft(spectrum * shape, n=NOISE_SIZE)
        signal *= 0.3 / max(float(np.sqrt(np.mean(signal**2))), 1e-12)
        bank[i] = signal
    bank.flags.writeable = False
    return bank


def noise_index(kind: str) -> int:
    try:
        return NOISE_KINDS.index(kind)
    except ValueError:
        raise ValueError(f"noise kind must be one of {', '.join(NOISE_KINDS)}, not {kind!r}") from None

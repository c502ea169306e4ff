"""Where a note's partials land on the mel bands: the fixed, differentiable step of the renderer.

    combs = harmonic_combs(MelConfig())      # (2, n_pitches, n_mels) float32, see below
    band = fine_pitch_index(pitch_semitones) # fractional row of `combs` for a (bent) MIDI pitch

synth.instruments.neural.mel's log-mel is log(filters @ |rfft(hann * frame)|). A steady
sinusoid of amplitude 1 at f Hz puts a fixed magnitude pattern on the bins
(the Hann window's main lobe and side lobes, its negative-frequency image
included), so its mel response `sinusoid_response(f)` is a fixed vector of
n_mels values, computed here exactly by taking those FFTs. A harmonic note
of pitch p is the sum of partials k * f0(p) (times sqrt(1 + B k^2) for a
stiff string's inharmonicity B), each below the mel's f_max; since the mel
is linear in magnitudes, partials that fall in different bins add exactly
and partials sharing a bin add as magnitudes (an upper bound of the true sum).

Two combs per pitch are tabulated: plain harmonic and piano-stretched
(B = PIANO_B). Rows are fine pitches from PITCH_LOW to PITCH_HIGH in steps of
1 / PITCH_STEPS semitone, so a pitch bend reads between two rows (linear
interpolation). Each comb is the sum of unit-amplitude partials; the
renderer multiplies it by a learned spectral envelope per mel band, so the
partials sit where the pitch puts them and the network learns only timbre.
"""

from __future__ import annotations

import numpy as np

from synth.instruments.neural.mel import MelConfig, mel_filterbank

PITCH_LOW = -3.0  # MIDI pitch of the first row (room for a bend below pitch 0)
PITCH_HIGH = 131.0
PITCH_STEPS = 8  # rows per semitone
MAX_PARTIALS = 256
PIANO_B = 4e-4  # inharmonicity of the stretched comb (a mid-range piano string)
FREQ_STEP_HZ = 1.0  # resolution of the tabulated sinusoid response


def n_pitch_rows() -> int:
    return int(round((PITCH_HIGH - PITCH_LOW) * PITCH_STEPS)) + 1


def fine_pitch_index(pitch_semitones):
    """MIDI pitch (float, any array type) -> fractional row of the comb tables, clamped to the table."""
    index = (pitch_semitones - PITCH_LOW) * PITCH_STEPS
    top = n_pitch_rows() - 1
    if isinstance(index, np.ndarray | float | int):
        return np.clip(index, 0, top)
    return index.clamp(0, top)  # a torch tensor


def sinusoid_response(cfg: MelConfig, freqs_hz: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """The mel magnitudes (before the log) of unit-amplitude sinusoids: (len(freqs_hz), n_mels) float64."""
    n = np.arange(cfg.n_fft)
    window = 0.5 - 0.5 * np.cos(2 * np.pi * n / cfg.n_fft)  # torch.hann_window (periodic)
    filters = mel_filterbank(cfg).astype(np.float64)
    out = np.empty((len(freqs_hz), cfg.n_mels))
    for lo in range(0, len(freqs_hz), chunk):
        f = np.asarray(freqs_hz[lo : lo + chunk], np.float64)[:, None]
        frames = np.sin(2 * np.pi * f * n[None] / cfg.sample_rate) * window[None]
        out[lo : lo + chunk] = np.abs(np.fft.rfft(frames, axis=1)) @ filters.T
    return out


def harmonic_combs(cfg: MelConfig) -> np.ndarray:
    """(2, n_pitch_rows(), n_mels) float32: the mel magnitudes of unit partials, harmonic and stretched."""
    grid_hz = np.arange(0.0, cfg.f_max_hz + 2 * FREQ_STEP_HZ, FREQ_STEP_HZ)
    table = sinusoid_response(cfg, grid_hz)  # (n_grid, n_mels)
    pitches = PITCH_LOW + np.arange(n_pitch_rows()) / PITCH_STEPS
    f0_hz = 440.0 * 2.0 ** ((pitches - 69.0) / 12.0)  # (P,)
    k = np.arange(1, MAX_PARTIALS + 1, dtype=np.float64)
    combs = np.zeros((2, len(pitches), cfg.n_mels), np.float64)
    for c, b in enumerate((0.0, PIANO_B)):
        freqs = f0_hz[:, None] * k[None] * np.sqrt(1.0 + b * k[None] ** 2)  # (P, K)
        below = freqs < cfg.f_max_hz
        p_index, k_index = np.nonzero(below)  # the partials that count, grouped by pitch in order
        pos = freqs[p_index, k_index] / FREQ_STEP_HZ
        lo = np.floor(pos).astype(np.int64)
        frac = (pos - lo)[:, None]
        rows = table[lo] * (1 - frac) + table[lo + 1] * frac  # (n, n_mels)
        counts = below.sum(axis=1)
        sounding = counts > 0
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[sounding]
        combs[c, sounding] = np.add.reduceat(rows, starts, axis=0)
    return combs.astype(np.float32)

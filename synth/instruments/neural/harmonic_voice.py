"""The harmonic voice: the renderer's controls -> waveform by additive synthesis, every partial at its pitch.

    voice = HarmonicVoice(MelConfig(), max_notes=16)
    state = voice.initial_state()
    controls, log_mel, r_state = renderer.step_controls(pitch, notes, track, program, r_state)
    audio, state = voice.step(controls, state)     # T frames (batch 1) -> float32 (T * hop,)

The renderer describes each sounding note as partials at k * f0 (stretched
by the stiff-string share) whose mel magnitudes are a learned gain per band
times the partial's own mel response (synth.harmonics), plus a noise part
and the residual's correction per band. A vocoder has to rediscover the
pitch from the mel, and loses it on low notes (a 512-sample frame cannot
resolve partials 65 Hz apart). This voice plays the controls directly
instead, as DDSP does: one sine oscillator per partial, phase continuous,
its amplitude the band gains weighted by where the partial's response falls
(so the log-mel of the output is the renderer's), ramped linearly over each
hop; the noise part is white noise shaped per frame to the mel magnitudes
(random-phase spectra overlap-added with a sqrt-Hann window). Nothing is
learned here, so the pitch is exactly the note's.

Timing is the vocoder's: output sample n stands for reference sample
n - latency_samples (one hop). Frame k's samples ramp from frame k - 1's
amplitudes to frame k's. A slot whose note changes (new pitch, its age
drops, or it starts sounding) starts from silence and phase 0; a slot that
stops ramps to silence. The noise comes from a generator seeded at
`initial_state`, drawn once per frame, so streaming in any block length
gives the same samples as one pass.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch

from synth.instruments.neural.harmonics import PIANO_B, sinusoid_response
from synth.instruments.neural.mel import LogMel, MelConfig, mel_filterbank
from synth.instruments.neural.renderer import VoiceControls

MAX_PARTIALS = 128
TOP_HZ_RATIO = 0.95  # partials up to this share of the mel's f_max
FREQ_STEP_HZ = 1.0
NOISE_SEED = 1234
QUIET_RATIO = 1e-4  # partials this far under the frame's loudest are left out


@dataclass
class HarmonicState:
    phase: np.ndarray  # (S, K) float64 radians: each partial's phase at the end of the last frame
    amplitude: np.ndarray  # (S, K) float64: each partial's amplitude at the last frame
    freq_hz: np.ndarray  # (S, K) float64: each partial's frequency at the last frame
    pitch: np.ndarray  # (S,) float64: the slot's pitch at the last frame (0 where silent)
    age: np.ndarray  # (S,) float64: the slot's age feature at the last frame
    active: np.ndarray  # (S,) bool
    noise_overlap: np.ndarray  # (hop,) float64: the noise frames' second halves, still to add
    rng: np.random.Generator


@functools.lru_cache(maxsize=4)
def _tables(cfg: MelConfig) -> tuple[np.ndarray, np.ndarray, float]:
    """(partial weights (n_grid, M), band -> synthesis bin map (M, hop + 1), noise gain)."""
    grid_hz = np.arange(0.0, cfg.f_max_hz + FREQ_STEP_HZ, FREQ_STEP_HZ)
    response = sinusoid_response(cfg, grid_hz)  # (n_grid, M)
    weights = response / np.maximum(response.sum(axis=1, keepdims=True), 1e-12)
    filters = mel_filterbank(cfg).astype(np.float64)  # (M, n_fft // 2 + 1)
    cover = filters.sum(axis=0)  # how much of each analysis bin the bands cover
    to_bins = filters / np.maximum(cover, 1e-12)[None]  # band magnitudes -> bin magnitudes
    step = cfg.n_fft // (2 * cfg.hop_samples)  # the synthesis frame (2 hops) has every step-th bin
    to_bins = to_bins[:, ::step]  # (M, hop + 1)
    return weights, to_bins, _noise_gain(cfg, to_bins)


def _shaped_noise(cfg: MelConfig, magnitudes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One synthesis frame (2 * hop,) of noise with bin magnitudes `magnitudes` (hop + 1,), windowed."""
    n = 2 * cfg.hop_samples
    spectrum = magnitudes * (rng.standard_normal(n // 2 + 1) + 1j * rng.standard_normal(n // 2 + 1))
    return np.fft.irfft(spectrum, n=n) * np.sqrt(np.hanning(n + 1)[:n])


def _noise_gain(cfg: MelConfig, to_bins: np.ndarray) -> float:
    """The gain that gives shaped noise the mel magnitude asked for (measured once on flat noise)."""
    rng = np.random.default_rng(0)
    hop, n_frames = cfg.hop_samples, 400
    flat = np.ones(to_bins.shape[1])
    audio = np.zeros((n_frames + 1) * hop)
    for k in range(n_frames):
        audio[k * hop : k * hop + 2 * hop] += _shaped_noise(cfg, flat, rng)
    with torch.no_grad():
        mel = LogMel(cfg)(torch.from_numpy(audio[None].astype(np.float32))).exp()[0, :, 8:-8]  # (M, T)
    return float(1.0 / np.median(mel.mean(dim=1).numpy()))


class HarmonicVoice:
    """Renderer controls -> waveform at the mel's sample rate; see the module docstring."""

    def __init__(self, cfg: MelConfig, max_notes: int = 16) -> None:
        self.cfg = cfg
        self.max_notes = int(max_notes)
        self.hop_samples = cfg.hop_samples
        self.latency_samples = cfg.hop_samples
        self._weights, self._to_bins, self._noise_gain = _tables(cfg)
        self._k = np.arange(1, MAX_PARTIALS + 1, dtype=np.float64)
        self._top_hz = TOP_HZ_RATIO * cfg.f_max_hz
        self._n = np.arange(1, self.hop_samples + 1, dtype=np.float64)  # (hop,) samples into the frame
        self._ramp32 = (self._n / self.hop_samples).astype(np.float32)

    def initial_state(self) -> HarmonicState:
        S, K = self.max_notes, MAX_PARTIALS
        return HarmonicState(
            np.zeros((S, K)), np.zeros((S, K)), np.zeros((S, K)), np.zeros(S), np.zeros(S),
            np.zeros(S, bool), np.zeros(self.hop_samples), np.random.default_rng(NOISE_SEED),
        )  # fmt: skip

    def step(self, controls: VoiceControls, state: HarmonicState) -> tuple[np.ndarray, HarmonicState]:
        """The controls of T frames (batch 1) -> (float32 (T * hop,), the state after them). Updates `state`."""
        active = controls.active[0].cpu().numpy()
        pitch = controls.pitch_semitones[0].double().cpu().numpy()
        age = controls.age[0].double().cpu().numpy()
        gains = controls.harmonic_gain[0].double().cpu().numpy()  # (T, S, M)
        stretch = controls.stretch[0].double().cpu().numpy()
        noise = controls.noise_magnitude[0].double().cpu().numpy()  # (T, M)
        out = np.empty(active.shape[0] * self.hop_samples, np.float32)
        for t in range(active.shape[0]):
            hop = slice(t * self.hop_samples, (t + 1) * self.hop_samples)
            out[hop] = self._frame(active[t], pitch[t], age[t], gains[t], stretch[t], noise[t], state)
        return out, state

    def _frame(self, active, pitch, age, gains, stretch, noise, state: HarmonicState) -> np.ndarray:
        sr, n = self.cfg.sample_rate, self.hop_samples
        new = active & (~state.active | (np.abs(pitch - state.pitch) > 0.5) | (age < state.age - 1e-6))
        state.amplitude[new] = 0.0
        state.phase[new] = 0.0
        f0_hz = 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)  # (S,)
        freq = f0_hz[:, None] * self._k[None] * np.sqrt(1.0 + stretch[:, None] * PIANO_B * self._k[None] ** 2)
        audible = active[:, None] & (freq < self._top_hz)  # (S, K)
        freq = np.where(active[:, None], freq, state.freq_hz)  # a stopping slot keeps its last frequencies
        amplitude = np.zeros_like(state.amplitude)
        s, k = np.nonzero(audible)
        if s.size:
            rows = self._weights[np.rint(freq[s, k] / FREQ_STEP_HZ).astype(np.int64)]  # (P, M)
            amplitude[s, k] = np.einsum("pm,pm->p", rows, gains[s])
        floor = QUIET_RATIO * max(float(amplitude.max(initial=0.0)), float(state.amplitude.max(initial=0.0)))
        amplitude[amplitude < floor] = 0.0  # partials 80 dB under the loudest are not played
        playing = (amplitude > 0) | (state.amplitude > 0)
        s, k = np.nonzero(playing)
        sound = np.zeros(n)
        if s.size:
            a0, a1, f = state.amplitude[s, k], amplitude[s, k], freq[s, k]
            step = (2 * np.pi / sr) * f  # (P,) radians per sample
            phase = state.phase[s, k].astype(np.float32)[:, None] + np.outer(step, self._n).astype(np.float32)
            sines = np.sin(phase)  # (P, n) float32
            # the amplitude ramps linearly from a0 to a1: sum_p (a0 + (a1 - a0) r) sin = a0 @ S + r (a1 - a0) @ S
            sound = a0.astype(np.float32) @ sines + self._ramp32 * ((a1 - a0).astype(np.float32) @ sines)
            state.phase[s, k] = np.mod(state.phase[s, k] + step * n, 2 * np.pi)
        state.amplitude, state.freq_hz = amplitude, freq
        state.pitch, state.age, state.active = np.where(active, pitch, 0.0), age, active.copy()
        bins = (noise @ self._to_bins) * self._noise_gain
        frame = _shaped_noise(self.cfg, bins, state.rng)
        sound = sound + state.noise_overlap + frame[:n]
        state.noise_overlap = frame[n:]
        return sound

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
from synth.instruments.neural.note_features import age_feature
from synth.instruments.neural.renderer import VoiceControls

MAX_PARTIALS = 128
TOP_HZ_RATIO = 0.95  # partials up to this share of the mel's f_max
FREQ_STEP_HZ = 1.0
NOISE_SEED = 1234
QUIET_RATIO = 1e-4  # partials this far under the frame's loudest are left out
ATTACK_S = 0.1  # a note this young is in its attack: the noise part may rise (_release_only_fades)
ATTACK_AGE_FEATURE = age_feature(ATTACK_S)


@dataclass
class HarmonicState:
    phase: np.ndarray  # (S, K) float64 radians: each partial's phase at the end of the last frame
    amplitude: np.ndarray  # (S, K) float64: each partial's amplitude at the last frame
    freq_hz: np.ndarray  # (S, K) float64: each partial's frequency at the last frame
    pitch: np.ndarray  # (S,) float64: the slot's pitch at the last frame (0 where silent)
    age: np.ndarray  # (S,) float64: the slot's age feature at the last frame
    active: np.ndarray  # (S,) bool
    gains: np.ndarray  # (S, M) float64: each slot's band gains at the last frame (a release never exceeds them)
    noise: np.ndarray  # (M,) float64: the noise part's band magnitudes at the last frame
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
    return np.fft.irfft(spectrum, n=n) * _noise_window(n)


@functools.lru_cache(maxsize=4)
def _noise_window(n: int) -> np.ndarray:
    """The synthesis frame's sqrt-Hann window (n,)."""
    return np.sqrt(np.hanning(n + 1)[:n])


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


class _FrameWork:
    """The arrays one voice's frames are computed in, made once: a frame in the render thread makes no
    sample memory. Those sized by the partials are made for all S * K at once (np.zeros' pages are
    only touched as partials play), so the first big chord does not make them in the render thread;
    those sized by the frames of one call grow to the longest call (an offline render's)."""

    def __init__(self, max_notes: int, hop: int, n_mels: int) -> None:
        S, K = max_notes, MAX_PARTIALS
        self.hop, self.n_mels = hop, n_mels
        self.s_f, self.s_f2 = np.zeros(S), np.zeros(S)
        self.new, self.s_b, self.inactive = np.zeros(S, bool), np.zeros(S, bool), np.zeros(S, bool)
        self.freq, self.f0k, self.amplitude = np.zeros((S, K)), np.zeros((S, K)), np.zeros((S, K))
        self.audible, self.playing, self.mask = np.zeros((S, K), bool), np.zeros((S, K), bool), np.zeros((S, K), bool)
        self.slot_of = np.repeat(np.arange(S, dtype=np.int64), K).reshape(S, K)  # each partial's slot
        self.sound32, self.ramped32 = np.zeros(hop, np.float32), np.zeros(hop, np.float32)
        self.sound64 = np.zeros(hop)
        self.bins = np.zeros(hop + 1)
        self.normal_re, self.normal_im = np.zeros(hop + 1), np.zeros(hop + 1)
        self.spectrum = np.zeros(hop + 1, np.complex128)
        self.noise = np.zeros(2 * hop)
        self.frames = 0
        self.partials = 0
        self.fit_frames(1)
        self.fit_partials(self.slot_of.size)

    def fit_frames(self, T: int) -> None:
        if self.frames >= T:
            return
        S, M = self.slot_of.shape[0], self.n_mels
        self.c_active, self.c_pitch, self.c_age = np.zeros((T, S), bool), np.zeros((T, S)), np.zeros((T, S))
        self.c_gains, self.c_stretch, self.c_noise = np.zeros((T, S, M)), np.zeros((T, S)), np.zeros((T, M))
        self.c_released = np.zeros((T, S), bool)
        self.frames = T

    def fit_partials(self, P: int) -> None:
        if self.partials >= P:
            return
        P = min(max(P, 2 * self.partials), self.slot_of.size)
        M, n = self.n_mels, self.hop
        self.p_f = [np.zeros(P) for _ in range(5)]
        self.p_i, self.p_slot = np.zeros(P, np.int64), np.zeros(P, np.int64)
        self.rows, self.slot_gains = np.zeros((P, M)), np.zeros((P, M))
        self.p_32, self.p2_32 = np.zeros(P, np.float32), np.zeros(P, np.float32)
        self.outer, self.phase32 = np.zeros((P, n)), np.zeros((P, n), np.float32)
        self.phase0_32 = np.zeros((P, n), np.float32)
        self.partials = P


class HarmonicVoice:
    """Renderer controls -> waveform at the mel's sample rate; see the module docstring."""

    def __init__(self, cfg: MelConfig, max_notes: int = 16) -> None:
        self.cfg = cfg
        self.max_notes = int(max_notes)
        self.hop_samples = cfg.hop_samples
        self.latency_samples = cfg.hop_samples
        self._weights, self._to_bins, self._noise_gain = _tables(cfg)
        self._k = np.arange(1, MAX_PARTIALS + 1, dtype=np.float64)
        self._k2 = self._k**2
        self._top_hz = TOP_HZ_RATIO * cfg.f_max_hz
        self._n = np.arange(1, self.hop_samples + 1, dtype=np.float64)  # (hop,) samples into the frame
        self._ramp32 = (self._n / self.hop_samples).astype(np.float32)
        self._ones32 = np.ones(self.hop_samples, np.float32)
        self._window = _noise_window(2 * self.hop_samples)
        self._work = _FrameWork(self.max_notes, self.hop_samples, cfg.n_mels)
        self._rng_start = np.random.default_rng(NOISE_SEED).bit_generator.state

    def initial_state(self) -> HarmonicState:
        S, K = self.max_notes, MAX_PARTIALS
        return HarmonicState(
            np.zeros((S, K)), np.zeros((S, K)), np.zeros((S, K)), np.zeros(S), np.zeros(S),
            np.zeros(S, bool), np.zeros((S, self.cfg.n_mels)), np.zeros(self.cfg.n_mels), np.zeros(self.hop_samples),
            np.random.default_rng(NOISE_SEED),
        )  # fmt: skip

    def reset_state(self, state: HarmonicState) -> None:
        """`state` back to `initial_state()`'s, in place (its noise generator too): nothing new is made."""
        arrays = (state.phase, state.amplitude, state.freq_hz, state.pitch, state.age, state.gains, state.noise)
        for array in (*arrays, state.noise_overlap):
            array.fill(0.0)
        state.active.fill(False)
        state.rng.bit_generator.state = self._rng_start

    def step(
        self,
        controls: VoiceControls,
        state: HarmonicState,
        out: np.ndarray | None = None,
        slot_gain: np.ndarray | None = None,
        released: np.ndarray | None = None,
    ) -> tuple[np.ndarray, HarmonicState]:
        """The controls of T frames (batch 1) -> (float32 (T * hop,), the state after them). Updates `state`;
        writes into `out` (float32 (T * hop,)) when given, else into a new array. `slot_gain` (T, S): each
        slot's partials scaled by it (the note's level curves, NeuralSynth's); None: as the controls say.
        `released` (T, S) bool: the slots whose note is released (NeuralSynth's); a released note only fades
        (`_release_only_fades`); None: no slot is."""
        T, hop, w = controls.active.shape[1], self.hop_samples, self._work
        w.fit_frames(T)
        # The controls into float64 arrays made once (float32 -> float64 is exact: the values of .double()).
        np.copyto(w.c_active[:T], controls.active[0].cpu().numpy())
        np.copyto(w.c_pitch[:T], controls.pitch_semitones[0].cpu().numpy())
        np.copyto(w.c_age[:T], controls.age[0].cpu().numpy())
        np.copyto(w.c_gains[:T], controls.harmonic_gain[0].cpu().numpy())  # (T, S, M)
        if slot_gain is not None:
            np.multiply(w.c_gains[:T], slot_gain[:T, :, None], out=w.c_gains[:T])
        np.copyto(w.c_stretch[:T], controls.stretch[0].cpu().numpy())
        np.copyto(w.c_noise[:T], controls.noise_magnitude[0].cpu().numpy())  # (T, M)
        if released is None:
            w.c_released[:T] = False
        else:
            np.copyto(w.c_released[:T], released[:T])
        if out is None:
            out = np.empty(T * hop, np.float32)
        for t in range(T):
            args = (w.c_active[t], w.c_pitch[t], w.c_age[t], w.c_gains[t], w.c_stretch[t], w.c_noise[t])
            self._frame(*args, w.c_released[t], state, out[t * hop : (t + 1) * hop])
        return out, state

    def _frame(
        self, active, pitch, age, gains, stretch, noise, released, state: HarmonicState, out: np.ndarray
    ) -> None:
        """One frame into float32 `out` (hop,), every step in `_work`'s arrays (the values as computed
        with new arrays: the same operations in the same order)."""
        sr, n, w = self.cfg.sample_rate, self.hop_samples, self._work
        # A slot whose note changed (it starts sounding, its pitch moved, its age dropped) starts from silence.
        new = w.new
        np.subtract(pitch, state.pitch, out=w.s_f)
        np.greater(np.abs(w.s_f, out=w.s_f), 0.5, out=new)
        np.subtract(state.age, 1e-6, out=w.s_f)
        np.logical_or(new, np.less(age, w.s_f, out=w.s_b), out=new)
        np.logical_or(new, np.logical_not(state.active, out=w.s_b), out=new)
        np.logical_and(new, active, out=new)
        # Per-slot rows by a loop over the S slots, and outer products by einsum (exact: one product each):
        # numpy's broadcasting makes iterator buffers.
        for i in range(new.shape[0]):
            if new[i]:
                state.amplitude[i] = 0.0
                state.phase[i] = 0.0
        self._release_only_fades(active, age, gains, noise, released, state)
        # freq = f0_hz * k * sqrt(1 + stretch * B * k^2), f0_hz = 440 * 2 ** ((pitch - 69) / 12)
        f0_hz = w.s_f
        np.multiply(
            440.0, np.power(2.0, np.divide(np.subtract(pitch, 69.0, out=f0_hz), 12.0, out=f0_hz), out=f0_hz), out=f0_hz
        )
        freq = w.freq
        np.einsum("s,k->sk", np.multiply(stretch, PIANO_B, out=w.s_f2), self._k2, out=freq)
        np.sqrt(np.add(1.0, freq, out=freq), out=freq)
        np.multiply(np.einsum("s,k->sk", f0_hz, self._k, out=w.f0k), freq, out=freq)
        audible = w.audible
        np.less(freq, self._top_hz, out=audible)
        np.logical_not(active, out=w.inactive)
        for i in range(active.shape[0]):
            if w.inactive[i]:
                audible[i] = False
                freq[i] = state.freq_hz[i]  # a stopping slot keeps its last frequencies
        amplitude = w.amplitude
        amplitude.fill(0.0)
        P = int(np.count_nonzero(audible))
        if P:
            w.fit_partials(P)
            flat = audible.reshape(-1)
            grid = np.compress(flat, freq.reshape(-1), out=w.p_f[0][:P])
            np.rint(np.divide(grid, FREQ_STEP_HZ, out=grid), out=grid)
            index = w.p_i[:P]
            np.copyto(index, grid, casting="unsafe")
            rows = np.take(self._weights, index, axis=0, out=w.rows[:P], mode="clip")  # (P, M)
            slots = np.compress(flat, w.slot_of.reshape(-1), out=w.p_slot[:P])
            slot_gains = np.take(gains, slots, axis=0, out=w.slot_gains[:P], mode="clip")  # (P, M)
            np.place(amplitude, audible, np.einsum("pm,pm->p", rows, slot_gains, out=w.p_f[1][:P]))
        floor = QUIET_RATIO * max(float(amplitude.max(initial=0.0)), float(state.amplitude.max(initial=0.0)))
        np.copyto(amplitude, 0.0, where=np.less(amplitude, floor, out=w.mask))  # 80 dB under the loudest: not played
        playing = w.playing
        np.logical_or(np.greater(amplitude, 0, out=playing), np.greater(state.amplitude, 0, out=w.mask), out=playing)
        P = int(np.count_nonzero(playing))
        sound = w.sound32
        if P:
            w.fit_partials(P)
            flat = playing.reshape(-1)
            a0 = np.compress(flat, state.amplitude.reshape(-1), out=w.p_f[0][:P])
            a1 = np.compress(flat, amplitude.reshape(-1), out=w.p_f[1][:P])
            step = np.compress(flat, freq.reshape(-1), out=w.p_f[2][:P])
            np.multiply(2 * np.pi / sr, step, out=step)  # (P,) radians per sample
            phase0 = np.compress(flat, state.phase.reshape(-1), out=w.p_f[3][:P])
            # phase = float32(phase0) + float32(outer(step, n)); its sines (P, n) float32
            phase = w.phase32[:P]
            np.copyto(phase, np.einsum("p,n->pn", step, self._n, out=w.outer[:P]), casting="same_kind")
            phase0_32 = w.p_32[:P]
            np.copyto(phase0_32, phase0, casting="same_kind")
            rows0 = np.einsum("p,n->pn", phase0_32, self._ones32, out=w.phase0_32[:P])  # (P, n): phase0 * 1
            sines = np.sin(np.add(rows0, phase, out=phase), out=phase)
            # the amplitude ramps linearly from a0 to a1: sum_p (a0 + (a1 - a0) r) sin = a0 @ S + r (a1 - a0) @ S
            a0_32, rise_32 = w.p_32[:P], w.p2_32[:P]
            np.copyto(a0_32, a0, casting="same_kind")
            np.copyto(rise_32, np.subtract(a1, a0, out=w.p_f[4][:P]), casting="same_kind")
            np.matmul(a0_32, sines, out=sound)
            ramped = np.multiply(self._ramp32, np.matmul(rise_32, sines, out=w.ramped32), out=w.ramped32)
            np.add(sound, ramped, out=sound)
            np.mod(np.add(phase0, np.multiply(step, n, out=step), out=phase0), 2 * np.pi, out=phase0)
            np.place(state.phase, playing, phase0)
        else:
            sound.fill(0.0)
        np.copyto(state.amplitude, amplitude)
        np.copyto(state.freq_hz, freq)
        np.copyto(state.pitch, pitch)
        np.copyto(state.pitch, 0.0, where=w.inactive)  # (S,) with (S,): no broadcast
        np.copyto(state.age, age)
        np.copyto(state.active, active)
        np.copyto(state.gains, gains)
        np.copyto(state.noise, noise)
        bins = np.matmul(noise, self._to_bins, out=w.bins)
        frame = self._shaped_noise(np.multiply(bins, self._noise_gain, out=bins), state.rng)
        # float32 sound + float64 overlap + the new frame's first half, in float64, played as float32
        np.add(np.add(sound, state.noise_overlap, out=w.sound64), frame[:n], out=w.sound64)
        np.copyto(out, w.sound64, casting="same_kind")
        np.copyto(state.noise_overlap, frame[n:])

    def _release_only_fades(self, active, age, gains, noise, released, state: HarmonicState) -> None:
        """After its note-off a note only fades: a released slot's band gains (S, M) are held at or under its
        last frame's, and while notes are released and none is in its attack (younger than ATTACK_S) the
        noise part's (M,) cannot rise either. The renderer's frames at a release dip and swell back
        (measured, clarinet: -3.4 dB, then +1.5 dB over the held level and the noise +9 dB for a frame),
        which a listener and a transcriber hear as a new onset; an instrument's release stage only decays.
        In place, on `gains` and `noise`; `new` (w.new) says which slots started a note this frame."""
        w = self._work
        fading = False
        for i in range(released.shape[0]):
            if released[i] and active[i] and not w.new[i]:
                np.minimum(gains[i], state.gains[i], out=gains[i])
                fading = True
        if fading and not np.any(np.logical_and(active, np.less(age, ATTACK_AGE_FEATURE, out=w.s_b), out=w.s_b)):
            np.minimum(noise, state.noise, out=noise)

    def _shaped_noise(self, magnitudes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """_shaped_noise's frame in `_work`'s arrays: the same draws from `rng`, the same samples."""
        w = self._work
        rng.standard_normal(out=w.normal_re)
        rng.standard_normal(out=w.normal_im)
        np.multiply(magnitudes, w.normal_re, out=w.spectrum.real)
        np.multiply(magnitudes, w.normal_im, out=w.spectrum.imag)
        np.fft.irfft(w.spectrum, n=2 * self.hop_samples, out=w.noise)
        return np.multiply(w.noise, self._window, out=w.noise)

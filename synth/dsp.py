"""DspSynth: the numpy synth, no weights, always there.

Every GM program gets a `synth.patches.Patch`; channel 10 gets the GM drum
kit. All voices of one synth are rendered together as (voices, frames)
arrays, so a block costs a fixed number of numpy calls, not a Python loop
over voices or samples.

Exactness: a voice is a set of absolute sample times (note-on, note-off,
steal) plus closed-form envelopes (`synth.envelope`), wavetable phases kept
per voice and layer across blocks, and noise read by age from fixed tables.
Events land on their frame offset, and cutting the same events into blocks
of 64 or 1024 frames gives the same samples (to float rounding).

Voices: at most `max_voices` sound at once. A note-on beyond that steals the
voice that is released the longest (else the oldest); the stolen voice fades
out over 5 ms to avoid a click, and is counted in `active_voices` until then.
"""

from __future__ import annotations

import math

import numpy as np

from synth.base import Synth
from synth.envelope import TAIL_TAUS, adsr, adsr_at, release_factor
from synth.patches import DRUM_CHOKES, Patch, drum_patch, program_patch
from synth.tables import NOISE_SIZE, TABLE_SIZE, harmonic_table, noise_bank, noise_index

VOICE_GAIN = 0.22  # one voice at full velocity peaks near this; the mixer and limiter do the rest
STEAL_FADE_S = 0.005
VIBRATO_RAMP_S = 0.3
DRUM_LAYERS = 3
NEVER = np.iinfo(np.int64).max // 4

_NOTE_ON, _NOTE_OFF, _CC, _BEND = range(4)


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


class DspSynth(Synth):
    """One GM instrument (or the drum kit) as a vectorized voice pool.

    Args:
        program: GM program 0-127 (ignored for drums).
        is_drum: the GM drum kit (MIDI channel 10): note numbers pick drums,
            note-offs are ignored, a closed hi-hat chokes the open one.
        sample_rate: output rate in Hz.
        max_voices: polyphony limit.
    """

    def __init__(self, program: int = 0, is_drum: bool = False, sample_rate: int = 48000, max_voices: int = 32) -> None:
        if not 1000 <= int(sample_rate) <= 384000:
            raise ValueError(f"sample_rate must be 1000..384000 Hz, not {sample_rate}")
        if max_voices < 1:
            raise ValueError(f"max_voices must be at least 1, not {max_voices}")
        self.sample_rate = int(sample_rate)
        self.program = int(program)
        self.is_drum = bool(is_drum)
        self.max_voices = int(max_voices)
        self.patch: Patch | None = None if is_drum else program_patch(self.program)
        self.n_layers = DRUM_LAYERS if is_drum else len(self.patch.layers)
        self._noise = noise_bank(self.sample_rate).reshape(-1)
        # Wavetable bank: row 0 is silence (unused layers); rows are added as pitches are first played.
        self._bank = np.zeros((8, TABLE_SIZE), dtype=np.float32)
        self._n_rows = 1
        self._rows: dict[tuple[int, int], int] = {}
        self._alloc_voices(2 * self.max_voices)  # room for the voices fading out after a steal
        self._events: list[tuple[int, int, int, float, float]] = []
        self._seq = 0
        self._notes_started = 0
        self._clock = 0  # samples rendered so far
        self._ramp = np.arange(0, dtype=np.int64)
        self._reset_controllers()

    # ---- the Synth interface -------------------------------------------------------------------------

    def note_on(self, pitch: int, velocity: int, frame_offset: int = 0) -> None:
        if velocity <= 0:
            self.note_off(pitch, frame_offset)
            return
        self._push(frame_offset, _NOTE_ON, pitch, min(int(velocity), 127))

    def note_off(self, pitch: int, frame_offset: int = 0) -> None:
        self._push(frame_offset, _NOTE_OFF, pitch, 0)

    def control_change(self, controller: int, value: int, frame_offset: int = 0) -> None:
        self._push(frame_offset, _CC, controller, value)

    def pitch_bend(self, semitones: float, frame_offset: int = 0) -> None:
        self._push(frame_offset, _BEND, float(semitones), 0)

    def reset(self) -> None:
        self._m = 0
        self._events.clear()
        self._reset_controllers()

    @property
    def active_voices(self) -> int:
        return self._m

    def render(self, n_frames: int) -> np.ndarray:
        n = int(n_frames)
        if n <= 0:
            return np.zeros(0, dtype=np.float32)
        if self._ramp.size < n + 1:
            self._ramp = np.arange(n + 1, dtype=np.int64)
        t0 = self._clock
        bend_segments, gain_segments = self._apply_events(n)
        out = (
            self._render_voices(t0, n, self._phase_increments(bend_segments, n)) if self._m else np.zeros(n, np.float32)
        )
        if gain_segments or self._gain != 1.0:
            out *= self._piecewise(gain_segments, self._gain_start, n, np.float32)
        self._gain_start = self._gain
        self._clock += n
        self._drop_finished()
        return out

    # ---- events --------------------------------------------------------------------------------------

    def _push(self, frame_offset: int, kind: int, a: float, b: float) -> None:
        self._events.append((max(int(frame_offset), 0), self._seq, kind, a, b))
        self._seq += 1

    def _apply_events(self, n: int) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """Apply this block's events in time order; later ones wait. Returns bend and gain changes."""
        if not self._events:
            return [], []
        self._events.sort()
        now_events = [e for e in self._events if e[0] < n]
        self._events = [(o - n, s, k, a, b) for o, s, k, a, b in self._events if o >= n]
        bends: list[tuple[int, float]] = []
        gains: list[tuple[int, float]] = []
        for offset, _, kind, a, b in now_events:
            now = self._clock + offset
            if kind == _NOTE_ON:
                self._start_voice(int(a), int(b), now)
            elif kind == _NOTE_OFF:
                self._key_up(int(a), now)
            elif kind == _BEND:
                self._bend_ratio = 2.0 ** (float(a) / 12.0)
                bends.append((offset, self._bend_ratio))
            else:
                self._controller(int(a), int(b), now)
                if int(a) in (7, 11):
                    gains.append((offset, self._gain))
        return bends, gains

    def _controller(self, controller: int, value: int, now: int) -> None:
        value = min(max(value, 0), 127)
        if controller == 64:
            down = value >= 64
            if self._pedal and not down:
                m = self._m
                for i in np.flatnonzero(self.sustained[:m] & (self.rel[:m] == NEVER)):
                    self._release(i, now)
                self.sustained[:m] = False
            self._pedal = down
        elif controller == 1:
            self._mod = value / 127.0
        elif controller == 7:
            self._volume = (value / 127.0) ** 2
        elif controller == 11:
            self._expression = (value / 127.0) ** 2
        elif controller == 120:  # all sound off
            for i in range(self._m):
                self._kill(i, now)
        elif controller == 121:  # reset all controllers
            self._mod, self._volume, self._expression, self._bend_ratio = 0.0, 1.0, 1.0, 1.0
            self._controller(64, 0, now)
        elif controller == 123:  # all notes off
            self._controller(64, 0, now)
            for i in np.flatnonzero(self.rel[: self._m] == NEVER):
                self._release(i, now)
        self._gain = self._volume * self._expression

    def _reset_controllers(self) -> None:
        self._pedal = False
        self._mod = 0.0
        self._volume = 1.0
        self._expression = 1.0
        self._gain = 1.0
        self._gain_start = 1.0
        self._bend_ratio = 1.0
        self._bend_start = 1.0

    # ---- voices --------------------------------------------------------------------------------------

    def _alloc_voices(self, capacity: int) -> None:
        g = self.n_layers
        self._m = 0
        self.pitch = np.zeros(capacity, np.int64)
        self.on = np.zeros(capacity, np.int64)
        self.rel = np.zeros(capacity, np.int64)
        self.kill = np.zeros(capacity, np.int64)
        self.end = np.zeros(capacity, np.int64)
        self.key_down = np.zeros(capacity, bool)
        self.sustained = np.zeros(capacity, bool)
        self.f0 = np.zeros(capacity, np.float64)  # cycles per sample
        self.phase = np.zeros((capacity, g), np.float64)  # cycles, per layer
        self.ratio = np.ones((capacity, g), np.float64)
        self.row = np.zeros((capacity, g), np.int64)  # offset of the layer's table in the flat bank
        self.attack = np.ones((capacity, g), np.float32)
        self.inv_decay = np.zeros((capacity, g), np.float32)
        self.sustain = np.zeros((capacity, g), np.float32)
        self.gain = np.zeros((capacity, g), np.float32)
        self.inv_release = np.ones(capacity, np.float32)
        self.noise_row = np.zeros(capacity, np.int64)
        self.noise_seed = np.zeros(capacity, np.int64)
        self.noise_gain = np.zeros(capacity, np.float32)
        self.noise_attack = np.ones(capacity, np.float32)
        self.noise_inv_decay = np.zeros(capacity, np.float32)
        self.noise_sustain = np.zeros(capacity, np.float32)
        self.vib_index = np.zeros(capacity, np.float32)  # phase-modulation depth in cycles
        self.vib_rate = np.zeros(capacity, np.float64)  # cycles per sample
        self.vib_delay = np.zeros(capacity, np.float32)
        self.sweep_index = np.zeros(capacity, np.float32)  # cycles gained by the pitch sweep
        self.sweep_inv = np.zeros(capacity, np.float32)
        self._fields = [v for v in vars(self).values() if isinstance(v, np.ndarray) and v.shape[:1] == (capacity,)]

    def _table_row(self, key: int, layer_index: int, amps: np.ndarray) -> int:
        """Offset in the flat bank of the table for (key, layer), built on first use."""
        row = self._rows.get((key, layer_index))
        if row is None:
            if self._n_rows == len(self._bank):
                self._bank = np.concatenate([self._bank, np.zeros_like(self._bank)])
            row = self._n_rows
            self._bank[row] = harmonic_table(amps)
            self._n_rows += 1
            self._rows[(key, layer_index)] = row
        return row * TABLE_SIZE

    def _free_slot(self, now: int) -> int:
        """Index for a new voice, stealing one if `max_voices` are sounding."""
        m = self._m
        live = np.flatnonzero(self.kill[:m] == NEVER)
        if live.size >= self.max_voices:
            # Released voices first, the longest released; then the oldest, quietest by its envelope.
            released = live[self.rel[live] <= now]
            if released.size:
                victim = released[np.argmin(self.rel[released])]
            else:
                oldest = live[self.on[live] == self.on[live].min()]
                levels = [
                    adsr_at(now - self.on[i], self.attack[i, 0], self.inv_decay[i, 0], self.sustain[i, 0])
                    for i in oldest
                ]
                victim = oldest[int(np.argmin(levels))]
            self._kill(int(victim), now)
        if m == len(self.on):  # too many fading voices: drop the one that started fading first
            self._remove(np.arange(m) != int(np.argmin(self.kill[:m])))
        self._m += 1
        return self._m - 1

    def _start_voice(self, pitch: int, velocity: int, now: int) -> None:
        patch = drum_patch(pitch) if self.is_drum else self.patch
        # A re-struck key damps its previous voice; a closed hi-hat chokes the open one.
        m = self._m
        same = (self.pitch[:m] == pitch) & (self.rel[:m] == NEVER)
        for other in DRUM_CHOKES.get(pitch, ()) if self.is_drum else ():
            same |= (self.pitch[:m] == other) & (self.rel[:m] == NEVER)
        for i in np.flatnonzero(same):
            self._release(i, now)
        i = self._free_slot(now)
        sr = self.sample_rate
        f0_hz = patch.fixed_hz if patch.fixed_hz is not None else midi_to_hz(pitch)
        vel = velocity / 127.0
        amp = VOICE_GAIN * patch.level * vel**patch.velocity_curve
        self.pitch[i], self.on[i], self.rel[i], self.kill[i] = pitch, now, NEVER, NEVER
        self.key_down[i], self.sustained[i] = True, False
        self.f0[i] = f0_hz / sr
        self.phase[i] = 0.0
        keytrack = f0_hz / 261.63
        ends = []
        for g in range(self.n_layers):
            if g >= len(patch.layers):
                self.row[i, g], self.gain[i, g], self.ratio[i, g] = 0, 0.0, 1.0
                self.attack[i, g], self.inv_decay[i, g], self.sustain[i, g] = 1.0, 0.0, 0.0
                continue
            layer = patch.layers[g]
            amps = layer.amplitudes(f0_hz, sr)
            norm = math.sqrt(float(np.sum(np.asarray(layer.harmonics) ** 2))) or 1.0
            self.row[i, g] = self._table_row(pitch, g, amps / norm)
            self.ratio[i, g] = layer.ratio
            self.gain[i, g] = amp * layer.gain * vel**layer.velocity_bright
            self.attack[i, g] = max(layer.attack_s * sr, 1.0)
            decay = layer.decay_s * sr * keytrack ** (-layer.decay_keytrack)
            self.inv_decay[i, g] = 1.0 / decay if decay > 0 else 0.0
            self.sustain[i, g] = layer.sustain
            if layer.gain > 0:
                ends.append(self.attack[i, g] + TAIL_TAUS * decay)
        noise = patch.noise
        if noise is not None and noise.gain > 0:
            self.noise_row[i] = noise_index(noise.kind) * NOISE_SIZE
            self.noise_seed[i] = (pitch * 7919 + self._notes_started * 104729) % NOISE_SIZE
            self.noise_gain[i] = amp * noise.gain
            self.noise_attack[i] = max(noise.attack_s * sr, 1.0)
            self.noise_inv_decay[i] = 1.0 / (noise.decay_s * sr) if noise.decay_s > 0 else 0.0
            self.noise_sustain[i] = noise.sustain
            ends.append(self.noise_attack[i] + TAIL_TAUS * noise.decay_s * sr)
        else:
            self.noise_gain[i] = 0.0
        self._notes_started += 1
        depth = patch.vibrato_depth + 0.01 * self._mod
        rate_hz = patch.vibrato_hz if patch.vibrato_depth > 0 else 5.5
        self.vib_rate[i] = rate_hz / sr
        self.vib_index[i] = self.f0[i] * depth / (2 * math.pi * self.vib_rate[i]) if depth > 0 else 0.0
        self.vib_delay[i] = (patch.vibrato_delay_s if patch.vibrato_depth > 0 else 0.0) * sr
        sweep_samples = patch.sweep_s * sr
        self.sweep_index[i] = self.f0[i] * patch.sweep * sweep_samples
        self.sweep_inv[i] = 1.0 / sweep_samples if sweep_samples > 0 else 0.0
        self.inv_release[i] = 1.0 / max(patch.release_s * sr, 1.0)
        # A patch that dies away on its own has a known end; a sustained one ends after its release.
        self.end[i] = now + math.ceil(max(ends)) + 1 if patch.percussive and ends else NEVER

    def _key_up(self, pitch: int, now: int) -> None:
        m = self._m
        for i in np.flatnonzero((self.pitch[:m] == pitch) & self.key_down[:m]):
            self.key_down[i] = False
            if self.is_drum:
                continue  # drums ring out
            if self._pedal:
                self.sustained[i] = True
            else:
                self._release(i, now)

    def _release(self, i: int, now: int) -> None:
        if self.rel[i] != NEVER:
            return
        self.rel[i] = now
        self.end[i] = min(self.end[i], now + math.ceil(TAIL_TAUS / self.inv_release[i]) + 1)

    def _kill(self, i: int, now: int) -> None:
        if self.kill[i] != NEVER:
            return
        self.kill[i] = now
        self.end[i] = min(self.end[i], now + math.ceil(STEAL_FADE_S * self.sample_rate))

    def _remove(self, keep: np.ndarray) -> None:
        """Compact the voice arrays to the voices where `keep` (bool, (m,)) is true."""
        m = self._m
        k = int(keep.sum())
        for field in self._fields:
            field[:k] = field[:m][keep]
        self._m = k

    def _drop_finished(self) -> None:
        m = self._m
        if m and (self.end[:m] <= self._clock).any():
            self._remove(self.end[:m] > self._clock)

    # ---- signal --------------------------------------------------------------------------------------

    @staticmethod
    def _piecewise(changes: list[tuple[int, float]], start_value: float, n: int, dtype) -> np.ndarray:
        """A curve of n values, `start_value` until each (offset, value) change."""
        curve = np.empty(n, dtype)
        value, last = start_value, 0
        for offset, new in changes:
            curve[last:offset] = value
            value, last = new, offset
        curve[last:] = value
        return curve

    def _phase_increments(self, bends: list[tuple[int, float]], n: int) -> np.ndarray:
        """Exclusive running sum of the pitch-bend ratio, float64 (n+1,): cycles per unit f0."""
        start = self._bend_start
        self._bend_start = self._bend_ratio
        if not bends:
            return self._ramp[: n + 1] * start
        cum = np.empty(n + 1, np.float64)
        cum[0] = 0.0
        np.cumsum(self._piecewise(bends, start, n, np.float64), out=cum[1:])
        return cum

    def _phase_modulation(self, age: np.ndarray, m: int) -> np.ndarray | None:
        """Vibrato and pitch sweeps as phase offsets in cycles, float32 (m, n), or None."""
        vib = self.vib_index[:m]
        sweep = self.sweep_index[:m]
        has_vib, has_sweep = bool(vib.any()), bool(sweep.any())
        if not (has_vib or has_sweep):
            return None
        pm = np.zeros(age.shape, np.float32)
        positive_age = np.maximum(age, 0.0)
        if has_vib:
            # index * ramp * (1 - cos(2 pi rate age)): FM vibrato of depth `vibrato_depth`, starting at 0.
            cycles = age * self.vib_rate[:m, None].astype(np.float32)
            cycles -= np.floor(cycles)
            wobble = np.cos(cycles * np.float32(2 * math.pi))
            np.subtract(1.0, wobble, out=wobble)
            ramp = (age - self.vib_delay[:m, None]) * np.float32(1.0 / (VIBRATO_RAMP_S * self.sample_rate))
            np.clip(ramp, 0.0, 1.0, out=ramp)
            wobble *= ramp
            wobble *= vib[:, None]
            pm += wobble
        if has_sweep:
            # f(t) = f0 (1 + sweep e^(-t/tau)) integrates to f0 sweep tau (1 - e^(-t/tau)).
            x = positive_age * -self.sweep_inv[:m, None]
            np.exp(x, out=x)
            np.subtract(1.0, x, out=x)
            x *= sweep[:, None]
            pm += x
        return pm

    def _render_voices(self, t0: int, n: int, cum: np.ndarray) -> np.ndarray:
        m = self._m
        ramp = self._ramp[:n]
        on = self.on[:m]
        age_i = (t0 - on)[:, None] + ramp  # (m, n) samples since note-on
        age = age_i.astype(np.float32)
        start = np.clip(on - t0, 0, n)  # where each voice's phase starts counting in this block
        cum_start = cum[start]
        dcum = cum[None, :n] - cum_start[:, None]  # (m, n) float64
        pm = self._phase_modulation(age, m)
        bank = self._bank.reshape(-1)
        total = np.zeros((m, n), np.float32)
        for g in range(self.n_layers):
            gain = self.gain[:m, g]
            if not gain.any():
                continue
            inc = self.f0[:m] * self.ratio[:m, g]
            theta = dcum * inc[:, None]
            theta += self.phase[:m, g, None]
            if pm is not None:
                theta += pm * self.ratio[:m, g, None]
            theta *= TABLE_SIZE
            idx = theta.astype(np.int64)
            idx &= TABLE_SIZE - 1
            idx += self.row[:m, g, None]
            wave = bank.take(idx)
            wave *= gain[:, None]
            wave *= adsr(age, self.attack[:m, g], self.inv_decay[:m, g], self.sustain[:m, g])
            total += wave
            self.phase[:m, g] = (self.phase[:m, g] + inc * (cum[n] - cum_start)) % 1.0
        noisy = np.flatnonzero(self.noise_gain[:m])
        if noisy.size:
            idx = age_i[noisy] + self.noise_seed[noisy, None]
            idx &= NOISE_SIZE - 1
            idx += self.noise_row[noisy, None]
            noise = self._noise.take(idx)
            noise *= self.noise_gain[noisy, None]
            noise *= adsr(age[noisy], self.noise_attack[noisy], self.noise_inv_decay[noisy], self.noise_sustain[noisy])
            total[noisy] += noise
        released = np.flatnonzero(self.rel[:m] < t0 + n)
        if released.size:
            since = ((t0 - self.rel[released])[:, None] + ramp).astype(np.float32)
            total[released] *= release_factor(since, self.inv_release[released])
        killed = np.flatnonzero(self.kill[:m] < t0 + n)
        if killed.size:
            fade = ((t0 - self.kill[killed])[:, None] + ramp).astype(np.float32)
            fade *= np.float32(-1.0 / (STEAL_FADE_S * self.sample_rate))
            fade += 1.0
            np.clip(fade, 0.0, 1.0, out=fade)
            total[killed] *= fade
        return total.sum(axis=0)

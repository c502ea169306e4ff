"""DspSynth: the numpy synth, no weights, always there.

Every GM program gets a `synth.instruments.dsp.patches.Patch`; channel 10 gets the GM drum
kit. All voices of one synth are rendered together as (voices, parts,
frames) arrays, so a block costs a fixed number of numpy calls, never a
Python loop over voices or samples.

How a block is made:
- A voice is absolute sample times (note-on, note-off, steal) and constants.
  Its phase is f0 * (B(t) - B(note-on)) plus vibrato or a pitch sweep, where
  B is the synth's running sum of the pitch-bend ratio; its envelopes are
  closed forms of its age (`synth.instruments.dsp.envelope`). No per-voice signal state is
  carried from block to block.
- Phases and envelopes are evaluated on a control grid every CONTROL_FRAMES
  samples of absolute time and interpolated linearly in between (both are
  smooth, the error is far below -80 dB). The grid does not move with the
  block boundaries, so blocks of 64 or 1024 frames give the same samples.
  What must be exact to the sample is applied per sample: the start of a
  note, the start of its release, a steal's fade, the end of its tail.
- A part reads a single-cycle wavetable (`synth.instruments.dsp.tables`) or, for noise, a
  long filtered-noise table by the voice's age. Both live in one flat bank,
  so all parts of all voices are one `take`.

Voices: at most `max_voices` sound at once. A note-on beyond that steals the
voice that is released the longest (else the oldest and quietest); the
stolen voice fades out over 5 ms to avoid a click and is counted in
`active_voices` until then.

The per-block signal code (phases, envelopes, table reads) is `synth.instruments.dsp.kernels`,
a mixin of DspSynth; the voices, events and controllers are here.
"""

from __future__ import annotations

import math

import numpy as np

from synth.base import Synth
from synth.instruments.dsp.envelope import TAIL_TAUS, level_at, levels, shape  # noqa: F401  (levels re-exported)
from synth.instruments.dsp.kernels import (  # noqa: F401  (re-exported: imported from here)
    _MAGIC,
    CONTROL_FRAMES,
    NEVER,
    STEAL_FADE_S,
    VIBRATO_RAMP_S,
    SignalKernels,
)
from synth.instruments.dsp.patches import DRUM_CHOKES, REFERENCE_HZ, Patch, drum_patch, program_patch
from synth.instruments.dsp.tables import NOISE_KINDS, NOISE_SIZE, TABLE_SIZE, harmonic_table, noise_bank, noise_index

VOICE_GAIN = 0.22  # one voice at full velocity peaks near this; the mixer and limiter do the rest
DRUM_LAYERS = 2
MAX_TEMPLATES = 4096  # voice templates kept per synth: (pitch, velocity, mod wheel) played

_NOTE_ON, _NOTE_OFF, _CC, _BEND = range(4)
_NONE: list = []  # no bends, no gain changes in this block (never appended to)


def midi_to_hz(pitch: float) -> float:
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


class DspSynth(Synth, SignalKernels):
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
        if not is_drum and not 0 <= int(program) < 128:
            raise ValueError(f"GM program must be 0-127, not {program}")
        self.sample_rate = int(sample_rate)
        self.program = int(program)
        self.is_drum = bool(is_drum)
        self.max_voices = int(max_voices)
        self.patch: Patch | None = None if is_drum else program_patch(self.program)
        self.n_layers = DRUM_LAYERS if is_drum else len(self.patch.layers)
        self.has_noise = is_drum or self.patch.noise is not None
        self.n_parts = self.n_layers + self.has_noise  # the noise, if any, is the last part
        # One flat bank: the noise tables this synth can use, silence, then wavetables as pitches are played.
        kinds = NOISE_KINDS if is_drum else ((self.patch.noise.kind,) if self.has_noise else ())
        noise = noise_bank(self.sample_rate)
        self._noise_rows = {kind: i * NOISE_SIZE for i, kind in enumerate(kinds)}
        silence = NOISE_SIZE if self.has_noise else TABLE_SIZE  # noise is read that far
        self._silence_row = len(kinds) * NOISE_SIZE
        self._bank_used = self._silence_row + silence
        self._bank = np.concatenate(
            [noise[noise_index(k)] for k in kinds] + [np.zeros(silence + 8 * TABLE_SIZE, np.float32)]
        )
        self._rows: dict[tuple[int, int], int] = {}
        self._templates: dict[tuple[int, int, float], tuple] = {}
        self._alloc_voices(2 * self.max_voices)  # room for the voices fading out after a steal
        self._events: list[tuple[int, int, int, float, float]] = []
        self._seq = 0
        self._notes_started = 0
        self._clock = 0  # samples rendered so far
        self._bend_cycles = 0.0  # B(clock): running sum of the bend ratio
        self._ramp = np.arange(0, dtype=np.int32)
        self._ramp_f = np.arange(0, dtype=np.float32)
        # (start, slope) of a segment times this gives its CONTROL_FRAMES samples.
        self._grid_weights = np.stack([np.ones(CONTROL_FRAMES), np.arange(CONTROL_FRAMES) / CONTROL_FRAMES]).astype(
            np.float32
        )
        self._grid_offsets: dict[tuple[int, int], np.ndarray] = {}
        self._ws: dict[str, np.ndarray] = {}  # scratch kept between blocks (see _work)
        self._rows_all = np.arange(0, dtype=np.int64)
        self._reset_controllers()

    # ---- the Synth interface -------------------------------------------------------------------------

    def note_on(self, pitch: int, velocity: int, frame_offset: int = 0) -> None:
        if velocity <= 0:
            self.note_off(pitch, frame_offset)
            return
        self._push(frame_offset, _NOTE_ON, min(max(int(pitch), 0), 127), min(int(velocity), 127))

    def note_off(self, pitch: int, frame_offset: int = 0) -> None:
        self._push(frame_offset, _NOTE_OFF, int(pitch), 0)

    def control_change(self, controller: int, value: int, frame_offset: int = 0) -> None:
        self._push(frame_offset, _CC, int(controller), int(value))

    def pitch_bend(self, semitones: float, frame_offset: int = 0) -> None:
        if not math.isfinite(semitones):
            raise ValueError(f"pitch bend must be a finite number of semitones, not {semitones}")
        self._push(frame_offset, _BEND, float(semitones), 0)

    def reset(self) -> None:
        self._m = 0
        self._events.clear()
        self._reset_controllers()
        self._refresh_bounds()

    @property
    def active_voices(self) -> int:
        return self._m

    @property
    def fading_voices(self) -> int:
        """Voices stolen and fading out (counted in active_voices, not against max_voices)."""
        return int((self.kill[: self._m] < NEVER).sum())

    def render(self, n_frames: int) -> np.ndarray:
        n = int(n_frames)
        out = np.zeros(max(n, 0), dtype=np.float32)
        if n > 0:
            self.render_into(out)
        return out

    def render_into(self, out: np.ndarray) -> None:
        """The next len(out) samples into float32 `out` (n,); no sample memory is made in steady state."""
        n = out.shape[0]
        if n <= 0:
            return
        t0 = self._clock
        bends, gains = self._apply_events(n) if self._events else (_NONE, _NONE)
        if self._m:
            self._render_voices(t0, n, bends, out)
        else:
            out.fill(0.0)
        self._bend_cycles = self._bend_at(bends, n)
        self._bend_start = self._bend_ratio
        if gains or self._gain != 1.0:
            curve = self._work("gain_curve", (n,), np.float32)
            self._piecewise_into(curve, gains, self._gain_start)
            out *= curve
        self._gain_start = self._gain
        self._clock += n
        if self._m and self._next_end <= self._clock:
            self._remove(self.end[: self._m] > self._clock)

    # ---- events --------------------------------------------------------------------------------------

    def _push(self, frame_offset: int, kind: int, a: float, b: float) -> None:
        self._events.append((max(int(frame_offset), 0), self._seq, kind, a, b))
        self._seq += 1

    def _apply_events(self, n: int) -> tuple[list[tuple[int, float]], list[tuple[int, float]]]:
        """Apply this block's events in time order (later ones wait). Returns bend and gain changes."""
        self._events.sort()
        now_events = [e for e in self._events if e[0] < n]
        self._events = [(o - n, s, k, a, b) for o, s, k, a, b in self._events if o >= n]
        bends: list[tuple[int, float]] = []
        gains: list[tuple[int, float]] = []
        for offset, _, kind, a, b in now_events:
            now = self._clock + offset
            if kind == _NOTE_ON:
                self._start_voice(int(a), int(b), now, self._bend_at(bends, offset))
            elif kind == _NOTE_OFF:
                self._key_up(int(a), now)
            elif kind == _BEND:
                self._bend_ratio = 2.0 ** (float(a) / 12.0)
                bends.append((offset, self._bend_ratio))
            else:
                self._controller(int(a), int(b), now)
                if int(a) in (7, 11, 121):
                    gains.append((offset, self._gain))
        return bends, gains

    def _bend_at(self, bends: list[tuple[int, float]], offset: float) -> float:
        """B at `offset` frames into this block, from B at its start and the bends before `offset`."""
        cycles, ratio, last = self._bend_cycles, self._bend_start, 0
        for at, new in bends:
            if at >= offset:
                break
            cycles += ratio * (at - last)
            ratio, last = new, at
        return cycles + ratio * (offset - last)

    def _controller(self, controller: int, value: int, now: int) -> None:
        value = min(max(value, 0), 127)
        if controller == 64:
            down = value >= 64
            if self._pedal and not down:
                m = self._m
                for i in np.flatnonzero(self.sustained[:m]):
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
            self._mod, self._volume, self._expression = 0.0, 1.0, 1.0
            self._controller(64, 0, now)
        elif controller == 123:  # all notes off
            self._controller(64, 0, now)
            for i in np.flatnonzero(self.key_down[: self._m]):
                self.key_down[i] = False
                if not self.is_drum:
                    self._release(i, now)
        self._gain = self._volume * self._expression

    def _reset_controllers(self) -> None:
        self._pedal = False
        self._mod = 0.0
        self._volume = self._expression = self._gain = self._gain_start = 1.0
        self._bend_ratio = self._bend_start = 1.0

    # ---- voices --------------------------------------------------------------------------------------

    def _alloc_voices(self, capacity: int) -> None:
        """The voice arrays. Each is a view of one of four packed arrays (one per dtype), so dropping
        voices (`_remove`) is four copies and a new voice's constants are one row (`_start_voice`)."""
        k = self.n_parts
        self._m = 0
        ints = ["pitch", "on", "rel", "kill", "end", "last_event", "attack_end", "noise_start"]
        # end: silent from here on, the voice is dropped; last_event: the latest of note-on, release,
        # steal; attack_end: every part's attack is over; noise_start: noise table position at sample 0.
        scalars = ["f0", "bend_on", "rel_age", "inv_release", "vib_index", "vib_rate", "vib_delay"]
        scalars += ["sweep_index", "sweep_inv"]
        # f0: cycles per sample; bend_on: B at note-on; rel_age: samples from note-on to release (or
        # NEVER); vib_index: phase-modulation depth, cycles; vib_rate: radians per sample;
        # sweep_index: cycles gained by the pitch sweep.
        per_part = ["ratio_n", "attack", "inv_decay", "neg_inv_decay", "env_a", "env_b", "log_a_hold"]
        # ratio_n: layer frequency ratio * TABLE_SIZE (noise: 0); attack: samples;
        # log_a_hold: log(a) + attack * inv_decay.
        self._ints = np.zeros((capacity, len(ints)), np.int64)
        self._floats = np.zeros((capacity, len(scalars) + k * len(per_part)), np.float64)
        self._flags = np.zeros((capacity, 2), bool)
        self.row = np.zeros((capacity, k), np.int32)  # offset of each part's table in the bank
        for j, name in enumerate(ints):
            setattr(self, name, self._ints[:, j])
        for j, name in enumerate(scalars):
            setattr(self, name, self._floats[:, j])
        for j, name in enumerate(per_part):
            at = len(scalars) + j * k
            setattr(self, name, self._floats[:, at : at + k])
        self.key_down, self.sustained = self._flags[:, 0], self._flags[:, 1]
        self.attack[:] = 1.0
        self.inv_release[:] = 1.0
        self._fields = [self._ints, self._floats, self._flags, self.row]
        self._refresh_bounds()

    def _refresh_bounds(self) -> None:
        """Python-side summaries of the voices, so a quiet block skips work without asking numpy."""
        m = self._m
        self._attack_until = int(self.attack_end[:m].max()) if m else 0
        self._exact_until = int(self.last_event[:m].max()) if m else 0
        self._next_end = int(self.end[:m].min()) if m else NEVER
        self._any_released = bool(m) and bool((self.rel[:m] < NEVER).any())
        self._any_killed = bool(m) and bool((self.kill[:m] < NEVER).any())
        self._has_vibrato = bool(m) and bool(self.vib_index[:m].any())
        self._has_sweep = bool(m) and bool(self.sweep_index[:m].any())
        self._floored = bool(m) and bool((self.env_b[:m] < 0).any())

    def _table_row(self, key: int, layer_index: int, layer, f0_hz: float) -> int:
        """Offset in the bank of the wavetable for (key, layer), built on first use."""
        row = self._rows.get((key, layer_index))
        if row is None:
            raw = np.asarray(layer.harmonics, dtype=np.float64)
            amps = layer.amplitudes(f0_hz, self.sample_rate) / (math.sqrt(float(np.sum(raw**2))) or 1.0)
            if self._bank_used + TABLE_SIZE > self._bank.size:
                self._bank = np.concatenate([self._bank, np.zeros(self._bank.size, np.float32)])
            row = self._bank_used
            self._bank[row : row + TABLE_SIZE] = harmonic_table(amps)
            self._bank_used += TABLE_SIZE
            self._rows[(key, layer_index)] = row
        return row

    def _free_slot(self, now: int) -> int:
        """Index for a new voice, stealing one if `max_voices` are sounding."""
        m = self._m
        live = np.flatnonzero(self.kill[:m] == NEVER) if m >= self.max_voices else ()
        if len(live) >= self.max_voices:
            # Released voices first, the longest released; then the oldest, the quietest of those.
            released = live[self.rel[live] <= now]
            if released.size:
                victim = released[np.argmin(self.rel[released])]
            else:
                oldest = live[self.on[live] == self.on[live].min()]
                loudness = [
                    level_at(
                        now - self.on[i], self.attack[i, 0], self.inv_decay[i, 0], self.env_a[i, 0], self.env_b[i, 0]
                    )
                    for i in oldest
                ]
                victim = oldest[int(np.argmin(loudness))]
            self._kill(int(victim), now)
        if m == len(self.on):  # too many fading voices: drop the one that started fading first
            self._remove(np.arange(m) != int(np.argmin(self.kill[:m])))
        self._m += 1
        return self._m - 1

    def _start_voice(self, pitch: int, velocity: int, now: int, bend_cycles: float) -> None:
        patch = drum_patch(pitch) if self.is_drum else self.patch
        # A re-struck key damps its previous voice; a closed hi-hat chokes the open one.
        m = self._m
        same = (self.pitch[:m] == pitch) & (self.rel[:m] == NEVER)
        for other in DRUM_CHOKES.get(pitch, ()) if self.is_drum else ():
            same |= (self.pitch[:m] == other) & (self.rel[:m] == NEVER)
        for i in np.flatnonzero(same):
            self._release(i, now)
        i = self._free_slot(now)
        # What a voice is made of depends only on (pitch, velocity, mod wheel): made once, then copied.
        key = (pitch, velocity, self._mod)
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) >= MAX_TEMPLATES:
                self._templates.clear()
            template = self._templates[key] = self._make_voice(i, patch, pitch, velocity)
        else:
            self._floats[i], self.row[i] = template[0], template[1]
        _, _, end_after, attack_after, vibrato, sweep, floored = template
        self.pitch[i], self.on[i], self.rel[i], self.kill[i] = pitch, now, NEVER, NEVER
        self.last_event[i], self.attack_end[i] = now, now + attack_after
        self.end[i] = NEVER if end_after is None else now + end_after
        self.noise_start[i] = (pitch * 7919 + self._notes_started * 104729) % NOISE_SIZE - now
        self.key_down[i], self.sustained[i] = True, False
        self.bend_on[i] = bend_cycles
        self._notes_started += 1
        self._attack_until = max(self._attack_until, now + attack_after)
        self._exact_until = max(self._exact_until, now)
        if end_after is not None:
            self._next_end = min(self._next_end, now + end_after)
        self._has_vibrato = self._has_vibrato or vibrato
        self._has_sweep = self._has_sweep or sweep
        self._floored = self._floored or floored

    def _make_voice(self, i: int, patch: Patch, pitch: int, velocity: int) -> tuple:
        """Write the constants of a (pitch, velocity) voice into slot `i` and return them as a template:
        (float row, table rows, samples until silent on its own or None, samples of attack, has
        vibrato, has a sweep, has a floored part)."""
        sr = self.sample_rate
        f0_hz = patch.fixed_hz if patch.fixed_hz is not None else midi_to_hz(pitch)
        vel = velocity / 127.0
        amp = VOICE_GAIN * patch.level * vel**patch.velocity_curve
        self.rel_age[i] = NEVER
        self.f0[i] = f0_hz / sr
        keytrack = f0_hz / REFERENCE_HZ
        ends = []  # when each part that dies away on its own is silent, samples after note-on
        parts = [(layer.gain * vel**layer.velocity_bright, layer) for layer in patch.layers]
        for g in range(self.n_layers):
            gain, layer = parts[g] if g < len(parts) else (0.0, None)
            if layer is None or gain == 0.0:
                self.row[i, g], self.ratio_n[i, g] = self._silence_row, TABLE_SIZE
                self._set_envelope(i, g, 0.0, 1.0, 0.0, 1.0)
                continue
            self.row[i, g] = self._table_row(pitch, g, layer, f0_hz)
            self.ratio_n[i, g] = layer.ratio * TABLE_SIZE
            decay = layer.decay_s * sr * keytrack ** (-layer.decay_keytrack)
            ends.append(self._set_envelope(i, g, amp * gain, layer.attack_s * sr, decay, layer.sustain))
        if self.has_noise:
            noise = patch.noise
            if noise is None or noise.gain == 0.0:
                self.row[i, -1] = self._silence_row
                self._set_envelope(i, -1, 0.0, 1.0, 0.0, 1.0)
            else:
                self.row[i, -1] = self._noise_rows[noise.kind]
                decay = noise.decay_s * sr
                ends.append(self._set_envelope(i, -1, amp * noise.gain, noise.attack_s * sr, decay, noise.sustain))
        depth = patch.vibrato_depth + 0.01 * self._mod
        rate_hz = patch.vibrato_hz if patch.vibrato_depth > 0 else 5.5
        self.vib_rate[i] = 2 * math.pi * rate_hz / sr
        self.vib_index[i] = f0_hz * depth / rate_hz / (2 * math.pi)
        self.vib_delay[i] = (patch.vibrato_delay_s if patch.vibrato_depth > 0 else 0.0) * sr
        sweep_samples = patch.sweep_s * sr
        self.sweep_index[i] = self.f0[i] * patch.sweep * sweep_samples
        self.sweep_inv[i] = 1.0 / sweep_samples if sweep_samples > 0 else 0.0
        self.inv_release[i] = 1.0 / max(patch.release_s * sr, 1.0)
        # A patch that dies away on its own has a known end; a sustained one ends after its release.
        silent_after = max(ends, default=math.inf)
        return (
            self._floats[i].copy(),
            self.row[i].copy(),
            None if math.isinf(silent_after) else math.ceil(silent_after),
            math.ceil(self.attack[i].max()),
            bool(self.vib_index[i] > 0),
            bool(self.sweep_index[i] != 0),
            bool(self.env_b[i].min() < 0),
        )

    def _set_envelope(self, i: int, part: int, gain: float, attack: float, decay: float, sustain: float) -> float:
        """Store one part's envelope; returns samples until it is silent on its own (inf if it sustains)."""
        attack = max(attack, 1.0)
        inv_decay = 1.0 / decay if decay > 0 else 0.0
        a, b = shape(gain, sustain)
        self.attack[i, part] = attack
        self.inv_decay[i, part], self.neg_inv_decay[i, part] = inv_decay, -inv_decay
        self.env_a[i, part], self.env_b[i, part] = a, b
        self.log_a_hold[i, part] = (math.log(a) if a > 0 else -math.inf) + attack * inv_decay
        if gain == 0.0:
            return 0.0
        # A sustain-0 part is zero from the grid point after its floored decay reaches zero.
        return attack + TAIL_TAUS * decay + CONTROL_FRAMES if sustain == 0.0 and decay > 0 else math.inf

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
        self.rel[i] = self.last_event[i] = now
        self.rel_age[i] = now - self.on[i]
        # The release is exp(-t / tau): below -60 dB after TAIL_TAUS time constants, where the voice is cut.
        self.end[i] = min(self.end[i], now + math.ceil(TAIL_TAUS / self.inv_release[i]))
        self._note_event(i, now)
        self._any_released = True

    def _kill(self, i: int, now: int) -> None:
        if self.kill[i] != NEVER:
            return
        self.kill[i] = self.last_event[i] = now
        self.end[i] = min(self.end[i], now + math.ceil(STEAL_FADE_S * self.sample_rate))
        self._note_event(i, now)
        self._any_killed = True

    def _note_event(self, i: int, now: int) -> None:
        self._exact_until = max(self._exact_until, now)
        self._next_end = min(self._next_end, int(self.end[i]))

    def _remove(self, keep: np.ndarray) -> None:
        """Compact the voice arrays to the voices where `keep` (bool, (m,)) is true."""
        m = self._m
        k = int(keep.sum())
        for field in self._fields:
            field[:k] = field[:m][keep]
        self._m = k
        self._refresh_bounds()

    # ---- preparing ahead -----------------------------------------------------------------------------

    def prepare(self, pitches=range(128)) -> None:
        """Build the wavetables of these pitches now, so a note's first block does not (call it before the
        synth plays: it is not safe while another thread renders it). All 128 cost 10-35 ms and 2-9 MB."""
        for pitch in pitches:
            patch = drum_patch(pitch) if self.is_drum else self.patch
            f0_hz = patch.fixed_hz if patch.fixed_hz is not None else midi_to_hz(pitch)
            for g, layer in enumerate(patch.layers[: self.n_layers]):
                if layer.gain != 0.0:
                    self._table_row(pitch, g, layer, f0_hz)

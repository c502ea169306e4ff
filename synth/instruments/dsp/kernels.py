"""The signal kernels of DspSynth: all voices' phases, envelopes and table reads for one block.

A mixin of `synth.instruments.dsp.dsp.DspSynth` (see its module docstring for how a block is made): it
reads the voice arrays the synth keeps and writes the block; it keeps no state of its own beyond the
scratch buffers of `_work`.
"""

from __future__ import annotations

import math

import numpy as np

from synth.instruments.dsp.envelope import levels
from synth.instruments.dsp.tables import NOISE_SIZE, TABLE_SIZE

STEAL_FADE_S = 0.005
VIBRATO_RAMP_S = 0.3
CONTROL_FRAMES = 16  # the control grid's step, samples
NEVER = np.iinfo(np.int64).max // 4
# Adding 1.5 * 2**23 to a float32 in [0, 2**22) leaves round(x) in the low bits of its int32 view.
_MAGIC = 1.5 * 2**23


class SignalKernels:
    """The per-block signal code of DspSynth, over its (voices, parts, frames) arrays."""

    def _work(self, name: str, shape: tuple, dtype=np.float64) -> np.ndarray:
        """A scratch array of `shape` for this block, from a buffer kept between blocks.

        Memory is made only when a block needs more than any before (more voices, longer blocks);
        in steady state a block allocates no sample memory. Each name is used once per block.
        """
        size = math.prod(shape)
        buf = self._ws.get(name)
        if buf is None or buf.size < size:
            buf = self._ws[name] = np.empty(max(size, 2 * (buf.size if buf is not None else 0)), dtype)
        return buf[:size].reshape(shape)

    def _piecewise_into(self, curve: np.ndarray, changes: list[tuple[int, float]], start_value: float) -> None:
        """Fill float32 `curve` with `start_value` until each (offset, value) change."""
        value, last = start_value, 0
        for offset, new in changes:
            curve[last:offset] = value
            value, last = new, offset
        curve[last:] = value

    @staticmethod
    def _piecewise(changes: list[tuple[int, float]], start_value: float, n: int) -> np.ndarray:
        """A float32 curve of n values, `start_value` until each (offset, value) change."""
        curve = np.empty(n, np.float32)
        value, last = start_value, 0
        for offset, new in changes:
            curve[last:offset] = value
            value, last = new, offset
        curve[last:] = value
        return curve

    def _offsets(self, lead: int, segments: int) -> np.ndarray:
        """Grid points as frame offsets from the block start: -lead, -lead + cf, ... (float64, cached)."""
        offsets = self._grid_offsets.get((lead, segments))
        if offsets is None:
            cf = CONTROL_FRAMES
            offsets = np.arange(-lead, segments * cf - lead + 1, cf, dtype=np.float64)
            offsets.flags.writeable = False
            if len(self._grid_offsets) > 256:
                self._grid_offsets.clear()
            self._grid_offsets[(lead, segments)] = offsets
        return offsets

    def _grid_bend(self, offsets: np.ndarray, bends: list[tuple[int, float]]) -> np.ndarray:
        """B at grid points given as frame offsets from the block start (may be < 0 or > n)."""
        cycles = self._bend_cycles + self._bend_start * offsets
        for at, ratio in bends:
            later = offsets > at
            cycles[later] = self._bend_at(bends, at) + ratio * (offsets[later] - at)
        return cycles

    def _phase_modulation(self, age: np.ndarray, m: int, pm: np.ndarray) -> None:
        """Add vibrato and pitch sweep as phase offsets in cycles at the grid to `pm`, float64 (m, T)."""
        if self._has_vibrato:
            # index * ramp * (1 - cos(rate * age)): FM vibrato of the patch's depth, starting from 0.
            wobble = self._work("wobble", age.shape)
            np.multiply(age, self.vib_rate[:m, None], out=wobble)
            np.cos(wobble, out=wobble)
            np.subtract(1.0, wobble, out=wobble)
            ramp = self._work("vib_ramp", age.shape)
            np.subtract(age, self.vib_delay[:m, None], out=ramp)
            ramp *= 1.0 / (VIBRATO_RAMP_S * self.sample_rate)
            np.clip(ramp, 0.0, 1.0, out=ramp)
            wobble *= ramp
            wobble *= self.vib_index[:m, None]
            pm += wobble
        if self._has_sweep:
            # f(t) = f0 (1 + sweep e^(-t/tau)) integrates to f0 sweep tau (1 - e^(-t/tau)).
            x = self._work("sweep", age.shape)
            np.maximum(age, 0.0, out=x)
            x *= -self.sweep_inv[:m, None]
            np.exp(x, out=x)
            np.subtract(1.0, x, out=x)
            x *= self.sweep_index[:m, None]
            pm += x

    def _grid_levels(self, age: np.ndarray, m: int, grid_start: int) -> np.ndarray:
        """Every part's envelope at the grid, float64 (m, k, T), with the releases and steal fades
        that began at or before the grid's first point (later ones are applied per sample)."""
        k, t = self.n_parts, age.shape[1]
        env = self._work("env", (m, k, t))
        if grid_start >= self._attack_until:  # no attack anywhere: level = max(a e^(hold - age/tau) + b, 0)
            np.multiply(age[:, None, :], self.neg_inv_decay[:m, :, None], out=env)
            env += self.log_a_hold[:m, :, None]
            np.exp(env, out=env)
            env += self.env_b[:m, :, None]
            if self._floored:
                np.maximum(env, 0.0, out=env)
        else:
            levels(
                age, self.attack[:m], self.inv_decay[:m], self.env_a[:m], self.env_b[:m],
                out=env, scratch=self._work("rise", (m, k, t)),
            )  # fmt: skip
        if self._any_released:
            rel_age = self.rel_age[:m]
            if self._exact_until > grid_start:
                masked = self._work("rel_age", (m,))
                np.copyto(masked, rel_age)
                masked[self.rel[:m] > grid_start] = NEVER
                rel_age = masked
            released = self._work("released", (m, t))
            np.subtract(rel_age[:, None], age, out=released)
            released *= self.inv_release[:m, None]
            np.minimum(released, 0.0, out=released)
            np.exp(released, out=released)
            env *= released[:, None, :]
        if self._any_killed:
            kill = self.kill[:m]
            since = self._work("kill_age", (m,))
            np.subtract(kill, self.on[:m], out=since, casting="unsafe")
            fade = self._work("fade", (m, t))
            np.subtract(age, since[:, None], out=fade)
            fade *= -1.0 / (STEAL_FADE_S * self.sample_rate)
            fade += 1.0
            fade[kill > grid_start] = 1.0
            np.clip(fade, 0.0, 1.0, out=fade)
            env *= fade[:, None, :]
        return env

    def _apply_exact(self, wave: np.ndarray, live: np.ndarray, voices: np.ndarray, window_start: int) -> None:
        """Apply, per sample and in place, what the grid leaves out for `voices` over the window:
        the gate at note-on, a release or steal fade that starts inside it, the cut at the end.

        wave: float32 (len(live), size), the rows `live` (flat voice * n_parts + part, sorted).
        A Python loop over these few voices, each a handful of slice operations.
        """
        k, size = self.n_parts, wave.shape[1]
        bounds = np.searchsorted(live, np.concatenate([voices * k, voices * k + k])).tolist()
        n_voices = len(voices)
        fade_rate = np.float32(-1.0 / (STEAL_FADE_S * self.sample_rate))
        for j, (on, end, rel, kill, inv_release) in enumerate(
            zip(
                (self.on[voices] - window_start).tolist(),
                (self.end[voices] - window_start).tolist(),
                self.rel[voices].tolist(),
                self.kill[voices].tolist(),
                self.inv_release[voices].tolist(),
                strict=True,
            )
        ):
            rows = wave[bounds[j] : bounds[n_voices + j]]
            if not len(rows):
                continue
            if on > 0:
                rows[:, :on] = 0.0
            if end < size:
                rows[:, max(end, 0) :] = 0.0
            if window_start < rel < NEVER and rel - window_start < min(end, size):
                tail = rows[:, rel - window_start : end]
                since = self._ramp_f[: tail.shape[1]] * np.float32(-inv_release)
                tail *= np.exp(since, out=since)
            if window_start < kill < NEVER and kill - window_start < min(end, size):
                tail = rows[:, kill - window_start : end]
                fade = self._ramp_f[: tail.shape[1]] * fade_rate
                fade += 1.0
                np.clip(fade, 0.0, 1.0, out=fade)
                tail *= fade

    def _render_voices(self, t0: int, n: int, bends: list[tuple[int, float]], out: np.ndarray) -> None:
        """Write the voices' next n samples into float32 `out` (n,), from scratch kept between blocks."""
        m, k, cf = self._m, self.n_parts, CONTROL_FRAMES
        # The window: whole grid segments from the last multiple of CONTROL_FRAMES at or before t0.
        lead = t0 % cf
        grid_start = t0 - lead
        segments = -(-(lead + n) // cf)
        size = segments * cf
        t = segments + 1
        if self._ramp.size < size:
            self._ramp = np.arange(size, dtype=np.int32)
            self._ramp_f = self._ramp.astype(np.float32)
        offsets = self._offsets(lead, segments)
        since_on = self._work("since_on", (m,))
        np.subtract(t0, self.on[:m], out=since_on, casting="unsafe")
        age = self._work("age", (m, t))
        np.add(offsets[None, :], since_on[:, None], out=age)  # (m, T): samples since note-on at the grid

        # Only the parts with some level on the grid are made: linear interpolation between zeros
        # is zero, so a silent part (a drum's unused layer, a decay that has ended) adds nothing.
        env = self._grid_levels(age, m, grid_start).reshape(m * k, t)
        heard = self._work("heard", (m * k,), bool)
        np.any(env, axis=1, out=heard)
        count = int(np.count_nonzero(heard))
        if not count:
            out.fill(0.0)
            return
        every = count == m * k

        # Table position of each layer, in table steps: f0 * ratio * (B(t) - B(note-on)) + vibrato/sweep.
        cycles = self._work("cycles", (m, t))
        if bends:
            np.subtract(self._grid_bend(offsets, bends)[None, :], self.bend_on[:m, None], out=cycles)
        else:
            bend = self._work("bend", (t,))
            np.multiply(offsets, self._bend_start, out=bend)
            bend += self._bend_cycles
            np.subtract(bend[None, :], self.bend_on[:m, None], out=cycles)
        cycles *= self.f0[:m, None]
        if self._has_vibrato or self._has_sweep:
            self._phase_modulation(age, m, cycles)
        steps = self._work("steps", (m, k, t))
        np.multiply(cycles[:, None, :], self.ratio_n[:m, :, None], out=steps)
        steps = steps.reshape(m * k, t)
        rows = self.row[:m].reshape(m * k)
        if every:
            live = None
        else:
            if self._rows_all.size < m * k:
                self._rows_all = np.arange(2 * m * k, dtype=np.int64)
            live = np.compress(heard, self._rows_all[: m * k], out=self._work("live", (count,), np.int64))
            steps = np.compress(heard, steps, axis=0, out=self._work("steps_live", (count, t)))
            env = np.compress(heard, env, axis=0, out=self._work("env_live", (count, t)))
            rows = np.compress(heard, rows, out=self._work("rows_live", (count,), np.int32))

        # Grid values to interpolate, as (start, slope) per segment: [0] table positions, [1] levels.
        # One matrix product then fills in every sample.
        grid = self._work("grid", (2, count, segments, 2), np.float32)
        start = steps[:, :-1]
        whole = self._work("whole", (count, segments))
        np.multiply(start, 1.0 / TABLE_SIZE, out=whole)
        np.floor(whole, out=whole)  # np.remainder is several times slower
        whole *= -TABLE_SIZE
        whole += start
        np.add(whole, _MAGIC, out=grid[0, :, :, 0])
        np.subtract(steps[:, 1:], start, out=grid[0, :, :, 1])
        grid[1, :, :, 0] = env[:, :-1]
        np.subtract(env[:, 1:], env[:, :-1], out=grid[1, :, :, 1])
        values = self._work("values", (2 * count * segments, cf), np.float32)
        np.matmul(grid.reshape(-1, 2), self._grid_weights, out=values)
        values = values.reshape(2, count, size)

        # Full rate over the window; the table positions become int32 indices.
        index = values[0].view(np.int32)  # (rows, size)
        index &= TABLE_SIZE - 1
        if self.has_noise:
            self._noise_cells(index, live, m, grid_start, size)
        # Into intp for `take` (int32 indices would be converted in a temporary), plus each row's table.
        cells = self._work("cells", (count, size), np.int64)
        np.copyto(cells, index)
        offset = self._work("cells_row", (count, size), np.int64)
        np.copyto(offset, rows[:, None])  # a broadcast assignment makes no buffer; a broadcast add would
        cells += offset
        wave = self._work("wave", (count, size), np.float32)
        np.take(self._bank, cells, out=wave, mode="clip")  # mode "raise" would buffer
        wave *= values[1]
        if self._exact_until > grid_start or self._next_end < grid_start + size:
            exact = np.flatnonzero((self.last_event[:m] > grid_start) | (self.end[:m] < grid_start + size))
            self._apply_exact(wave, live if live is not None else self._rows_all_view(m * k), exact, grid_start)
        total = self._work("total", (size,), np.float32)
        np.sum(wave, axis=0, out=total)
        out[:] = total[lead : lead + n]

    def _rows_all_view(self, count: int) -> np.ndarray:
        if self._rows_all.size < count:
            self._rows_all = np.arange(2 * count, dtype=np.int64)
        return self._rows_all[:count]

    def _noise_cells(self, index: np.ndarray, live: np.ndarray | None, m: int, grid_start: int, size: int) -> None:
        """The noise part's rows of `index` read the noise table by the voice's age (not by phase)."""
        g, k = self.n_layers, self.n_parts
        if live is None:  # every part of every voice: the noise rows are g, g + k, ...
            position = self._work("noise_pos", (m,), np.int32)
            np.add(self.noise_start[:m], grid_start, out=position, casting="unsafe")
            cells = index[g::k]
            np.add(position[:, None], self._ramp[None, :size], out=cells)
            cells &= NOISE_SIZE - 1
            return
        part = self._work("noise_part", (live.size,), np.int64)
        np.remainder(live, k, out=part)
        is_noise = self._work("is_noise", (live.size,), bool)
        np.equal(part, g, out=is_noise)
        count = int(np.count_nonzero(is_noise))
        if not count:
            return
        rows = np.compress(is_noise, self._rows_all_view(live.size), out=self._work("noise_rows", (count,), np.int64))
        voices = np.compress(is_noise, live, out=self._work("noise_voices", (count,), np.int64))
        voices //= k
        position = self._work("noise_pos", (count,), np.int64)
        np.take(self.noise_start, voices, out=position)
        position += grid_start
        cells = self._work("noise_cells", (count, size), np.int32)
        np.add(position[:, None], self._ramp[None, :size], out=cells, casting="unsafe")
        cells &= NOISE_SIZE - 1
        index[rows] = cells

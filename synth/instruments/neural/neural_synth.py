"""NeuralSynth: note events -> renderer frames -> harmonic voice or vocoder -> the engine's rate.

    models = load_neural_models()                  # models/renderer + models/vocoder; ComposerError if unusable
    synth = NeuralSynth(models, program=0, sample_rate=48000)
    synth.note_on(60, 100, frame_offset=10)
    block = synth.render(256)                      # float32 (256,)

    factory = NeuralSynthFactory(48000, notify=print)   # for Engine(synth_factory=...)

Timing, at the models' 24 kHz. Frame k covers [k * hop, (k + 1) * hop); it is
made once the engine has passed its end, with every event before its end in
it. Its vocoder samples are played `pipeline_delay_samples` later, so that
every block can be filled: for blocks of any length, one hop plus the
resampler's look-ahead. Told the engine's `block_frames`, the delay is only
what that block length needs (none at 24 kHz with blocks of a multiple of
256 frames: the block's events are all known when it is rendered); a block
of another length that finds too few samples makes the next frames early,
and events after that point then land in the frame after. The sound the
vocoder was trained to make for an event at t comes at t +
pipeline_delay_samples + vocoder.latency_samples, whatever t's place in
its frame; `latency_samples` (at the engine's rate) is that sum.

While no note has sounded for a whole pipeline's length the models are not
run at all (silence, state back to its start), so an idle track costs
nothing; the rule depends only on the events, so offline and live agree.

Voices. A program plays through the harmonic voice (the renderer's controls
played by additive synthesis, the pitch exact: synth.instruments.neural.
harmonic_voice) unless the renderer file's metadata names the vocoder for
it (`voices`); both have the same latency. A program the renderer never
learned plays as the nearest trained program of its GM family (`programs`),
at that program's measured level trim (`gain_db`).

The render thread sets torch's thread count (`torch_threads`, default 1) the
first time it renders, so the neural path never competes with itself.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from composer.errors import ComposerError
from composer.song import Track
from synth.base import Synth
from synth.instruments.dsp.dsp import DspSynth
from synth.instruments.neural.harmonic_voice import HarmonicVoice
from synth.instruments.neural.neural_checkpoint import load_neural
from synth.instruments.neural.note_features import RELEASE_TAUS_S, RELEASED_INDEX, NoteTracker
from synth.instruments.neural.renderer import Renderer
from synth.instruments.neural.vocoder import Vocoder
from synth.stream_resample import StreamResampler

SUSTAIN_CC = 64
VOICES = ("harmonic", "vocoder")
RELEASE_BIN_S, RELEASE_BINS = 0.01, 30  # a release curve: one gain per 10 ms after the note-off, the last held
MODELS_ENV = "COMPOSER_MODELS"  # a folder holding renderer/ and vocoder/; default: the repository's models/


def models_dir() -> Path:
    env = os.environ.get(MODELS_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[3] / "models"


@dataclass
class NeuralModels:
    renderer: Renderer
    vocoder: Vocoder
    programs: tuple[int, ...] = ()  # the GM programs the renderer was trained on; () if its file does not say
    gain_db: dict[int, float] = field(default_factory=dict)  # measured level trim per trained program
    voices: dict[int, str] = field(default_factory=dict)  # "harmonic" or "vocoder" per trained program
    # per trained program, 128 dB each: its level curves over the keyboard (one per MIDI pitch) and over the
    # velocities (synth/train/note_level.py); the harmonic voice plays each note by them
    pitch_gain_db: dict[int, tuple[float, ...]] = field(default_factory=dict)
    velocity_gain_db: dict[int, tuple[float, ...]] = field(default_factory=dict)
    # per trained program, RELEASE_BINS dB (0 or below): a released note's gain by the time since its note-off,
    # so that it fades as fast as the reference's (synth/train/release_curve.py)
    release_gain_db: dict[int, tuple[float, ...]] = field(default_factory=dict)

    def voice_of(self, program: int) -> str:
        """How `program` turns the renderer's frames into sound: the harmonic voice unless its file says
        the vocoder plays that program better."""
        return self.voices.get(self.played_program(program), "harmonic")

    def played_program(self, program: int) -> int:
        """The program the renderer plays for GM `program`: itself if trained, else the nearest trained
        program of its GM family (program // 8), else itself (a timbre it never learned)."""
        if not self.programs or program in self.programs:
            return int(program)
        family = [p for p in self.programs if p // 8 == program // 8]
        return min(family, key=lambda p: (abs(p - program), p)) if family else int(program)

    def gain(self, program: int) -> float:
        """The linear output gain for `program` (its played program's trim)."""
        return float(10.0 ** (self.gain_db.get(self.played_program(program), 0.0) / 20.0))

    def note_gains(self, program: int) -> tuple[np.ndarray, np.ndarray] | None:
        """(by pitch (128,), by velocity (128,)) linear gains for `program`'s notes (its played program's level
        curves; a missing one is 1), or None when it has neither."""
        played = self.played_program(program)
        curves = [self.pitch_gain_db.get(played), self.velocity_gain_db.get(played)]
        if curves == [None, None]:
            return None
        return tuple(10.0 ** (np.asarray(c if c is not None else (0.0,) * 128, np.float64) / 20.0) for c in curves)

    def release_gains(self, program: int) -> np.ndarray | None:
        """(RELEASE_BINS,) linear gains of `program`'s released notes (its played program's release curve), or
        None when it has none."""
        curve = self.release_gain_db.get(self.played_program(program))
        return None if curve is None else 10.0 ** (np.asarray(curve, np.float64) / 20.0)

    @property
    def sample_rate(self) -> int:
        return self.vocoder.cfg.sample_rate

    @property
    def hop_samples(self) -> int:
        return self.vocoder.cfg.hop_samples

    @property
    def device(self) -> torch.device:
        return self.vocoder.embed.weight.device


def offline_device() -> str:
    """Where offline renders run the models: the GPU when there is one (whole piece per call), else the CPU."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_neural_models(folder: str | Path | None = None, device: str | torch.device = "cpu") -> NeuralModels:
    """The renderer and vocoder in `folder` (default `models_dir()`) on `device`; ComposerError says why
    they cannot play."""
    folder = Path(folder) if folder is not None else models_dir()
    paths = {kind: folder / kind / "model.safetensors" for kind in ("renderer", "vocoder")}
    for kind, path in paths.items():
        if not path.exists():
            raise ComposerError(path, f"no {kind} weights (train with `composer train {kind}`)")
    renderer, extra = load_neural(paths["renderer"], "renderer", device)
    vocoder, _ = load_neural(paths["vocoder"], "vocoder", device)
    if renderer.cfg.n_mels != vocoder.cfg.n_mels:
        raise ComposerError(
            paths["vocoder"], f"expects {vocoder.cfg.n_mels} mel bands, the renderer makes {renderer.cfg.n_mels}"
        )
    try:
        programs = tuple(sorted(int(p) for p in extra.get("programs", ())))
        gain_db = {int(p): float(v) for p, v in extra.get("gain_db", {}).items()}
        voices = {int(p): str(v) for p, v in extra.get("voices", {}).items()}
        if not set(voices.values()) <= set(VOICES):
            raise ValueError(f"voices must be {' or '.join(VOICES)}")
        curves = [_level_curves(extra, name) for name in ("pitch_gain_db", "velocity_gain_db")]
        release = _level_curves(extra, "release_gain_db", RELEASE_BINS)
    except (TypeError, ValueError, AttributeError) as exc:
        raise ComposerError(
            paths["renderer"], f"bad programs, gain_db, level curves or voices in its metadata ({exc})"
        ) from None
    return NeuralModels(renderer, vocoder, programs, gain_db, voices, *curves, release_gain_db=release)


def _level_curves(extra: dict, name: str, length: int = 128) -> dict[int, tuple[float, ...]]:
    """extra[name] as {program: `length` dB}; ValueError unless each is `length` finite values."""
    curves = {int(p): tuple(float(x) for x in v) for p, v in extra.get(name, {}).items()}
    if any(len(c) != length or not all(math.isfinite(x) for x in c) for c in curves.values()):
        raise ValueError(f"each {name} curve must be {length} finite values")
    return curves


class NeuralSynth(Synth):
    """One GM program played by the renderer and the vocoder, streaming, at the engine's `sample_rate`."""

    may_overload = True  # the engine's overload guard watches it

    def __init__(
        self,
        models: NeuralModels,
        program: int = 0,
        sample_rate: int = 48000,
        torch_threads: int = 1,
        block_frames: int | None = None,
        voice: str | None = None,
    ) -> None:
        if not 0 <= int(program) < 128:
            raise ValueError(f"GM program must be 0-127, not {program}")
        self.models = models
        self.program = int(program)
        self.voice = voice or models.voice_of(self.program)
        if self.voice not in VOICES:
            raise ValueError(f"voice must be one of {VOICES}, not {self.voice!r}")
        self._harmonic = None
        if self.voice == "harmonic":
            self._harmonic = HarmonicVoice(models.renderer.cfg.mel_config(), models.renderer.cfg.max_notes)
        self._note_gains = models.note_gains(self.program) if self._harmonic is not None else None
        self._release_gains = models.release_gains(self.program) if self._harmonic is not None else None
        self._gain = models.gain(self.program)
        self.sample_rate = int(sample_rate)
        self.torch_threads = int(torch_threads)
        self._thread: int | None = None
        self._device = models.device
        # Offline renders give it the whole piece at once: on a GPU a call costs launches, not arithmetic, and
        # on the CPU the renderer costs 10x less a frame in one long call than in one-frame calls.
        self.prefers_long_blocks = True
        self._program = torch.tensor([models.played_program(self.program)], device=self._device)
        self._resampler = StreamResampler(models.sample_rate, self.sample_rate)
        hop = models.hop_samples
        look_ahead = self._resampler.latency_input_samples
        # Waiting for a frame's events: a block ending `g` samples into a frame leaves hop - g unmade.
        g = 1
        block_model = None if block_frames is None else block_frames * models.sample_rate / self.sample_rate
        if block_model is not None and block_model == int(block_model):
            g = math.gcd(int(block_model), hop)
        self._buffer_frames = 0
        usual_frames = 4 if block_model is None else math.ceil(block_model / hop) + 2
        self._fit_frames(max(usual_frames, 4))  # a usual block's frames; an offline call's many grow the arrays
        self._silence = np.zeros(hop, np.float32)
        # Plus the resampler's look-ahead (+1: its window reaches floor(t) + W).
        self.pipeline_delay_samples = hop - g + (look_ahead + 1 if look_ahead else 0)  # at the models' rate
        model_latency = self.pipeline_delay_samples + self._voice_latency_samples
        self.latency_samples = round(model_latency * self.sample_rate / models.sample_rate)
        self._delay_silence = np.zeros(self.pipeline_delay_samples, np.float32)  # the pipeline's start
        self._renderer_state = None
        self.reset()
        self._warm_up()

    def _warm_up(self) -> None:
        """One frame through both models here, in the caller's thread, so torch's first-call set-up
        never lands in a render block (where the overload guard would count it)."""
        renderer, S = self.models.renderer, self.models.renderer.cfg.max_notes
        pitch = torch.full((1, 1, S), 60, dtype=torch.int64, device=self._device)
        notes = torch.zeros(1, 1, S, renderer.cfg.n_note_features, device=self._device)
        notes[0, 0, 0, 0] = 1.0  # one sounding slot, so every path runs
        track = torch.zeros(1, 1, renderer.cfg.n_track_features, device=self._device)
        with torch.inference_mode():
            if self._harmonic is not None:
                controls, _, _ = renderer.step_controls(pitch, notes, track, self._program, renderer.initial_state(1))
                self._harmonic.step(controls, self._harmonic.initial_state())
            else:
                mel, _ = renderer.step(pitch, notes, track, self._program, renderer.initial_state(1))
                self.models.vocoder.step(mel, self.models.vocoder.initial_state(1))

    # ---- events --------------------------------------------------------------------------------------

    def _at(self, frame_offset: int) -> float:
        """The models' sample time of an event `frame_offset` frames into the next block."""
        return (self._engine_pos + max(int(frame_offset), 0)) * self.models.sample_rate / self.sample_rate

    def _push(self, frame_offset: int, kind: str, a: float, b: int) -> None:
        self._seq += 1  # equal times keep the order of the calls
        self._events.append((self._at(frame_offset), self._seq, kind, a, b))

    def note_on(self, pitch: int, velocity: int, frame_offset: int = 0) -> None:
        self._push(frame_offset, "on", int(pitch), int(velocity))

    def note_off(self, pitch: int, frame_offset: int = 0) -> None:
        self._push(frame_offset, "off", int(pitch), 0)

    def control_change(self, controller: int, value: int, frame_offset: int = 0) -> None:
        if controller == SUSTAIN_CC:
            self._push(frame_offset, "pedal", int(value >= 64), 0)

    def pitch_bend(self, semitones: float, frame_offset: int = 0) -> None:
        self._push(frame_offset, "bend", float(semitones), 0)

    def reset(self) -> None:
        hop = self.models.hop_samples
        self._engine_pos = 0
        self._frames = 0
        self._events: list[tuple] = []  # (time in model samples, call order, kind, a, b)
        self._seq = 0
        self._tracker = NoteTracker(self.models.renderer.cfg.max_notes, self.models.sample_rate)
        self._reset_model_states()
        self._fresh_state = True  # the states are the initial ones (idle frames need not reset them again)
        self._silent_frames = None  # frames since the last sounding note; None: idle from the start
        self._idle_after_frames = -(-(self.pipeline_delay_samples + self._voice_latency_samples) // hop) + 2
        self._resampler.reset()
        self._resampler.push(self._delay_silence)

    @property
    def _voice_latency_samples(self) -> int:
        """The voice's latency at the models' rate (harmonic voice and vocoder: one hop each)."""
        return self._harmonic.latency_samples if self._harmonic is not None else self.models.vocoder.latency_samples

    def _reset_model_states(self) -> None:
        """The models' states back to their start: made the first time, zeroed in place after (a track
        going idle, reset() at a stop or seek: the render thread's, so nothing new is made)."""
        if getattr(self, "_renderer_state", None) is None:
            self._renderer_state = self.models.renderer.initial_state(1)
            if self._harmonic is not None:
                self._voice_state = self._harmonic.initial_state()
            else:
                self._voice_state = self.models.vocoder.initial_state(1)
            return
        with torch.inference_mode():  # the states a step made are inference tensors
            for tensor in self._renderer_state.conv:
                tensor.zero_()
            if self._harmonic is not None:
                self._harmonic.reset_state(self._voice_state)
            else:
                for tensor in self._voice_state.conv:
                    tensor.zero_()
                self._voice_state.overlap.zero_()

    @property
    def active_voices(self) -> int:
        if self._tracker.sounding:
            return self._tracker.sounding
        return 0 if self._idle else 1  # the pipeline still holds sound

    @property
    def _idle(self) -> bool:
        return self._silent_frames is None or self._silent_frames >= self._idle_after_frames

    # ---- audio ---------------------------------------------------------------------------------------

    def _apply_events(self, end_samples: float) -> None:
        self._events.sort()
        done = 0
        for time, _, kind, a, b in self._events:
            if time >= end_samples:
                break
            if kind == "on":
                self._tracker.note_on(a, b, time)
            elif kind == "off":
                self._tracker.note_off(a, time)
            elif kind == "pedal":
                self._tracker.sustain(bool(a), time)
            else:
                self._tracker.bend(a, time)
            done += 1
        del self._events[:done]

    def _fit_frames(self, T: int) -> None:
        """The arrays one call's frames are made in, for T frames (made once; a longer call grows them)."""
        if self._buffer_frames >= T:
            return
        S, cfg, hop = self.models.renderer.cfg.max_notes, self.models.renderer.cfg, self.models.hop_samples
        self._pitch = np.zeros((T, S), np.int64)
        self._notes = np.zeros((T, S, cfg.n_note_features), np.float32)
        self._track = np.zeros((T, cfg.n_track_features), np.float32)
        # Tensors sharing the arrays' memory, (1, T, ...): a flush hands torch its frames without a copy.
        self._pitch_t, self._notes_t, self._track_t = (
            torch.from_numpy(x)[None] for x in (self._pitch, self._notes, self._track)
        )
        self._audio = np.zeros(T * hop, np.float32)
        self._slot_gain, self._slot_gain2 = np.zeros((T, S)), np.zeros((T, S))
        self._velocity_index = np.zeros((T, S), np.int64)
        self._released = np.zeros((T, S), bool)
        self._buffer_frames = T

    def _run_models(self, T: int) -> None:
        """The T frames waiting in the feature arrays through renderer and voice, pushed to the resampler."""
        device = self._device
        pitch, notes, track = (x[:, :T].to(device) for x in (self._pitch_t, self._notes_t, self._track_t))
        renderer = self.models.renderer
        audio = self._audio[: T * self.models.hop_samples]
        if self._harmonic is not None:
            controls, _, self._renderer_state = renderer.step_controls(
                pitch, notes, track, self._program, self._renderer_state
            )
            released = np.greater(self._notes[:T, :, RELEASED_INDEX], 0.5, out=self._released[:T])
            gains = self._slot_gains(T, released)
            self._harmonic.step(controls, self._voice_state, out=audio, slot_gain=gains, released=released)
        else:
            mel, self._renderer_state = renderer.step(pitch, notes, track, self._program, self._renderer_state)
            out, self._voice_state = self.models.vocoder.step(mel, self._voice_state)
            np.copyto(audio, out[0].cpu().numpy())
        if self._gain != 1.0:
            np.multiply(audio, self._gain, out=audio)
        self._resampler.push(audio)

    def _slot_gains(self, T: int, released: np.ndarray) -> np.ndarray | None:
        """(T, S): each slot's gain by its note's pitch and velocity (the level curves) and, for the `released`
        (T, S) slots, by the time since the note-off (the release curve); None without either."""
        if self._note_gains is None and self._release_gains is None:
            return None
        gain, other, index = self._slot_gain[:T], self._slot_gain2[:T], self._velocity_index[:T]
        if self._note_gains is None:
            gain.fill(1.0)
        else:
            by_pitch, by_velocity = self._note_gains
            np.take(by_pitch, self._pitch[:T], out=gain, mode="clip")
            np.multiply(self._notes[:T, :, 1], 127.0, out=other)  # the velocity feature is velocity / 127
            np.copyto(index, np.rint(other, out=other), casting="unsafe")
            np.take(by_velocity, index, out=other, mode="clip")
            np.multiply(gain, other, out=gain)
        if self._release_gains is not None:
            # the first release feature is exp(-t / tau): t / RELEASE_BIN_S = -log(feature) * tau / RELEASE_BIN_S
            np.maximum(self._notes[:T, :, RELEASED_INDEX + 1], 1e-30, out=other)
            np.multiply(np.log(other, out=other), -RELEASE_TAUS_S[0] / RELEASE_BIN_S, out=other)
            np.copyto(index, np.minimum(other, RELEASE_BINS - 1, out=other), casting="unsafe")
            np.take(self._release_gains, index, out=other, mode="clip")
            np.multiply(gain, other, out=gain, where=released)
        return gain

    def _make_frames(self, n_frames: int) -> None:
        """The next n_frames frames through renderer and voice, pushed to the resampler (n_frames * hop samples)."""
        hop = self.models.hop_samples
        self._fit_frames(n_frames)
        waiting = 0  # frames in the feature arrays, not yet run
        for _ in range(n_frames):
            end = (self._frames + 1) * hop
            self._apply_events(end)
            self._tracker.frame_into(end, self._pitch[waiting], self._notes[waiting], self._track[waiting])
            self._frames += 1
            if self._tracker.sounding:
                self._silent_frames = 0
            elif self._silent_frames is not None:
                self._silent_frames += 1
            if self._idle:
                if waiting:
                    self._run_models(waiting)
                    waiting = 0
                self._resampler.push(self._silence)
                if not self._fresh_state:
                    self._reset_model_states()
                    self._fresh_state = True
            else:
                waiting += 1
                self._fresh_state = False
        if waiting:
            self._run_models(waiting)

    def render(self, n_frames: int) -> np.ndarray:
        out = np.empty(n_frames, np.float32)
        self.render_into(out)
        return out

    def render_into(self, out: np.ndarray) -> None:
        n_frames = out.shape[0]
        if self._thread != threading.get_ident():
            self._thread = threading.get_ident()
            torch.set_num_threads(self.torch_threads)
        hop = self.models.hop_samples
        known = (self._engine_pos + n_frames) * self.models.sample_rate / self.sample_rate  # events known up to here
        ready = int(known // hop) - self._frames
        with torch.inference_mode():
            if ready > 0:
                self._make_frames(ready)
            while self._resampler.input_needed(n_frames) > self._resampler.pushed:  # a block of another length
                self._make_frames(1)
        self._engine_pos += n_frames
        self._resampler.pull(n_frames, out=out)


class NeuralSynthFactory:
    """Engine synth factory: NeuralSynth for neural tracks (all pitched tracks if `force`), DspSynth otherwise.

    The models are loaded once, at the first neural track. Where they cannot
    be loaded the track plays with the DSP synth and `notify` gets one line
    saying why (once per reason). Drum tracks always play with the DSP kit:
    the renderer learns pitched GM programs.
    """

    def __init__(
        self,
        sample_rate: int,
        models: NeuralModels | None = None,
        folder: str | Path | None = None,
        notify: Callable[[str], None] | None = None,
        force: bool = False,
        block_frames: int | None = None,
        device: str | torch.device = "cpu",
    ) -> None:
        self.sample_rate = int(sample_rate)
        self.device = device
        self.block_frames = block_frames  # the engine's usual block: a shorter pipeline delay (see NeuralSynth)
        self.folder = folder
        self.notify = notify
        self.force = force
        self._models = models
        self._problem: str | None = None
        self._told: set[str] = set()

    def _load(self) -> NeuralModels | None:
        if self._models is None and self._problem is None:
            try:
                self._models = load_neural_models(self.folder, self.device)
            except ComposerError as exc:
                self._problem = str(exc)
        return self._models

    def __call__(self, track: Track) -> Synth:
        wants_neural = (self.force or track.synth == "neural") and not track.is_drum
        models = self._load() if wants_neural else None
        if models is not None:
            return NeuralSynth(models, track.program, self.sample_rate, block_frames=self.block_frames)
        if wants_neural and self._problem not in self._told:
            self._told.add(self._problem)
            if self.notify is not None:
                self.notify(f"neural synth unavailable, playing with the DSP synth: {self._problem}")
        return DspSynth(track.program, track.is_drum, self.sample_rate)

"""Text prompt -> audio: text encoder, mel diffusion in overlapping windows, vocoder.

    audio = generate_prompt_audio("slow cello melody in D minor", seconds=8.0, seed=3)  # float32 (192000,) 24 kHz
    generator = PromptGenerator()                       # loads the models once (ComposerError if unusable)
    audio = generator.generate(PromptRequest("fast drum groove", 4.0, loop=True), progress=print)
    clip = regenerate_clip(clip, seed=clip.seed + 1)    # a prompted AudioClip made again, new seed

Length. The diffusion model makes causal log-mel frames (synth.instruments.neural.mel) in
windows of `clip_frames` (512 = 5.46 s), the length of every clip it was
trained on, so every window is made whole and a shorter request keeps the
first frames. A longer request is made of windows that each continue what
was made so far: its last OVERLAP_FRAMES frames go in as the next window's
`known` prefix (the last window, which needs fewer new frames, gets a longer
prefix: more context for the same cost), and the two versions of the last
OVERLAP_FRAMES frames are joined with an equal-power crossfade (in power, so
the crossfade is the spectrum an equal-power crossfade of the two sounds would
have; the sampler holds known frames exactly, so the two versions agree).
The vocoder decodes the whole mel in one pass; its output sample n
stands for sample n - latency_samples of the sound the mel describes, so the
first latency_samples are dropped and the result is cut to exactly
round(seconds * 24000) samples.

Loop. A loop is made LOOP_FADE_S longer; the extra tail (which continues the
end) is crossfaded, equal-power, into the head, starting at full tail weight.
The last sample is then followed, across the wrap, by the sample that really
came after it. A clip that is not a loop gets EDGE_FADE_S fades at both ends
so that it starts and stops without a click.

Tempo, key and meter. A model trained with controls (DiffusionConfig.controls) is given the request's
BPM, key and beats per bar, and the beat grid from the clip's first frame, which is on a bar line
(synth.prompt.controls); each window continues the grid. It makes the clip at that tempo and in that key
itself, and nothing is changed afterwards (`conform_tempo` and `conform_key` would).

A model without controls has them held after the fact instead. Tempo: a request with
`bpm` is made HEADROOM longer and its mel played at that tempo (synth.prompt.tempo_conform: the made
clip's beat measured, its frames resampled in time). Key: a request with `key` ("D:minor") has the
vocoded clip's key measured and, when it is clear and another, the clip transposed by the nearest
interval to it (synth.prompt.key_conform: the mel played longer, vocoded, read faster). For the shipped
controls model that move makes the key worse, not better (its estimate from vocoded audio is often wrong:
models/diffusion/README.md), so it is off unless asked for.

Output is peak-normalised to PEAK_DBFS. The same request (prompt, seconds,
steps, guidance, seed, loop, bpm, key, beats per bar) and the same weights give the same samples.

torch and the models are imported only when a generator is made, so the app
can check a request (validate_request) without loading them.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from composer.errors import ComposerError
from composer.song import AudioClip
from synth.prompt.key_conform import key_named, parse_key, ratio, semitones_to, speed_up
from synth.prompt.music_analysis import estimate_key, estimate_tempo, onset_strength
from synth.prompt.tempo_conform import MAX_BPM as TEMPO_MAX_BPM
from synth.prompt.tempo_conform import MIN_BPM as TEMPO_MIN_BPM
from synth.prompt.tempo_conform import frames_to_make, stretch_log_mel, stretch_ratio

if TYPE_CHECKING:
    import torch

SAMPLE_RATE = 24000
MIN_SECONDS = 0.1
MAX_SECONDS = 30.0  # about six windows; the model was trained on 5.46 s clips, 2-10 s is its home ground
MIN_STEPS, MAX_STEPS = 1, 100
MAX_GUIDANCE = 20.0
MAX_KEY_GUIDANCE = 50.0
MAX_SEED = 2**63 - 1
MAX_PROMPT_CHARS = 1000
DEFAULT_STEPS = 20
DEFAULT_GUIDANCE = 5.0  # measured: judge family accuracy 0.77 at 5 vs 0.665 at 3 (benchmarks/prompt_quality.py)
DEFAULT_KEY_GUIDANCE = 0.0  # off: holding the key harder costs the instrument (models/diffusion/README.md: at 4,
# key exact 0.23 -> 0.30 on prompt_key.py, piano recognised 0.72 -> 0.56); `composer prompt --key-guidance K`
OVERLAP_FRAMES = 128  # 1.37 s of the previous window that the next one continues from
LOOP_FADE_S = 0.25
EDGE_FADE_S = 0.005
PEAK_DBFS = -1.0
MODELS_ENV = "COMPOSER_MODELS"  # as synth.instruments.neural.neural_synth: a folder holding diffusion/ and vocoder/

Progress = Callable[[int, int], None]  # (steps done, steps in all)


def models_dir() -> Path:
    env = os.environ.get(MODELS_ENV)
    return Path(env) if env else Path(__file__).resolve().parents[2] / "models"


def default_diffusion_path() -> Path:
    return models_dir() / "diffusion" / "model.safetensors"


def default_vocoder_path() -> Path:
    """The prompted tracks' vocoder: models/prompt_vocoder (the instruments' vocoder fine-tuned on the prompt
    clips, every family and the drum kit) where it is, else the instruments' own, models/vocoder."""
    tuned = models_dir() / "prompt_vocoder" / "model.safetensors"
    return tuned if tuned.is_file() else models_dir() / "vocoder" / "model.safetensors"


@dataclass(frozen=True)
class PromptRequest:
    """What to make: the prompt, its length in seconds and how to sample it."""

    prompt: str
    seconds: float
    steps: int = DEFAULT_STEPS
    guidance: float = DEFAULT_GUIDANCE
    seed: int = 0
    loop: bool = False
    bpm: float | None = None  # the tempo the clip must have; None: as it comes
    key: str | None = None  # "D:minor": the key the clip must be in; None: as it comes
    beats_per_bar: int | None = None  # the song's meter (a controls model's bar grid); None: 4 with a bpm

    @property
    def n_samples(self) -> int:
        return int(round(self.seconds * SAMPLE_RATE))


def validate_request(
    request: PromptRequest, diffusion_path: str | Path | None = None, vocoder_path: str | Path | None = None
) -> PromptRequest:
    """The request with the prompt stripped and the numbers as their types; ComposerError naming what is wrong.

    Also refuses missing weight files (their contents are checked when a PromptGenerator loads them).
    """
    prompt = request.prompt.strip() if isinstance(request.prompt, str) else ""
    if not prompt:
        raise ComposerError("prompt", "is empty; describe the sound, e.g. 'slow cello melody in D minor'")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ComposerError("prompt", f"is {len(prompt)} characters long, expected at most {MAX_PROMPT_CHARS}")
    seconds = _number(request.seconds, "seconds")
    if not MIN_SECONDS <= seconds <= MAX_SECONDS:
        raise ComposerError("seconds", f"expected {MIN_SECONDS:g} to {MAX_SECONDS:g} seconds, got {seconds:g}")
    steps = request.steps
    if isinstance(steps, bool) or not isinstance(steps, int) or not MIN_STEPS <= steps <= MAX_STEPS:
        raise ComposerError("steps", f"expected a whole number from {MIN_STEPS} to {MAX_STEPS}, got {steps!r:.40}")
    guidance = _number(request.guidance, "guidance")
    if not 0.0 <= guidance <= MAX_GUIDANCE:
        raise ComposerError("guidance", f"expected 0 to {MAX_GUIDANCE:g} (0: no guidance), got {guidance:g}")
    seed = request.seed
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise ComposerError("seed", f"expected a whole number from 0 to 2**63 - 1, got {seed!r:.40}")
    paths = (
        ("diffusion", diffusion_path or default_diffusion_path()),
        ("vocoder", vocoder_path or default_vocoder_path()),
    )
    for kind, path in paths:
        if not Path(path).is_file():
            raise ComposerError(path, f"no {kind} weights here (train with `composer train {kind}`)")
    bpm = request.bpm
    if bpm is not None:
        bpm = _number(bpm, "bpm")
        if not TEMPO_MIN_BPM <= bpm <= TEMPO_MAX_BPM:
            raise ComposerError("bpm", f"expected {TEMPO_MIN_BPM:g} to {TEMPO_MAX_BPM:g} BPM, got {bpm:g}")
    key = request.key
    if key is not None:
        try:
            if not isinstance(key, str):
                raise ValueError(f"expected a key such as D:minor or F#:major, got {key!r:.40}")
            key = parse_key(key).name
        except ValueError as exc:
            raise ComposerError("key", str(exc)) from None
    beats = request.beats_per_bar
    if beats is not None and (isinstance(beats, bool) or not isinstance(beats, int) or not 1 <= beats <= 16):
        raise ComposerError("beats_per_bar", f"expected 1 to 16 beats in a bar, got {beats!r:.20}")
    return PromptRequest(prompt, seconds, steps, guidance, seed, bool(request.loop), bpm, key, beats)


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ComposerError(what, f"expected a number, got {value!r:.40}")
    number = float(value)
    if not math.isfinite(number):
        raise ComposerError(what, f"expected a finite number, got {number}")
    return number


# ----- joining and looping: pure functions -----------------------------------------------------------


def equal_power_weights(n: int) -> tuple[np.ndarray, np.ndarray]:
    """(fade_out, fade_in), float32 (n,): cos and sin of a quarter turn, fade_out[0] = 1; squares sum to 1."""
    angle = np.arange(n, dtype=np.float64) / max(n, 1) * (math.pi / 2)
    return np.cos(angle).astype(np.float32), np.sin(angle).astype(np.float32)


def crossfade_log_mel(tail: np.ndarray, head: np.ndarray) -> np.ndarray:
    """Two log-mel versions (n_mels, n) of the same frames -> their equal-power crossfade, from `tail` to `head`.

    Log-mel is log magnitude; the power of an equal-power crossfade of two unrelated sounds is
    cos^2 * P_tail + sin^2 * P_head, taken frame by frame."""
    n = tail.shape[-1]
    angle = (np.arange(n) + 0.5) / n * (math.pi / 2)  # both weights non-zero: logs stay finite
    log_out, log_in = 2 * np.log(np.cos(angle)), 2 * np.log(np.sin(angle))
    power = np.logaddexp(2 * tail.astype(np.float64) + log_out, 2 * head.astype(np.float64) + log_in)
    return (0.5 * power).astype(np.float32)


def join_windows(mel: np.ndarray, window: np.ndarray, known: int, fade: int) -> np.ndarray:
    """Append `window` (n_mels, F) whose first `known` frames remake the last `known` of `mel`.

    The last `fade` (<= known) of those frames are crossfaded from `mel`'s version to the window's."""
    fade = min(fade, known)
    if fade == 0:
        return np.concatenate([mel, window[:, known:]], axis=1)
    joined = crossfade_log_mel(mel[:, -fade:], window[:, known - fade : known])
    return np.concatenate([mel[:, :-fade], joined, window[:, known:]], axis=1)


def loop_fade_samples(n_samples: int) -> int:
    """The loop crossfade's length: LOOP_FADE_S, at most a quarter of the clip."""
    return max(1, min(int(LOOP_FADE_S * SAMPLE_RATE), n_samples // 4))


def close_loop(audio: np.ndarray, n_samples: int) -> np.ndarray:
    """`audio` of n_samples + fade samples -> n_samples whose end runs on into its start.

    The extra tail (what came after sample n_samples - 1) is crossfaded into the head, at full weight
    at sample 0, so across the wrap sample n - 1 is followed by the sample that really followed it."""
    fade = audio.shape[0] - n_samples
    if fade <= 0 or fade > n_samples:
        raise ValueError(f"expected between 1 and {n_samples} extra samples to loop with, got {fade}")
    fade_out, fade_in = equal_power_weights(fade)
    out = audio[:n_samples].copy()
    out[:fade] = audio[n_samples:] * fade_out + audio[:fade] * fade_in
    return out


def fade_edges(audio: np.ndarray, fade_samples: int) -> np.ndarray:
    """Raised-cosine fade-in and fade-out of `fade_samples` each (at most half the clip), in place."""
    n = min(fade_samples, audio.shape[0] // 2)
    if n > 0:
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(n) + 0.5) / n)).astype(np.float32)
        audio[:n] *= ramp
        audio[-n:] *= ramp[::-1]
    return audio


def normalize_peak(audio: np.ndarray, peak_dbfs: float = PEAK_DBFS) -> np.ndarray:
    """Scale so the largest |sample| is `peak_dbfs` (digital silence stays silent)."""
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    if peak == 0.0 or not math.isfinite(peak):
        return audio
    return (audio * np.float32(10 ** (peak_dbfs / 20) / peak)).astype(np.float32)


def plan_windows(n_frames: int, clip_frames: int, overlap: int) -> list[tuple[int, int]]:
    """(known frames, new frames) of each window of `clip_frames`: the first keeps up to `clip_frames` new
    frames; each later one continues the last `overlap` frames made (the last window more, to stay whole)."""
    plan = [(0, min(n_frames, clip_frames))]
    made = plan[0][1]
    while made < n_frames:
        new = min(clip_frames - overlap, n_frames - made)
        plan.append((clip_frames - new, new))
        made += new
    return plan


# ----- the generator ---------------------------------------------------------------------------------


@functools.cache
def shared_text_encoder():
    """One TextEncoder per process (its weights load on the first encode), shared by every generator."""
    from synth.prompt.text_encoder import TextEncoder

    return TextEncoder()


class PromptGenerator:
    """The text encoder, the diffusion model and the vocoder, loaded once; `generate` makes audio.

    Raises ComposerError (naming the file) when the weights are missing, not of their kind, or do not
    fit together. Safe to call from one worker thread at a time.
    """

    def __init__(
        self,
        diffusion_path: str | Path | None = None,
        vocoder_path: str | Path | None = None,
        text_encoder=None,
        sampler: str | None = None,
        conform_tempo: bool | None = None,
        conform_key: bool | None = None,
        key_guidance: float = DEFAULT_KEY_GUIDANCE,
    ) -> None:
        """`conform_tempo`: measure the made clip's beat and stretch it to the tempo asked for; `conform_key`:
        measure its key and move it to the one asked for (None, each: only for a model without controls);
        `key_guidance`: how much further a controls model is pushed toward the key asked for (0: plain guidance)."""
        from synth.instruments.neural.mel import MelConfig
        from synth.instruments.neural.neural_checkpoint import load_neural
        from synth.prompt.flow_sampler import load_diffusion
        from synth.prompt.text_encoder import TEXT_DIM

        self.diffusion_path = Path(diffusion_path) if diffusion_path else default_diffusion_path()
        self.vocoder_path = Path(vocoder_path) if vocoder_path else default_vocoder_path()
        if not self.vocoder_path.is_file():
            raise ComposerError(self.vocoder_path, "no vocoder weights here (train with `composer train vocoder`)")
        self.model, self.meta = load_diffusion(self.diffusion_path)
        self.vocoder, _ = load_neural(self.vocoder_path, "vocoder")
        mel, vc, dc = MelConfig(), self.vocoder.cfg, self.model.cfg
        if (vc.sample_rate, vc.hop_samples) != (SAMPLE_RATE, mel.hop_samples):
            raise ComposerError(
                self.vocoder_path,
                f"vocoder runs at {vc.sample_rate} Hz with hop {vc.hop_samples}, "
                f"expected {SAMPLE_RATE} Hz with hop {mel.hop_samples}",
            )
        if vc.n_mels != dc.n_mels:
            raise ComposerError(
                self.vocoder_path, f"vocoder expects {vc.n_mels} mel bands, the diffusion model makes {dc.n_mels}"
            )
        if dc.text_dim != TEXT_DIM:
            raise ComposerError(
                self.diffusion_path, f"diffusion model takes {dc.text_dim}-d text, the text encoder makes {TEXT_DIM}"
            )
        self.text_encoder = text_encoder if text_encoder is not None else shared_text_encoder()
        self.sampler = sampler
        self.conform_tempo = (not dc.controls) if conform_tempo is None else bool(conform_tempo)
        self.conform_key = (not dc.controls) if conform_key is None else bool(conform_key)
        if not (math.isfinite(key_guidance) and 0 <= key_guidance <= MAX_KEY_GUIDANCE):
            raise ComposerError("key guidance", f"expected 0 to {MAX_KEY_GUIDANCE:g}, got {key_guidance}")
        self.key_guidance = float(key_guidance)
        self.overlap_frames = min(OVERLAP_FRAMES, dc.clip_frames // 4)
        self.last_tempo = math.nan  # with a tempo asked for: what the last clip was made at, and its stretch
        self.last_ratio = 1.0
        self.last_key = None  # with a key asked for: the last clip's key as made (a KeyEstimate), and its move
        self.last_shift = 0

    def frames_for(self, n_samples: int) -> int:
        """Mel frames whose decoding covers n_samples after the vocoder's latency."""
        hop = self.vocoder.cfg.hop_samples
        return -(-(n_samples + self.vocoder.latency_samples) // hop)

    def generate(self, request: PromptRequest, progress: Progress | None = None) -> np.ndarray:
        """float32 (request.n_samples,) at 24 kHz, peak at PEAK_DBFS. `progress(done, total)` after each step."""
        request = validate_request(request, self.diffusion_path, self.vocoder_path)
        n_samples = request.n_samples
        extra = loop_fade_samples(n_samples) if request.loop else 0
        audio = self.raw_audio(request, n_samples + extra, progress)
        if request.loop:
            return normalize_peak(close_loop(audio, n_samples))
        return normalize_peak(fade_edges(audio, int(EDGE_FADE_S * SAMPLE_RATE)))

    def raw_audio(self, request: PromptRequest, n_samples: int, progress: Progress | None = None) -> np.ndarray:
        """The vocoded sound of the request's mel, float32 (n_samples,): no loop, fades or normalisation."""
        import torch

        with torch.inference_mode():
            text = torch.from_numpy(self.text_encoder.encode([request.prompt]))  # (1, 384)
            n_frames = self.frames_for(n_samples)
            if request.bpm is None or not self.conform_tempo:
                mel = self.sample_mel(text, n_frames, request, progress)  # (n_mels, F)
                if request.bpm is not None:  # made at the tempo by the controls: measured, for the record
                    self.last_tempo, self.last_ratio = estimate_tempo(onset_strength(mel)).bpm, 1.0
            else:  # made longer, then played at the tempo asked for
                made = self.sample_mel(text, frames_to_make(n_frames), request, progress)
                self.last_tempo = estimate_tempo(onset_strength(made)).bpm
                self.last_ratio = stretch_ratio(self.last_tempo, request.bpm)
                mel = stretch_log_mel(made, self.last_ratio, n_frames)
            audio = self.vocoder(torch.from_numpy(mel)[None])[0].numpy()  # (F * hop,)
            latency = self.vocoder.latency_samples  # output sample n is the mel's sound at n - latency
            audio = audio[latency : latency + n_samples]
            if request.key is not None:
                self.last_key, self.last_shift = estimate_key(audio), 0
            if request.key is not None and self.conform_key:
                self.last_shift = semitones_to(self.last_key, parse_key(request.key))
                if self.last_shift:  # played longer, vocoded, read faster: the same length, another pitch
                    r = ratio(self.last_shift)
                    longer = stretch_log_mel(mel, r, int(math.ceil(mel.shape[1] * r)) + 1)
                    moved = self.vocoder(torch.from_numpy(longer)[None])[0].numpy()[latency:]
                    audio = speed_up(moved, r, n_samples)
        return np.array(audio, dtype=np.float32)

    def control_labels(self, request: PromptRequest):
        """The request's tempo, key and meter for a controls model (the clip starts on a bar line); None for
        a model without them."""
        if not self.model.cfg.controls:
            return None
        from synth.prompt.controls import ControlLabels

        key = parse_key(request.key) if request.key else None
        beats = request.beats_per_bar or (4 if request.bpm is not None else None)
        return ControlLabels.of(
            [request.bpm],
            [None if key is None else key.tonic],
            [None if key is None else int(key.mode == "minor")],
            [beats if request.bpm is not None else None],
            [0.0 if request.bpm is not None else None],
        )

    def sample_mel(
        self, text: torch.Tensor, n_frames: int, request: PromptRequest, progress: Progress | None
    ) -> np.ndarray:
        """Log-mel (n_mels, n_frames) in windows, each continuing the previous one."""
        import torch

        from synth.prompt.diffusion import Controls
        from synth.prompt.flow_sampler import sample_mel

        clip_frames = self.model.cfg.clip_frames
        plan = plan_windows(n_frames, clip_frames, self.overlap_frames)
        total = request.steps * len(plan)
        generator = torch.Generator().manual_seed(request.seed)
        kwargs = {"sampler": self.sampler} if self.sampler else {}
        labels = self.control_labels(request)
        if labels is not None:
            kwargs["key_guidance"] = self.key_guidance
        mel: np.ndarray | None = None
        for i, (n_known, n_new) in enumerate(plan):
            known = None if mel is None else torch.from_numpy(mel[:, -n_known:].copy())[None]  # (1, n_mels, known)
            if labels is not None:  # the grid goes on from where this window starts in the clip
                frame0 = 0 if mel is None else mel.shape[1] - n_known
                kwargs["controls"] = Controls.of(labels, clip_frames, frame0)

            def report(done: int, _total: int, base: int = i * request.steps) -> None:
                if progress is not None:
                    progress(base + done, total)

            window = sample_mel(
                self.model,
                text,
                clip_frames,
                steps=request.steps,
                guidance=request.guidance,
                generator=generator,
                known=known,
                progress=report,
                **kwargs,
            )  # (1, n_mels, clip_frames)
            window = window[0, :, : n_known + n_new].float().numpy()
            mel = window if mel is None else join_windows(mel, window, n_known, self.overlap_frames)
        assert mel is not None and mel.shape[1] == n_frames
        return mel


def generate_prompt_audio(
    prompt: str,
    seconds: float,
    steps: int = DEFAULT_STEPS,
    guidance: float = DEFAULT_GUIDANCE,
    seed: int = 0,
    loop: bool = False,
    progress: Progress | None = None,
    diffusion_path: str | Path | None = None,
    vocoder_path: str | Path | None = None,
) -> np.ndarray:
    """float32 (round(seconds * 24000),) at 24 kHz for `prompt`; ComposerError for a bad request or weights."""
    request = validate_request(
        PromptRequest(prompt, seconds, steps, guidance, seed, loop), diffusion_path, vocoder_path
    )
    return PromptGenerator(diffusion_path, vocoder_path).generate(request, progress)


# ----- prompted clips ----------------------------------------------------------------------------------


def clip_name(prompt: str, limit: int = 32) -> str:
    prompt = " ".join(prompt.split())
    return prompt if len(prompt) <= limit else prompt[: limit - 1].rstrip() + "…"


def prompted_clip(request: PromptRequest, samples: np.ndarray, start_s: float = 0.0) -> AudioClip:
    """An AudioClip holding `samples` and everything needed to make them again."""
    return AudioClip(
        name=clip_name(request.prompt),
        start_s=float(start_s),
        prompt=request.prompt,
        seed=request.seed,
        steps=request.steps,
        guidance=request.guidance,
        loop=request.loop,
        samples=samples,
        sample_rate=SAMPLE_RATE,
    )


def meter_of(beats_per_bar: float) -> int | None:
    """A song's quarter-note beats in a bar as a controls model's meter: whole numbers only (6/8 is 3)."""
    return int(beats_per_bar) if float(beats_per_bar).is_integer() and 1 <= beats_per_bar <= 16 else None


def clip_request(
    clip: AudioClip, seed: int | None = None, bpm: float | None = None, beats_per_bar: int | None = None
) -> PromptRequest:
    """The request a prompted clip was made from (with `seed` instead of its own, when given), at `bpm`."""
    if clip.prompt is None:
        raise ComposerError(clip.name, "not a prompted clip: it has no prompt to make it from")
    if clip.samples is None or clip.pass_s <= 0:
        raise ComposerError(clip.name, "has no audio, so its length is unknown")
    return PromptRequest(
        prompt=clip.prompt,
        seconds=round(clip.pass_s, 6),
        steps=DEFAULT_STEPS if clip.steps is None else clip.steps,
        guidance=DEFAULT_GUIDANCE if clip.guidance is None else clip.guidance,
        seed=(clip.seed or 0) if seed is None else seed,
        loop=clip.loop,
        bpm=bpm,
        key=key_named(clip.prompt),  # the key its text names
        beats_per_bar=beats_per_bar,
    )


def regenerate_clip(
    clip: AudioClip,
    seed: int | None = None,
    generator: PromptGenerator | None = None,
    progress: Progress | None = None,
    bpm: float | None = None,
    beats_per_bar: int | None = None,
) -> AudioClip:
    """A new AudioClip made again from `clip`'s prompt, length and settings (with `seed` if given), at `bpm`.

    The clip passed in is left as it is (undo keeps it); the new one has no file path until saved."""
    generator = generator or PromptGenerator()
    request = clip_request(clip, seed, bpm, beats_per_bar)
    request = validate_request(request, generator.diffusion_path, generator.vocoder_path)
    samples = generator.generate(request, progress)
    return replace(
        clip,
        path=None,
        samples=samples,
        sample_rate=SAMPLE_RATE,
        offset_s=0.0,  # made at the trimmed length: all of the new audio is heard
        length_s=None,
        seed=request.seed,
        steps=request.steps,
        guidance=request.guidance,
    )

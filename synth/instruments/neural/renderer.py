"""The performance renderer: the sounding notes -> causal log-mel frames, with the partials built in.

    r = Renderer(RendererConfig())
    log_mel = r(pitch, notes, track, program)            # offline, see forward() for shapes
    state = r.initial_state(batch_size=1)
    log_mel_k, state = r.step(pitch_k, notes_k, track_k, program, state)   # same frames, streaming

The network does not have to discover where a note's harmonics fall. For
each sounding note slot a small MLP (pitch and program embeddings plus the
numeric features of synth.instruments.neural.note_features) predicts controls: a spectral
envelope over the mel bands for the harmonic part, one for a noise part, and
how stretched the partials are (a stiff string's inharmonicity). A fixed step
(synth.instruments.neural.harmonics) puts the partials of the note's pitch, bent by the track's
pitch bend, on the mel bands with the filterbank's own response; the
envelope scales them, the noise adds, the notes' magnitudes sum (as the mel
of their summed audio does), then the log. A small causal residual network
over time corrects the summed log-mel (transients, body, room); its output
layer starts at zero, so an untrained renderer already plays the partials.
Nothing looks ahead: frame k depends only on features of frames <= k.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

from synth.instruments.neural.blocks import CausalConvNeXtBlock
from synth.instruments.neural.harmonics import fine_pitch_index, harmonic_combs
from synth.instruments.neural.mel import LOG_FLOOR, MelConfig
from synth.instruments.neural.note_features import BEND_SCALE_SEMITONES, N_NOTE_FEATURES, N_TRACK_FEATURES
from synth.instruments.neural.streaming import cumulative_delay

N_PROGRAMS = 129  # GM programs 0-127 and the drum kit (128)
HARMONIC_START = -4.0  # initial log gain of a partial (amplitude ~0.02)
NOISE_START = -9.0  # initial log magnitude of the noise part per band
MAX_NOTES_LIMIT = 64  # a file asking for more note slots is refused, not allocated
MAX_WIDTH = 4096


@dataclass
class RendererConfig:
    n_mels: int = 80
    max_notes: int = 16
    n_note_features: int = N_NOTE_FEATURES
    n_track_features: int = N_TRACK_FEATURES
    pitch_dim: int = 32
    program_dim: int = 32
    note_hidden: int = 128
    channels: int = 128
    hidden: int = 256
    n_blocks: int = 2
    kernel_size: int = 5

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if int(value) < 1:
                raise ValueError(f"{name} must be positive, not {value}")
        if self.max_notes > MAX_NOTES_LIMIT or max(asdict(self).values()) > MAX_WIDTH:
            raise ValueError(f"max_notes must be at most {MAX_NOTES_LIMIT} and every size at most {MAX_WIDTH}")

    def to_dict(self) -> dict:
        return asdict(self)

    def mel_config(self) -> MelConfig:
        return MelConfig(n_mels=self.n_mels)


@dataclass
class VoiceControls:
    """What the renderer tells the harmonic voice for T frames of B tracks (S note slots, M mel bands)."""

    active: torch.Tensor  # (B, T, S) bool: the slot sounds
    pitch_semitones: torch.Tensor  # (B, T, S): MIDI pitch with the bend
    age: torch.Tensor  # (B, T, S): the slot's note-age feature (it drops when a new note takes the slot)
    harmonic_gain: torch.Tensor  # (B, T, S, M): amplitude of a partial in each mel band
    stretch: torch.Tensor  # (B, T, S) in [0, 1]: share of the stiff-string comb
    noise_magnitude: torch.Tensor  # (B, T, M): the noise part's mel magnitude, all notes together


@dataclass
class RendererState:
    conv: list[torch.Tensor] = field(default_factory=list)  # per block: (B, C, context_frames)


@functools.lru_cache(maxsize=4)
def _combs(mel: MelConfig) -> torch.Tensor:
    return torch.from_numpy(harmonic_combs(mel))  # (2, P, n_mels)


class Renderer(nn.Module):
    def __init__(self, cfg: RendererConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.register_buffer("combs", _combs(cfg.mel_config()).clone(), persistent=False)
        self.pitch_emb = nn.Embedding(128, cfg.pitch_dim)
        self.program_emb = nn.Embedding(N_PROGRAMS, cfg.program_dim)
        note_in = cfg.pitch_dim + cfg.program_dim + cfg.n_note_features + 1
        self.note_mlp = nn.Sequential(
            nn.Linear(note_in, cfg.note_hidden),
            nn.GELU(),
            nn.Linear(cfg.note_hidden, cfg.note_hidden),
            nn.GELU(),
        )
        self.controls = nn.Linear(cfg.note_hidden, 2 * cfg.n_mels + 1)  # harmonic envelope, noise, stretch
        with torch.no_grad():
            self.controls.weight.mul_(0.1)
            self.controls.bias.zero_()
            self.controls.bias[: cfg.n_mels] = HARMONIC_START
            self.controls.bias[cfg.n_mels : 2 * cfg.n_mels] = NOISE_START
            self.controls.bias[-1] = -2.0  # mostly harmonic
        self.in_proj = nn.Linear(cfg.n_mels + cfg.note_hidden + cfg.n_track_features, cfg.channels)
        self.blocks = nn.ModuleList(
            CausalConvNeXtBlock(cfg.channels, cfg.hidden, cfg.kernel_size) for _ in range(cfg.n_blocks)
        )
        self.norm = nn.LayerNorm(cfg.channels)
        self.out = nn.Linear(cfg.channels, cfg.n_mels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    @property
    def delay_frames(self) -> int:
        return cumulative_delay(self.blocks)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def _comb(self, pitch_semitones: torch.Tensor, stretch: torch.Tensor) -> torch.Tensor:
        """(N,) float pitches, stretch weights in [0, 1] -> mel magnitudes of unit partials (N, M)."""
        index = fine_pitch_index(pitch_semitones)
        lo = index.floor().long().clamp(max=self.combs.shape[1] - 2)
        frac = (index - lo)[..., None]
        combs = self.combs
        plain = combs[0, lo] * (1 - frac) + combs[0, lo + 1] * frac
        stiff = combs[1, lo] * (1 - frac) + combs[1, lo + 1] * frac
        s = stretch[..., None]
        return plain * (1 - s) + stiff * s

    def note_mel(self, pitch, notes, track, program) -> tuple[torch.Tensor, torch.Tensor]:
        """The structured part: (summed log-mel (B, M, T), pooled note hidden (B, T, H))."""
        log_mel, pooled, _ = self._note_parts(pitch, notes, track, program)
        return log_mel, pooled

    def _note_parts(self, pitch, notes, track, program):
        """note_mel's two results plus the per-slot controls (index (b, t, s), log gains, stretch, bent pitch).

        pitch (B, T, S) int64, notes (B, T, S, F), track (B, T, G), program (B,) int64. Only the
        sounding slots (notes[..., 0] = 1) are computed; empty ones add nothing.
        """
        B, T, S = pitch.shape
        M = self.cfg.n_mels
        b, t, s = torch.nonzero(notes[..., 0] > 0, as_tuple=True)  # the sounding slots, (N,) each
        p = pitch[b, t, s]
        feats = notes[b, t, s]  # (N, F)
        scalar = (p.to(feats.dtype) / 64.0 - 1.0)[:, None]
        h = self.note_mlp(torch.cat([self.pitch_emb(p), self.program_emb(program[b]), feats, scalar], dim=-1))
        c = self.controls(h)  # (N, 2M + 1)
        harmonic, noise, stretch = c[:, :M], c[:, M : 2 * M], torch.sigmoid(c[:, 2 * M])
        bent = p.to(feats.dtype) + track[b, t, 1] * BEND_SCALE_SEMITONES  # (N,)
        magnitude = torch.exp(harmonic) * self._comb(bent, stretch) + torch.exp(noise)  # (N, M)
        frame = b * T + t
        total = magnitude.new_zeros(B * T, M).index_add(0, frame, magnitude)
        pooled = h.new_zeros(B * T, h.shape[1]).index_add(0, frame, h)
        log_mel = torch.log(total + LOG_FLOOR).view(B, T, M)
        return log_mel.transpose(1, 2), pooled.view(B, T, -1), ((b, t, s), harmonic, noise, stretch, bent)

    def _residual_in(self, log_mel, pooled, track) -> torch.Tensor:
        return self.in_proj(torch.cat([log_mel.transpose(1, 2), pooled, track], dim=-1)).transpose(1, 2)

    def _residual_out(self, log_mel, x) -> torch.Tensor:
        return log_mel + self.out(self.norm(x.transpose(1, 2))).transpose(1, 2)

    def forward(
        self, pitch: torch.Tensor, notes: torch.Tensor, track: torch.Tensor, program: torch.Tensor
    ) -> torch.Tensor:
        """pitch (B, T, S) int64, notes (B, T, S, F), track (B, T, G), program (B,) int64 -> (B, n_mels, T)."""
        log_mel, pooled = self.note_mel(pitch, notes, track, program)
        x = self._residual_in(log_mel, pooled, track)
        for block in self.blocks:
            x = block(x)
        return self._residual_out(log_mel, x)

    def initial_state(self, batch_size: int = 1) -> RendererState:
        return RendererState([b.initial_state(batch_size) for b in self.blocks])

    def step(self, pitch, notes, track, program, state: RendererState) -> tuple[torch.Tensor, RendererState]:
        """The next frames (shapes as in forward) after those `state` has seen -> ((B, n_mels, T), new state)."""
        log_mel, pooled = self.note_mel(pitch, notes, track, program)
        return self._step_residual(log_mel, pooled, track, state)

    def _step_residual(self, log_mel, pooled, track, state: RendererState) -> tuple[torch.Tensor, RendererState]:
        x = self._residual_in(log_mel, pooled, track)
        conv = []
        for block, s in zip(self.blocks, state.conv, strict=True):
            x, s = block.step(x, s)
            conv.append(s)
        return self._residual_out(log_mel, x), RendererState(conv)

    def step_controls(
        self, pitch, notes, track, program, state: RendererState
    ) -> tuple[VoiceControls, torch.Tensor, RendererState]:
        """As `step`, plus the controls the harmonic voice plays (synth.instruments.neural.harmonic_voice):
        (controls of the T frames, log-mel (B, n_mels, T), new state). The residual's correction of the
        summed log-mel becomes a gain per band on every note."""
        B, T, S = pitch.shape
        log_mel, pooled, ((b, t, s), harmonic, noise, stretch, bent) = self._note_parts(pitch, notes, track, program)
        out, state = self._step_residual(log_mel, pooled, track, state)
        correction = (out - log_mel).transpose(1, 2)  # (B, T, M)
        M = self.cfg.n_mels
        harm = torch.zeros(B, T, S, M, dtype=out.dtype, device=out.device)
        harm[b, t, s] = torch.exp(harmonic + correction[b, t])
        noise_total = out.new_zeros(B, T, M).index_put_((b, t), torch.exp(noise + correction[b, t]), accumulate=True)
        semitones = torch.zeros(B, T, S, dtype=out.dtype, device=out.device)
        semitones[b, t, s] = bent
        stiff = torch.zeros_like(semitones)
        stiff[b, t, s] = stretch
        age = notes[..., 2]
        return VoiceControls(notes[..., 0] > 0, semitones, age, harm, stiff, noise_total), out, state

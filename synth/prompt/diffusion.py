"""The text-conditioned mel diffusion model: a DiT over patches of the log-mel.

    model = MelDiT(DiffusionConfig())
    v = model(x, t, text_emb, drop)    # (B, 80, F) normalised mel, (B,) in [0, 1], (B, 384), (B,) bool
                                       # -> velocity (B, 80, F); see synth/prompt/flow_sampler.py for the convention

Each token is one patch of `patch_frames` frames x all `n_mels` bands, so a
512-frame clip is 64 tokens. Conditioning (timestep embedding + projected text
embedding) enters every block by adaLN-Zero (DiT): per-block shift, scale and
gate regressed from the conditioning vector, the regressors and the output
projection initialised to zero so each block starts as the identity and the
transformer's prediction as 0. A token sees its patch only through a
d_model-wide projection (640 -> 192 values by default), so most directions of
the noise are invisible to the transformer. A skip path predicts every
direction the way the exact flow would for Gaussian patches: in a basis of
the patch (orthonormal DCT over its frames x principal directions of the
bands, `band_basis`, set from the training data by the trainer) each
component c gets v_c = a(t) c with a(t) = (t s^2 - (1 - t)) / ((1 - t)^2 +
t^2 s^2) and s^2 its learned variance (initialised from the data). The
untrained model is then the exact flow of the data's Gaussian approximation,
and directions the transformer cannot see get their own (mostly small)
variance, not unit noise. The transformer adds its prediction on top.

A learned null text embedding stands in for a dropped condition
(classifier-free guidance). The model works in normalised mel (per-band
mean/std, carried in the config so the checkpoint holds them);
`normalize`/`denormalize` convert from and to the log-mel.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.nn import functional as F

from synth.prompt.controls import GLOBAL_DIM, GRID_DIM

TIME_FREQUENCIES = 256  # sinusoidal features of t before the timestep MLP
SKIP_LOG_VAR_MIN, SKIP_LOG_VAR_MAX = -9.2, 9.2  # s^2 in [1e-4, 1e4]: |a(t)| <= max(1 / (2 s), 1 / t)


@dataclass
class DiffusionConfig:
    n_mels: int = 80
    clip_frames: int = 512  # the longest window the model sees (5.46 s at 93.75 frames/s)
    patch_frames: int = 8  # frames per token
    d_model: int = 192
    n_layers: int = 6
    n_heads: int = 6
    mlp_ratio: float = 4.0
    text_dim: int = 384
    cond_dropout: float = 0.15  # training only: the share of examples whose text is replaced by the null embedding
    # Tempo, key, meter and the beat grid as inputs (synth/prompt/controls.py); False in files made before them.
    controls: bool = False
    control_dropout: float = 0.15  # training only: each of tempo, key and grid made unknown this often
    mel_mean: list[float] = field(default_factory=list)  # per band, of the training log-mel; empty: 0
    mel_std: list[float] = field(default_factory=list)  # per band; empty: 1

    def __post_init__(self) -> None:
        for name in ("n_mels", "clip_frames", "patch_frames", "d_model", "n_layers", "n_heads", "text_dim"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)}")
        if self.clip_frames % self.patch_frames:
            raise ValueError(
                f"clip_frames ({self.clip_frames}) must be a multiple of patch_frames ({self.patch_frames})"
            )
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model ({self.d_model}) must be a multiple of n_heads ({self.n_heads})")
        for name in ("cond_dropout", "control_dropout"):
            if not 0 <= getattr(self, name) < 1:
                raise ValueError(f"{name} must be in [0, 1), not {getattr(self, name)}")
        self.mel_mean = [float(v) for v in self.mel_mean] or [0.0] * self.n_mels
        self.mel_std = [float(v) for v in self.mel_std] or [1.0] * self.n_mels
        if len(self.mel_mean) != self.n_mels or len(self.mel_std) != self.n_mels:
            raise ValueError(f"mel_mean and mel_std need {self.n_mels} values each")
        if min(self.mel_std) <= 0 or not all(math.isfinite(v) for v in self.mel_mean + self.mel_std):
            raise ValueError("mel_std must be positive and mel_mean/mel_std finite")

    @property
    def max_tokens(self) -> int:
        return self.clip_frames // self.patch_frames

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Controls:
    """The controls of a batch as tensors: global_features (B, GLOBAL_DIM), grid (B, F, GRID_DIM); all zero
    where not known (synth/prompt/controls.py makes them)."""

    global_features: torch.Tensor
    grid: torch.Tensor

    @classmethod
    def of(cls, labels, n_frames: int, frame0=0, device: torch.device | str = "cpu") -> Controls:
        from synth.prompt.controls import global_features, grid_features

        g = torch.from_numpy(global_features(labels)).to(device)
        return cls(g, torch.from_numpy(grid_features(labels, n_frames, frame0)).to(device))

    def dropped(self, drop: torch.Tensor) -> Controls:
        """Unknown (zero) where drop (B,) is True."""
        keep = (~drop).to(self.grid.dtype)
        return Controls(self.global_features * keep[:, None], self.grid * keep[:, None, None])

    def take(self, index) -> Controls:
        return Controls(self.global_features[index], self.grid[index])

    def without_key(self) -> Controls:
        """The same controls with the key unknown (the key guidance's reference)."""
        from synth.prompt.controls import KEY_DIM, TEMPO_DIM

        g = self.global_features.clone()
        g[:, TEMPO_DIM : TEMPO_DIM + KEY_DIM] = 0
        return Controls(g, self.grid)

    def key_known(self) -> bool:
        """Whether any item of the batch has a key."""
        from synth.prompt.controls import TEMPO_DIM

        return bool((self.global_features[:, TEMPO_DIM] != 0).any())

    def repeat(self, n: int) -> Controls:
        """The batch n times over (for the guided and unguided halves of one pass)."""
        return Controls(self.global_features.repeat(n, 1), self.grid.repeat(n, 1, 1))


def sinusoidal(positions: torch.Tensor, dim: int, max_period: float = 10_000.0) -> torch.Tensor:
    """(N,) positions (any real values) -> (N, dim) [cos | sin] features."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=positions.device) / half)  # (half,)
    angles = positions.float()[:, None] * freqs[None]  # (N, half)
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=-1)


def dct_matrix(n: int) -> torch.Tensor:
    """The orthonormal DCT-II as an (n, n) matrix: row k is the k-th cosine over n samples."""
    k, i = torch.arange(n, dtype=torch.float64)[:, None], torch.arange(n, dtype=torch.float64)[None]
    basis = torch.cos(math.pi * (i + 0.5) * k / n) * math.sqrt(2 / n)
    basis[0] /= math.sqrt(2)
    return basis.float()


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """x (B, T, C) with per-example shift and scale (B, C)."""
    return x * (1 + scale[:, None]) + shift[:, None]


class DiTBlock(nn.Module):
    """Pre-norm attention + MLP, both modulated and gated by the conditioning vector (adaLN-Zero)."""

    def __init__(self, cfg: DiffusionConfig) -> None:
        super().__init__()
        d = cfg.d_model
        self.n_heads = cfg.n_heads
        self.norm1 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.norm2 = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        hidden = int(d * cfg.mlp_ratio)
        self.mlp = nn.Sequential(nn.Linear(d, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, d))
        self.ada = nn.Sequential(nn.SiLU(), nn.Linear(d, 6 * d))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """x (B, T, C) tokens, c (B, C) conditioning -> (B, T, C)."""
        B, T, C = x.shape
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(c).chunk(6, dim=-1)  # (B, C) each
        q, k, v = self.qkv(modulate(self.norm1(x), shift1, scale1)).split(C, dim=-1)
        q, k, v = (z.view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2) for z in (q, k, v))  # (B, H, T, c)
        attn = F.scaled_dot_product_attention(q, k, v)  # (B, H, T, c)
        x = x + gate1[:, None] * self.proj(attn.transpose(1, 2).reshape(B, T, C))
        return x + gate2[:, None] * self.mlp(modulate(self.norm2(x), shift2, scale2))


class MelDiT(nn.Module):
    """Normalised log-mel (B, n_mels, F), t (B,), text (B, text_dim) -> velocity (B, n_mels, F).

    F may be anything up to `clip_frames`; it is padded to a whole number of patches inside.
    """

    def __init__(self, cfg: DiffusionConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, patch_dim = cfg.d_model, cfg.patch_frames * cfg.n_mels
        self.patch_in = nn.Linear(patch_dim, d)
        self.register_buffer("pos_fixed", sinusoidal(torch.arange(cfg.max_tokens), d), persistent=False)
        self.pos_learned = nn.Parameter(torch.zeros(cfg.max_tokens, d))  # learned on top of the sinusoids
        self.time_mlp = nn.Sequential(nn.Linear(TIME_FREQUENCIES, d), nn.SiLU(), nn.Linear(d, d))
        self.text_mlp = nn.Sequential(nn.Linear(cfg.text_dim, d), nn.SiLU(), nn.Linear(d, d))
        self.null_text = nn.Parameter(torch.randn(cfg.text_dim) / math.sqrt(cfg.text_dim))
        if cfg.controls:  # tempo/key/meter into the conditioning vector, the beat grid into each token
            self.control_mlp = nn.Sequential(nn.Linear(GLOBAL_DIM, d), nn.SiLU(), nn.Linear(d, d))
            self.grid_in = nn.Linear(cfg.patch_frames * GRID_DIM, d)
        self.blocks = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.n_layers))
        self.norm_out = nn.LayerNorm(d, elementwise_affine=False, eps=1e-6)
        self.ada_out = nn.Sequential(nn.SiLU(), nn.Linear(d, 2 * d))
        self.patch_out = nn.Linear(d, patch_dim)
        self.register_buffer("time_basis", dct_matrix(cfg.patch_frames), persistent=False)  # (P, P), rows
        self.register_buffer("band_basis", torch.eye(cfg.n_mels))  # (M, M), columns; the trainer sets it
        self.skip_log_var = nn.Parameter(torch.zeros(cfg.patch_frames, cfg.n_mels))  # log s^2 per component
        self.register_buffer("mel_mean", torch.tensor(cfg.mel_mean).view(1, -1, 1), persistent=False)
        self.register_buffer("mel_std", torch.tensor(cfg.mel_std).view(1, -1, 1), persistent=False)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.time_mlp[0].weight, std=0.02)
        nn.init.normal_(self.time_mlp[2].weight, std=0.02)
        # adaLN-Zero: every block starts as the identity and the output as 0.
        for block in self.blocks:
            nn.init.zeros_(block.ada[-1].weight)
            nn.init.zeros_(block.ada[-1].bias)
        zeroed = [self.ada_out[-1], self.patch_out]
        if self.cfg.controls:  # controls start unheard: a model fine-tuned from one without them starts as it
            zeroed += [self.control_mlp[-1], self.grid_in]
        for layer in zeroed:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def normalize(self, log_mel: torch.Tensor) -> torch.Tensor:
        """Log-mel (B, n_mels, F) -> the model's space (zero mean, unit std per band over the training data)."""
        return (log_mel - self.mel_mean) / self.mel_std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mel_std + self.mel_mean

    def skip_gain(self, t: torch.Tensor) -> torch.Tensor:
        """t (B,) -> a(t) (B, 1, P, M): the exact flow's velocity gain per component of variance s^2."""
        var = self.skip_log_var.clamp(SKIP_LOG_VAR_MIN, SKIP_LOG_VAR_MAX).exp()[None, None]  # (1, 1, P, M)
        t = t.view(-1, 1, 1, 1).to(var.dtype)
        return (t * var - (1 - t)) / ((1 - t) ** 2 + t**2 * var)

    def to_components(self, patches: torch.Tensor) -> torch.Tensor:
        """Patches (B, T, P, M) -> their coordinates in the skip's basis (B, T, P, M)."""
        return torch.einsum("kp,btpm,mj->btkj", self.time_basis, patches, self.band_basis)

    def from_components(self, components: torch.Tensor) -> torch.Tensor:
        return torch.einsum("kp,btkj,mj->btpm", self.time_basis, components, self.band_basis)

    def skip(self, patches: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The Gaussian flow's velocity for patches (B, T, P, M) at times t (B,)."""
        return self.from_components(self.skip_gain(t) * self.to_components(patches))

    def condition(
        self, t: torch.Tensor, text: torch.Tensor, drop: torch.Tensor | None = None, controls: Controls | None = None
    ) -> torch.Tensor:
        """t (B,), text (B, text_dim), drop (B,) bool (True: use the null text) -> conditioning vector (B, d)."""
        if drop is not None:
            text = torch.where(drop[:, None], self.null_text.to(text.dtype)[None], text)
        t_emb = self.time_mlp(sinusoidal(t * 1000.0, TIME_FREQUENCIES).to(text.dtype))
        c = t_emb + self.text_mlp(text)
        if controls is not None and self.cfg.controls:
            c = c + self.control_mlp(controls.global_features.to(text.dtype))
        return c

    def forward(
        self,
        x: torch.Tensor,
        t: torch.Tensor,
        text: torch.Tensor,
        drop: torch.Tensor | None = None,
        controls: Controls | None = None,
    ) -> torch.Tensor:
        """`controls`: the tempo/key/meter features (B, GLOBAL_DIM) and the beat grid (B, F, GRID_DIM) of
        synth/prompt/controls.py; ignored by a model without them; `drop` drops them with the text."""
        B, M, n_frames = x.shape
        if controls is not None and drop is not None:
            controls = controls.dropped(drop)
        cfg = self.cfg
        if cfg.n_mels != M or not 0 < n_frames <= cfg.clip_frames:
            raise ValueError(f"expected (B, {cfg.n_mels}, 1..{cfg.clip_frames}) mel, got {tuple(x.shape)}")
        P = cfg.patch_frames
        T = -(-n_frames // P)
        x = F.pad(x, (0, T * P - n_frames))  # (B, M, T * P)
        patches = x.view(B, M, T, P).permute(0, 2, 3, 1)  # (B, T, P, M)
        tokens = patches.reshape(B, T, P * M)  # frame-major
        h = self.patch_in(tokens) + self.pos_fixed[:T] + self.pos_learned[:T]  # (B, T, d)
        if controls is not None and cfg.controls:
            grid = F.pad(controls.grid.to(h.dtype), (0, 0, 0, T * P - n_frames))  # (B, T * P, GRID_DIM)
            h = h + self.grid_in(grid.reshape(B, T, P * GRID_DIM))
        c = self.condition(t, text, drop, controls)  # (B, d)
        for block in self.blocks:
            h = block(h, c)
        shift, scale = self.ada_out(c).chunk(2, dim=-1)
        out = self.patch_out(modulate(self.norm_out(h), shift, scale))  # (B, T, P * M)
        out = out + self.skip(patches, t).reshape(B, T, P * M)
        out = out.view(B, T, P, M).permute(0, 3, 1, 2).reshape(B, M, T * P)  # (B, M, T * P)
        return out[:, :, :n_frames]

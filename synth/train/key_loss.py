"""A key term for the diffusion loss: the velocity's error in the clip's pitch-class balance, weighted apart.

    directions = pitch_class_directions()             # (12, n_mels) float32, unit rows, zero-sum across classes
    term = key_error(v_error, mel_std, directions)    # scalar: mean squared pitch-class error of the clip means

The flow loss weighs every band of every frame alike, so the few directions in which the key shows (how much
of the clip's energy lies on each pitch class's harmonics) are a small part of what the model is told to get
right, and a model that barely follows its key control loses little. This term is the same error seen through
those directions: the error (normalised mel, B x M x F) is turned back into log-mel units, averaged over the
clip's frames and projected on the twelve pitch classes' mel images (synth/prompt/controls.py: each class's
notes' first harmonics through the filterbank), less their mean, so what lifts every class alike costs little
here (a level error over all bands: 3 % of what a pitch class's own pattern of the same size costs; a tilt
from low to high bands: 9 %). Its minimiser is the flow loss's own (the conditional mean of the
velocity), so it moves where the model spends its capacity, not what it converges to.
"""

from __future__ import annotations

import torch

from synth.prompt.controls import pitch_class_mel_images


def pitch_class_directions() -> torch.Tensor:
    """(12, n_mels): each pitch class's share of the bands less the classes' mean, scaled to unit norm."""
    images = torch.from_numpy(pitch_class_mel_images()).float()  # (12, M), columns sum to 1
    centred = images - images.mean(dim=0, keepdim=True)
    return centred / centred.norm(dim=1, keepdim=True).clamp(min=1e-9)


def key_error(v_error: torch.Tensor, mel_std: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """v_error (B, M, F) in normalised mel, mel_std (M,) or (M, 1), directions (12, M) -> mean squared
    pitch-class error of the clip-mean log-mel error (scalar)."""
    clip_mean = (v_error * mel_std.reshape(1, -1, 1)).mean(dim=-1)  # (B, M) log-mel units
    return (clip_mean @ directions.T.to(clip_mean.dtype)).pow(2).mean()

"""Prompted audio at the tempo asked for: the made log-mel's beat is measured and its frames resampled to it.

    bpm = tempo_in_prompt("drum groove at 128 BPM")         # 128.0 (None when the text names no tempo)
    ratio = stretch_ratio(estimated_bpm=141.0, wanted_bpm=128.0)   # 1.10: the clip is played 10 % slower
    log_mel = stretch_log_mel(log_mel, ratio, n_frames_out)        # (n_mels, n_frames_out)

The diffusion model follows tempo words in its prompt loosely (asked 80 / 100 / 128 / 150 BPM, it made
69 / 107 / 112 / 172). What a DAW's warp does, done on the mel before the vocoder: the clip's tempo is
estimated (synth.prompt.music_analysis: onset autocorrelation) and the mel's frames are resampled in
time by the ratio, which changes the tempo and not the pitch (the vocoder makes each frame's spectrum
anew). Half and double time are the same groove, so of the octave-equivalent ratios the one within
[1/sqrt(2), sqrt(2)] is taken: no clip is stretched by more than 41 %. A request with a tempo is made
HEADROOM longer, so a clip played slower still fills it. Frames are interpolated in power, not in log.
"""

from __future__ import annotations

import math
import re

import numpy as np

MAX_STRETCH = math.sqrt(2.0)
HEADROOM = MAX_STRETCH  # frames made per frame asked for, when a tempo is asked for
MIN_BPM, MAX_BPM = 40.0, 240.0
_BPM_WORDS = re.compile(r"(\d{2,3}(?:\.\d+)?)\s*(?:bpm|beats per minute)\b", re.IGNORECASE)


def tempo_in_prompt(prompt: str) -> float | None:
    """The tempo a prompt names ("... at 128 BPM"), or None."""
    match = _BPM_WORDS.search(prompt)
    if match is None:
        return None
    bpm = float(match.group(1))
    return bpm if MIN_BPM <= bpm <= MAX_BPM else None


def stretch_ratio(estimated_bpm: float, wanted_bpm: float) -> float:
    """How much longer the clip must play (> 1: it is too fast), folded by octaves into [1/sqrt 2, sqrt 2];
    1.0 when the clip's tempo could not be measured."""
    if not (math.isfinite(estimated_bpm) and estimated_bpm > 0 and wanted_bpm > 0):
        return 1.0
    ratio = estimated_bpm / wanted_bpm
    while ratio > MAX_STRETCH:
        ratio /= 2.0
    while ratio < 1.0 / MAX_STRETCH:
        ratio *= 2.0
    return ratio


def stretch_log_mel(log_mel: np.ndarray, ratio: float, n_frames_out: int) -> np.ndarray:
    """(n_mels, T) log-mel played `ratio` times longer, as (n_mels, n_frames_out): output frame j is the
    source at frame j / ratio, linearly interpolated in power (the last frame held past the end)."""
    log_mel = np.asarray(log_mel, dtype=np.float64)
    n_mels, n_in = log_mel.shape
    if n_in == 0:
        raise ValueError("an empty log-mel has no tempo to change")
    position = np.minimum(np.arange(n_frames_out, dtype=np.float64) / ratio, n_in - 1)
    lo = np.floor(position).astype(np.int64)
    hi = np.minimum(lo + 1, n_in - 1)
    frac = position - lo
    power = np.exp(log_mel)
    mixed = power[:, lo] * (1.0 - frac) + power[:, hi] * frac
    return np.log(mixed).astype(np.float32)


def frames_to_make(n_frames_out: int) -> int:
    """Frames to make so that any ratio down to 1/sqrt 2 still fills n_frames_out (a frame to spare)."""
    return int(math.ceil(n_frames_out * HEADROOM)) + 2

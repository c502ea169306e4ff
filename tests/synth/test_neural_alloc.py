"""The neural path's render blocks make no sample memory: tracemalloc's count of what one block allocates.

Before the buffers were made once, a 256-frame block with 16 sounding notes
allocated about 0.9 MB (2 MB on the blocks that run a frame) through numpy:
the harmonic voice's (partials, hop) phase and sine arrays, the features'
np.stack, the resampler's np.concatenate. What remains is numpy's small
transient buffers (np.compress of a mask, mixed-dtype adds) and Python's
own objects (views, scalars), freed at once.
"""

from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest
import torch
from neural_fixtures import tiny_renderer, tiny_vocoder

from synth.instruments.neural.neural_synth import RELEASE_BINS, NeuralModels, NeuralSynth

BLOCK_FRAMES = 256
# Measured with 16 notes: harmonic voice 8-18 kB a block (0.9-2.8 MB before); the vocoder's samples are
# torch's (not traced), its numpy and Python side 2.5-3.6 kB (4.6-6.7 kB before: np.stack, np.concatenate).
BLOCK_BYTES_BOUND = {"harmonic": 32_000, "vocoder": 5_000}


@pytest.fixture(autouse=True)
def keep_torch_threads():
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def block_peaks(synth: NeuralSynth, blocks: int = 40) -> list[int]:
    """The bytes each render_into block allocated at its peak (tracemalloc), after a warm-up."""
    out = np.zeros(BLOCK_FRAMES, np.float32)
    for _ in range(20):
        synth.render_into(out)
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        peaks = []
        for _ in range(blocks):
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            synth.render_into(out)
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
    finally:
        tracemalloc.stop()
        gc.enable()
    assert np.abs(out).max() > 0  # the notes sound: the models ran
    return peaks


@pytest.mark.parametrize("voice", ["harmonic", "vocoder"])
@pytest.mark.parametrize("sample_rate", [48000, 44100])
@pytest.mark.parametrize("curves", [False, True])
def test_a_block_with_16_notes_allocates_under_the_bound(voice, sample_rate, curves):
    models = NeuralModels(tiny_renderer(), tiny_vocoder())
    if curves:  # level curves by pitch and velocity (synth/train/note_level.py): the slot gains' arrays are made once
        models.pitch_gain_db = {0: tuple(np.linspace(-6.0, 6.0, 128))}
        models.velocity_gain_db = {0: tuple(np.linspace(-3.0, 3.0, 128))}
        models.release_gain_db = {0: tuple(np.linspace(0.0, -40.0, RELEASE_BINS))}  # and the release curve
    synth = NeuralSynth(models, 0, sample_rate, block_frames=BLOCK_FRAMES, voice=voice)
    for k in range(16):
        synth.note_on(40 + 3 * k, 90, k)
    if curves:  # half of them released: their slots fade by the release curve and the release rule
        for k in range(8):
            synth.note_off(40 + 3 * k, 4096)
    peaks = block_peaks(synth)
    assert synth.active_voices == 16  # a released note keeps its slot while it fades
    assert max(peaks) < BLOCK_BYTES_BOUND[voice], f"a block allocated {max(peaks)} bytes (median {np.median(peaks)})"


def test_render_into_and_render_give_the_same_samples():
    models = NeuralModels(tiny_renderer(), tiny_vocoder())
    a, b = (NeuralSynth(models, 0, 48000, block_frames=BLOCK_FRAMES) for _ in range(2))
    for synth in (a, b):
        for k in range(16):
            synth.note_on(40 + 3 * k, 90, k)
    out = np.zeros(BLOCK_FRAMES, np.float32)
    for _ in range(30):
        a.render_into(out)
        assert np.array_equal(out, b.render(BLOCK_FRAMES))


@pytest.mark.parametrize("voice", ["harmonic", "vocoder"])
def test_a_synth_back_from_idle_plays_as_a_fresh_one(voice):
    """Going idle zeroes the models' states in place (the noise generator rewound): the next notes sound
    exactly as on a synth that was never played."""
    models = NeuralModels(tiny_renderer(), tiny_vocoder())
    played, fresh = (NeuralSynth(models, 0, 48000, block_frames=BLOCK_FRAMES, voice=voice) for _ in range(2))
    chord = (48, 55, 60, 64)
    for pitch in chord:
        played.note_on(pitch, 100, 3)
    out = np.zeros(BLOCK_FRAMES, np.float32)
    for _ in range(20):
        played.render_into(out)
        fresh.render_into(out)
    assert np.abs(out).max() == 0 and played.active_voices == len(chord)
    for pitch in chord:
        played.note_off(pitch, 0)
    blocks = 0
    while played.active_voices:  # the released notes keep their slots for seconds, then the pipeline drains
        played.render_into(out)
        fresh.render_into(out)
        blocks += 1
    assert blocks > 100
    for synth in (played, fresh):
        for pitch in chord:
            synth.note_on(pitch, 90, 17)
    for _ in range(60):
        assert np.array_equal(played.render(BLOCK_FRAMES), fresh.render(BLOCK_FRAMES))
    assert np.abs(played.render(BLOCK_FRAMES)).max() > 0

"""The prompt model's controls: tempo, key, meter and the beat grid (synth/prompt/controls.py), the clips'
labels, and a controls model that starts as the model it is fine-tuned from."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from composer.song import Note
from synth.data.prompt_data import corpus_clip, pattern_clip
from synth.prompt.controls import (
    FRAMES_PER_S,
    GLOBAL_DIM,
    GRID_DIM,
    KEY_DIM,
    TEMPO_DIM,
    ControlLabels,
    global_features,
    grid_features,
    labels_of_clips,
    pitch_class_mel_images,
)
from synth.prompt.diffusion import Controls, DiffusionConfig, MelDiT
from synth.prompt.flow_sampler import guided_velocity, sample_mel

TINY = {"d_model": 32, "n_layers": 2, "n_heads": 2, "clip_frames": 64}


def labels(bpm=120.0, key_pc=2, minor=1, beats=4, first=0.0, n=1) -> ControlLabels:
    return ControlLabels.of([bpm] * n, [key_pc] * n, [minor] * n, [beats] * n, [first] * n)


def test_the_pulse_peaks_on_every_beat_and_the_bar_phase_turns_once_a_bar():
    grid = grid_features(labels(bpm=120.0), 512)[0]  # (512, GRID_DIM)
    beat_frames = FRAMES_PER_S * 0.5  # 46.875
    for k in range(1, 11):
        around = int(k * beat_frames) - 5
        peak = around + int(np.argmax(grid[around : around + 11, 5]))
        assert abs(peak - k * beat_frames) <= 0.5 and grid[peak, 5] > 0.8
        assert grid[int((k - 0.5) * beat_frames), 5] < 0.01  # off the beat: none
    assert grid[0, 5] == pytest.approx(1.0) and (grid[:, 0] == 1).all()
    bar = round(4 * beat_frames)
    np.testing.assert_allclose(grid[0, 3:5], grid[bar, 3:5], atol=0.05)  # one bar on: the same bar phase
    assert grid[round(2 * beat_frames), 3] == pytest.approx(-1.0, abs=0.01)  # half a bar: opposite


def test_a_window_that_continues_keeps_the_grid():
    whole = grid_features(labels(bpm=97.0, first=0.2), 700)
    later = grid_features(labels(bpm=97.0, first=0.2), 300, frame0=400)
    np.testing.assert_allclose(later, whole[:, 400:], atol=1e-5)


def test_what_is_not_known_is_zero():
    unknown = ControlLabels.unknown(3)
    assert not global_features(unknown).any() and not grid_features(unknown, 64).any()
    no_key = global_features(labels(key_pc=None, minor=None))[0]
    assert not no_key[TEMPO_DIM : TEMPO_DIM + KEY_DIM].any() and no_key[:TEMPO_DIM].any()
    no_bar = grid_features(labels(beats=None), 64)[0]
    assert not no_bar[:, 3:5].any() and no_bar[:, 5].any()  # a corpus excerpt: beats, no bar line
    dropped = labels(n=3).dropped(np.array([True, False, False]), np.array([False, True, False]), np.zeros(3, bool))
    g, grid = global_features(dropped), grid_features(dropped, 64)
    assert not g[0, :TEMPO_DIM].any() and not grid[0].any() and g[0, TEMPO_DIM]  # tempo gone, key kept
    assert g[1, :TEMPO_DIM].any() and not g[1, TEMPO_DIM : TEMPO_DIM + KEY_DIM].any()
    assert g.shape == (3, GLOBAL_DIM) and grid.shape == (3, 64, GRID_DIM)


def test_the_key_shows_where_its_scale_lies_on_the_mel_bands():
    images = pitch_class_mel_images()
    assert images.shape == (12, 80) and np.allclose(images.sum(axis=0)[images.sum(axis=0) > 0], 1.0)
    c_major = global_features(labels(key_pc=0, minor=0))[0, TEMPO_DIM : TEMPO_DIM + KEY_DIM]
    a_minor = global_features(labels(key_pc=9, minor=1))[0, TEMPO_DIM : TEMPO_DIM + KEY_DIM]
    d_major = global_features(labels(key_pc=2, minor=0))[0, TEMPO_DIM : TEMPO_DIM + KEY_DIM]
    assert np.allclose(c_major[15:], a_minor[15:])  # the same notes: the same chroma and mel image
    assert not np.allclose(c_major[1:13], a_minor[1:13])  # another tonic
    assert np.abs(c_major[27:] - d_major[27:]).max() > 0.1  # two sharps move energy between low bands


def test_clip_records_give_their_labels():
    lines = [
        {"bpm": 90.0, "key": "Eb", "mode": "minor", "source": "pattern"},  # an older build: no grid fields
        {"bpm": 100.0, "key": "C", "mode": "major", "source": "bach/x.mxl"},
        {"bpm": 140.0, "key": None, "mode": None, "source": "pattern", "first_beat_s": 0.0, "beats_per_bar": 4},
        {"bpm": 80.0, "key": "A", "mode": "minor", "source": "x", "first_beat_s": 0.31, "beats_per_bar": None},
    ]
    got = labels_of_clips(lines)
    assert got.key_pc.tolist() == [3, 0, -1, 9] and got.minor.tolist() == [1, 0, -1, 1]
    assert got.beats_per_bar.tolist() == [4, 0, 4, 0]
    assert got.first_beat_s[0] == 0.0 and np.isnan(got.first_beat_s[1]) and got.first_beat_s[3] == 0.31


def test_a_corpus_excerpt_knows_its_beat():
    rng = np.random.default_rng(3)
    notes = [Note(60 + (i * 5) % 12, 80, 0.3 * i, 0.3 * i + 0.3) for i in range(120)]  # eighths at 100 BPM
    clip = corpus_clip(rng, 42, notes, 100.0, "test/piece.mid")
    assert clip is not None and clip.meta.beats_per_bar is None
    beat_s = 60.0 / clip.meta.bpm
    assert 0 <= clip.meta.first_beat_s < beat_s
    half_beats = [(n.start_s - clip.meta.first_beat_s) / (beat_s / 2) for n in clip.notes]
    assert max(abs(h - round(h)) for h in half_beats) < 0.02  # every eighth on the grid from its first beat
    assert pattern_clip(rng, 42).meta.first_beat_s == 0.0 and pattern_clip(rng, None).meta.beats_per_bar == 4


def test_a_controls_model_starts_as_the_model_it_is_fine_tuned_from():
    torch.manual_seed(0)
    plain = MelDiT(DiffusionConfig(**TINY))
    for p in plain.parameters():  # a trained model: nothing at zero
        p.data.normal_(0, 0.05)
    controlled = MelDiT(DiffusionConfig(**TINY, controls=True))
    missing, unexpected = controlled.load_state_dict(plain.state_dict(), strict=False)
    assert not unexpected and all(k.startswith(("control_mlp.", "grid_in.")) for k in missing)
    x, t, text = torch.randn(2, 80, 64), torch.tensor([0.3, 0.8]), torch.randn(2, 384)
    controls = Controls.of(labels(n=2), 64)
    with torch.no_grad():
        torch.testing.assert_close(controlled(x, t, text, None, controls), plain(x, t, text))
    controlled(x, t, text, None, controls).pow(2).mean().backward()  # and the controls get a gradient
    assert controlled.control_mlp[-1].weight.grad.abs().sum() > 0 and controlled.grid_in.weight.grad.abs().sum() > 0


def test_dropping_the_text_drops_the_controls():
    torch.manual_seed(0)
    model = MelDiT(DiffusionConfig(**TINY, controls=True))
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    x, t, text = torch.randn(1, 80, 64), torch.tensor([0.5]), torch.randn(1, 384)
    drop = torch.tensor([True])
    with torch.no_grad():
        a = model(x, t, text, drop, Controls.of(labels(bpm=70.0), 64))
        b = model(x, t, text, drop, Controls.of(labels(bpm=150.0, key_pc=5), 64))
        c = model(x, t, text, None, Controls.of(labels(bpm=150.0, key_pc=5), 64))
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)


def test_key_guidance_pushes_the_key_alone():
    torch.manual_seed(0)
    model = MelDiT(DiffusionConfig(**TINY, controls=True))
    for p in model.parameters():
        p.data.normal_(0, 0.05)
    x, text = torch.randn(2, 80, 64), torch.randn(2, 384)
    keyed = Controls.of(labels(n=2, key_pc=2), 64)
    with torch.no_grad():
        t = torch.full((2,), 0.4)
        v_c = model(x, t, text, None, keyed)
        v_u = model(x, t, text, torch.ones(2, dtype=torch.bool), keyed)
        v_no_key = model(x, t, text, None, keyed.without_key())
        got = guided_velocity(model, x, 0.4, text, 5.0, keyed, key_guidance=3.0)
        torch.testing.assert_close(got, v_u + 5.0 * (v_c - v_u) + 3.0 * (v_c - v_no_key), atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(guided_velocity(model, x, 0.4, text, 5.0, keyed), v_u + 5.0 * (v_c - v_u))
        assert not torch.allclose(v_c, v_no_key)  # the key is heard
        # no key among the controls: key guidance changes nothing, and costs no third pass
        keyless = keyed.without_key()
        assert not keyless.key_known() and keyed.key_known()
        torch.testing.assert_close(
            guided_velocity(model, x, 0.4, text, 5.0, keyless, key_guidance=3.0),
            guided_velocity(model, x, 0.4, text, 5.0, keyless),
        )
    with pytest.raises(ValueError):
        sample_mel(model, text, 64, steps=1, controls=keyed, key_guidance=-1.0)

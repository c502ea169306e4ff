"""The renderer: causal (a note-on changes the next frame, not earlier ones), 16 voices, streaming == offline."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from neural_fixtures import tiny_renderer

from synth.instruments.neural.note_features import (
    HELD_INDEX,
    N_NOTE_FEATURES,
    RELEASED_INDEX,
    NoteTracker,
    features_from_notes,
)
from synth.instruments.neural.renderer import Renderer, RendererConfig

HOP = 256
SR = 24000


def batch(notes, n_frames, sustain=()):
    pitch, feats, track = features_from_notes(notes, n_frames, sustain=sustain)
    return torch.from_numpy(pitch)[None], torch.from_numpy(feats)[None], torch.from_numpy(track)[None]


def run(renderer, notes, n_frames, program=0, sustain=()):
    with torch.no_grad():
        return renderer(*batch(notes, n_frames, sustain), torch.tensor([program]))[0]  # (n_mels, T)


@pytest.mark.parametrize("onset_frame,offset_samples", [(0, 0), (5, 0), (5, 200), (9, 255)])
def test_a_note_on_changes_the_next_frame_and_not_earlier_ones(onset_frame, offset_samples):
    renderer = tiny_renderer()
    background = [(48, 90, 0.0, 0.3)]
    start_s = (onset_frame * HOP + offset_samples) / SR
    without = run(renderer, background, 16)
    with_note = run(renderer, [*background, (72, 100, start_s, start_s + 0.2)], 16)
    assert torch.equal(without[:, :onset_frame], with_note[:, :onset_frame])
    assert not torch.allclose(without[:, onset_frame], with_note[:, onset_frame])


def test_sixteen_notes_each_count_and_a_seventeenth_steals_one():
    renderer = tiny_renderer()
    chord = [(40 + 3 * i, 100, 0.0, 1.0) for i in range(16)]
    pitch, feats, _ = features_from_notes(chord, 4)
    assert sorted(pitch[-1].tolist()) == sorted(p for p, *_ in chord)
    assert feats[-1, :, 0].sum() == 16  # all 16 slots active
    full = run(renderer, chord, 4)
    for dropped in (0, 7, 15):
        fewer = run(renderer, chord[:dropped] + chord[dropped + 1 :], 4)
        assert not torch.allclose(full[:, -1], fewer[:, -1])
    seventeen = [*chord, (100, 100, 0.02, 1.0)]
    pitch, feats, _ = features_from_notes(seventeen, 4)
    assert 100 in pitch[-1] and feats[-1, :, 0].sum() == 16
    assert (pitch[-1] == 40).sum() == 0  # the oldest (first in time order) was stolen


def test_streaming_equals_offline_in_blocks_of_1_to_4_frames():
    renderer = tiny_renderer(seed=3)
    notes = [(60 + (i * 5) % 12, 60 + i * 3, 0.03 * i, 0.03 * i + 0.25) for i in range(20)]
    pitch, feats, track = batch(notes, 60, sustain=[(0.1, 0.5)])
    program = torch.tensor([41])
    rng = np.random.default_rng(0)
    with torch.no_grad():
        whole = renderer(pitch, feats, track, program)
        state, pieces, t = renderer.initial_state(1), [], 0
        while t < 60:
            n = int(rng.integers(1, 5))
            out, state = renderer.step(pitch[:, t : t + n], feats[:, t : t + n], track[:, t : t + n], program, state)
            pieces.append(out)
            t += n
    streamed = torch.cat(pieces, dim=2)
    assert (streamed - whole).abs().max() / whole.abs().max() <= 1e-4


def test_program_changes_the_sound():
    renderer = tiny_renderer()
    notes = [(60, 100, 0.0, 0.2)]
    assert not torch.allclose(run(renderer, notes, 4, program=0), run(renderer, notes, 4, program=73))


def test_tracker_features_follow_release_and_pedal():
    tracker = NoteTracker(max_notes=4)
    tracker.sustain(True, 0)
    tracker.note_on(60, 127, 0)
    tracker.note_off(60, 2400)
    _, notes, track = tracker.frame(4800)
    assert notes.shape == (4, N_NOTE_FEATURES)
    assert notes[0, 0] == 1 and notes[0, 1] == 1.0 and notes[0, HELD_INDEX] == 1.0  # held by the pedal
    assert notes[0, RELEASED_INDEX] == 0 and track[0] == 1.0  # not released yet
    tracker.sustain(False, 4800)
    _, notes, track = tracker.frame(7200)
    assert notes[0, RELEASED_INDEX] == 1 and notes[0, HELD_INDEX] == 0 and track[0] == 0
    assert np.isclose(notes[0, RELEASED_INDEX + 1], np.exp(-0.1 / 0.03), rtol=1e-5)  # 0.1 s after the release
    tracker.frame(7200 + 5 * SR)
    assert tracker.sounding == 0  # freed RELEASE_KEEP_S after the release


def test_config_is_checked():
    with pytest.raises(ValueError, match="channels"):
        RendererConfig(channels=0)
    assert Renderer(RendererConfig()).num_params() < 2_000_000


@pytest.mark.parametrize("field,value", [("max_notes", 65), ("max_notes", 10**7), ("channels", 10**6)])
def test_a_config_asking_for_absurd_sizes_is_refused(field, value):
    with pytest.raises(ValueError, match="at most"):
        RendererConfig(**{field: value})

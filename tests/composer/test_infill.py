"""Infilling by sample-and-rerank: the gap only, neighbours untouched, the rerank's choice, K=1 = continuation."""

from __future__ import annotations

import pytest
import torch

from composer.errors import ComposerError
from composer.model.constrained import bar_span_s, to_steps
from composer.model.infill import INFILL_TRACK, infill, infill_song
from composer.model.model import MusicTransformer, TransformerConfig
from composer.model.sample import SampleOptions, generate_notes
from composer.song import DRUM_CHANNEL, Note, Song, Track
from composer.tokens import BOS, VELOCITY_OFFSET, VOCAB_SIZE, encode, style_token


def tiny_model(max_len: int = 64, seed: int = 0) -> MusicTransformer:
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=max_len, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0)
    return MusicTransformer(cfg).eval()


@pytest.fixture(scope="module")
def model() -> MusicTransformer:
    return tiny_model()


def piece(seconds: float = 8.0) -> list[Note]:
    """A melody in eighths over a held bass: notes cross every boundary a gap could have."""
    melody = [Note(62 + (i * 7) % 12, 80 + (i % 3) * 10, i * 0.25, i * 0.25 + 0.2) for i in range(int(seconds * 4))]
    bass = [Note(38 + (i % 2) * 5, 70, i * 1.0, i * 1.0 + 1.3) for i in range(int(seconds))]
    return sorted(melody + bass, key=lambda n: (n.start_s, n.pitch))


@pytest.mark.parametrize(("start_s", "end_s"), [(0.0, 2.0), (2.0, 4.0), (3.33, 4.5), (6.0, 8.0)])
@pytest.mark.parametrize("candidates", [1, 3])
def test_every_fill_note_lies_in_the_gap(model, start_s, end_s, candidates):
    result = infill(model, piece(), start_s, end_s, SampleOptions(seed=2), candidates=candidates)
    assert len(result.candidates) == candidates
    assert any(c.notes for c in result.candidates)
    for cand in result.candidates:
        assert all(start_s - 1e-9 <= n.start_s < n.end_s <= end_s + 1e-9 for n in cand.notes)


def test_prefix_suffix_and_drums_are_untouched(model):
    drums = Track(name="Drums", is_drum=True, channel=DRUM_CHANNEL, notes=[Note(36, 100, t * 0.5, t * 0.5 + 0.1)
                                                                            for t in range(16)])  # fmt: skip
    notes = piece()
    melody = Track(name="Melody", program=73, notes=[n for n in notes if n.pitch >= 60])
    bass = Track(name="Bass", program=32, notes=[n for n in notes if n.pitch < 60])
    song = Song(tracks=[melody, bass, drums])
    out, result = infill_song(model, song, 2.0, 4.0, SampleOptions(seed=1), candidates=2)
    assert [t.name for t in out.tracks] == ["Melody", "Bass", "Drums", INFILL_TRACK]
    for kept, original in zip(out.tracks[:2], song.tracks[:2], strict=True):
        assert kept.notes == [n for n in original.notes if not 2.0 <= n.start_s < 4.0]
    assert out.tracks[2] == drums  # drums in the gap stay
    assert out.tracks[3].notes == result.notes and out.tracks[3].program == 73  # the melody lost the most notes
    assert len(song.tracks[0].notes) == 32  # the input is not changed


@pytest.mark.parametrize("tracks", [1, 2])
def test_the_fill_goes_back_into_the_one_track_it_replaces(model, tracks):
    notes = piece()
    song = Song(tracks=[Track(name="Melody", program=73, notes=[n for n in notes if n.pitch >= 60])])
    if tracks == 2:  # a second track with nothing in the gap
        song.tracks.append(Track(name="Late", notes=[Note(40, 70, 6.0, 7.0)]))
    out, result = infill_song(model, song, 1.0, 3.0, SampleOptions(seed=3), candidates=1)
    assert [t.name for t in out.tracks] == [t.name for t in song.tracks]
    kept = [n for n in song.tracks[0].notes if not 1.0 <= n.start_s < 3.0]
    assert sorted(out.tracks[0].notes, key=lambda n: (n.start_s, n.pitch)) == sorted(
        kept + result.notes, key=lambda n: (n.start_s, n.pitch)
    )


def independent_score(model, style: str, context: list[int], target: list[int]) -> float:
    """log p(target | context), token by token through full passes (no cache, no shared code)."""
    seq = [style_token(style), BOS, *context, *target]
    assert len(seq) <= model.cfg.max_len + 1
    total = 0.0
    with torch.no_grad():
        for i in range(len(seq) - len(target), len(seq)):
            logits, _ = model(torch.tensor([seq[:i]]))
            total += torch.log_softmax(logits[0, -1].double(), dim=-1)[seq[i]].item()
    return total


def expected_suffix(notes: list[Note], end_s: float, suffix_s: float, context: list[int]) -> list[int]:
    after = [Note(n.pitch, n.velocity, n.start_s - end_s, min(n.end_s, end_s + suffix_s) - end_s)
             for n in notes if end_s <= n.start_s < end_s + suffix_s]  # fmt: skip
    ids = encode(after)
    velocities = [t for t in context if t >= VELOCITY_OFFSET]
    if velocities and ids[0] == velocities[-1]:
        ids = ids[1:]  # the stream already plays at that velocity
    return ids


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_rerank_keeps_the_candidate_that_makes_what_follows_likeliest(seed):
    model = tiny_model(max_len=192, seed=seed)
    notes = [n for n in piece() if n.pitch >= 60]
    result = infill(model, notes, 1.0, 1.5, SampleOptions(seed=seed, style="folk"), candidates=6, suffix_s=1.0)
    scores = []
    for cand in result.candidates:
        suffix = expected_suffix(notes, 1.5, 1.0, result.prefix + cand.tokens)
        assert cand.suffix == suffix
        scores.append(independent_score(model, "folk", result.prefix + cand.tokens, suffix))
    assert [c.score for c in result.candidates] == pytest.approx(scores, abs=1e-3)
    assert len({round(s, 3) for s in scores}) > 1  # a real choice
    assert result.best == max(range(len(scores)), key=scores.__getitem__)
    assert result.notes == result.candidates[result.best].notes


@pytest.mark.parametrize(("seed", "style"), [(1, "folk"), (2, None), (3, "chorale")])
def test_one_candidate_is_plain_continuation(model, seed, style):
    primer = [n for n in piece(4.0) if n.end_s <= 4.0] + [Note(50, 60, 3.0, 4.0)]  # ends where the gap starts
    assert max(n.end_s for n in primer) == pytest.approx(4.0)
    result = infill(model, primer, 4.0, 6.0, SampleOptions(seed=seed, style=style), candidates=1)
    plain = generate_notes(model, primer, SampleOptions(seconds=2.0, seed=seed, style=style))
    assert plain, "the continuation has notes to compare"
    assert [(n.pitch, n.velocity, to_steps(n.start_s), to_steps(n.end_s)) for n in result.notes] == [
        (n.pitch, n.velocity, to_steps(n.start_s), to_steps(n.end_s)) for n in plain
    ]


def test_candidate_i_is_the_fill_of_seed_plus_i_and_runs_repeat(model):
    options = SampleOptions(seed=10, style="folk")
    many = infill(model, piece(), 2.0, 4.0, options, candidates=3)
    again = infill(model, piece(), 2.0, 4.0, options, candidates=3)
    assert [c.notes for c in many.candidates] == [c.notes for c in again.candidates]
    single = infill(model, piece(), 2.0, 4.0, SampleOptions(seed=12, style="folk"), candidates=1)
    assert single.candidates[0].notes == many.candidates[2].notes
    assert many.candidates[0].notes != many.candidates[1].notes


def test_bars_follow_tempo_and_meter():
    song = Song(tempo_bpm=90.0, time_signature=(6, 8), tracks=[Track(notes=[Note(60, 80, 0.0, 9.9)])])
    bar_s = 3 * 60 / 90  # 6/8 is three quarter notes
    assert bar_span_s(song, 2, 4) == pytest.approx((bar_s, 3 * bar_s))
    assert bar_span_s(song, 1, 6) == pytest.approx((0.0, 5 * bar_s))  # up to the end of the last (5th) bar
    for from_bar, to_bar, where in [(0, 2, "--from"), (3, 3, "--to"), (4, 2, "--to"), (6, 7, "--from"), (2, 7, "--to")]:
        with pytest.raises(ComposerError, match=where):
            bar_span_s(song, from_bar, to_bar)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"candidates": 0}, "--candidates"),
        ({"candidates": 65}, "--candidates"),
        ({"start_s": 3.0, "end_s": 3.0}, "start < end"),
        ({"suffix_s": 0.0}, "--suffix-seconds"),
        ({"options": SampleOptions(temperature=0)}, "--temperature"),
    ],
)
def test_bad_requests_raise_composer_error(model, kwargs, expected):
    args = {"start_s": 1.0, "end_s": 2.0, "candidates": 2} | kwargs
    with pytest.raises(ComposerError, match=expected):
        infill(model, piece(), **args)

"""Accompaniment by forced decoding: the melody exactly in the stream, not in the new track, masks, range, seeds."""

from __future__ import annotations

import pytest
import torch

from composer.errors import ComposerError
from composer.keys import scale_pitch_classes
from composer.model.accompany import ACCOMPANIMENT_TRACK, accompany, accompany_song
from composer.model.constrained import drop_final_offs, forced_events, span_prefix, to_steps, tokens_steps
from composer.model.model import MusicTransformer, TransformerConfig
from composer.model.sample import SampleOptions
from composer.song import DRUM_CHANNEL, Note, Song, Track
from composer.tokens import (
    TIME_SHIFT_OFFSET,
    VELOCITY_OFFSET,
    VOCAB_SIZE,
    decode,
    note_off,
    note_on,
    quantize,
    time_shift,
)


class BiasedTransformer(MusicTransformer):
    """The tiny model with fixed logit offsets: steers sampling towards chosen tokens."""

    def __init__(self, cfg: TransformerConfig, favoured: dict[int, float]) -> None:
        super().__init__(cfg)
        self.bias = torch.zeros(cfg.vocab_size)
        for token, logit in favoured.items():
            self.bias[token] = logit

    def forward(self, ids, cache=None):
        logits, cache = super().forward(ids, cache)
        return logits + self.bias, cache


def tiny_model(favoured: dict[int, float] | None = None, seed: int = 0) -> MusicTransformer:
    torch.set_num_threads(1)
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=64, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0)
    return BiasedTransformer(cfg, favoured or {}).eval()


@pytest.fixture(scope="module")
def model() -> MusicTransformer:
    return tiny_model()


def melody(n: int = 12, start_s: float = 0.0) -> list[Note]:
    """Quarter notes with two velocities, one held note, a repeated pitch: what the forcing must keep exact."""
    notes = [Note(60 + (i * 5) % 12, 70 + 20 * (i % 2), start_s + i * 0.5, start_s + i * 0.5 + 0.37) for i in range(n)]
    notes.append(Note(67, 100, start_s + 0.13, start_s + 1.71))
    return notes


def walk(tokens: list[int]) -> list[tuple[int, int]]:
    """(step, token) for every id of a span."""
    step, out = 0, []
    for t in tokens:
        out.append((step, t))
        if TIME_SHIFT_OFFSET <= t < VELOCITY_OFFSET:
            step += t - TIME_SHIFT_OFFSET + 1
    return out


def grid(notes) -> list[tuple[int, int, int]]:
    return sorted((n.pitch, to_steps(n.start_s), to_steps(n.end_s)) for n in notes)


@pytest.mark.parametrize("start_s", [0.0, 1.5])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_melody_is_in_the_token_stream_exactly_and_not_in_the_accompaniment(model, start_s, seed):
    tune = melody(start_s=start_s)
    context = [Note(48, 80, 0.0, 1.0), Note(55, 80, 0.5, 1.4), *tune]
    end_s = start_s + 6.0
    result = accompany(model, context, tune, start_s, end_s, SampleOptions(seed=seed))
    span = result.span
    expected = forced_events([Note(n.pitch, n.velocity, n.start_s - start_s, n.end_s - start_s) for n in tune], 8.0)
    at = walk(span.tokens)
    fed = [at[i] for i in span.forced_positions if not span.tokens[i] >= VELOCITY_OFFSET]
    assert fed == [(e.step, note_on(e.pitch) if e.on else note_off(e.pitch)) for e in expected]
    # each forced NOTE_ON plays at the melody's velocity, whatever the model set before it
    decoded = decode(span.tokens + span.closing)
    quantized_tune = quantize(Note(n.pitch, n.velocity, n.start_s - start_s, n.end_s - start_s) for n in tune)
    as_played = {(n.pitch, to_steps(n.start_s), to_steps(n.end_s), n.velocity) for n in decoded}
    assert {(n.pitch, to_steps(n.start_s), to_steps(n.end_s), n.velocity) for n in quantized_tune} <= as_played
    # what is left of the stream is exactly the accompaniment, which holds no melody note
    assert sorted(grid(decoded)) == sorted(grid(quantized_tune) + grid(span.free_notes))
    assert result.notes, "the tiny model samples some notes"
    melody_keys = {(n.pitch, to_steps(n.start_s)) for n in tune}
    assert not melody_keys & {(n.pitch, to_steps(n.start_s)) for n in result.notes}


@pytest.mark.parametrize(("low", "high"), [(36, 59), (57, 57), (0, 127)])
def test_accompaniment_stays_in_its_pitch_range_and_time_span(low, high):
    busy = tiny_model({note_on(p): 3.0 for p in range(128)})  # plays a lot, everywhere, if let
    tune = melody(start_s=2.0)
    result = accompany(busy, tune, tune, 2.0, 7.0, SampleOptions(seed=7), pitch_range=(low, high))
    assert len(result.notes) >= 2  # (a one-pitch range: the random model holds its notes long)
    assert all(low <= n.pitch <= high for n in result.notes)
    assert all(2.0 - 1e-9 <= n.start_s < n.end_s <= 7.0 + 1e-9 for n in result.notes)


def test_the_model_can_neither_end_nor_double_a_melody_note():
    # A model that wants nothing but to strike and release the melody's own pitch
    keen = tiny_model({note_on(62): 12.0, note_off(62): 12.0, time_shift(5): 6.0})
    tune = [Note(62, 90, i * 0.5, i * 0.5 + 0.4) for i in range(8)]
    result = accompany(keen, [], tune, 0.0, 4.0, SampleOptions(seed=3))
    sounding = [(to_steps(n.start_s), to_steps(n.end_s)) for n in tune]
    for n in result.notes:
        if n.pitch == 62:  # the model's own 62s never sound over a melody 62
            assert all(to_steps(n.end_s) <= on or to_steps(n.start_s) >= off for on, off in sounding)
    assert any(n.pitch == 62 for n in result.notes), "the keen model does play 62 between the melody's notes"
    decoded = decode(result.span.tokens + result.span.closing)
    assert set(grid(tune)) <= set(grid(decoded))


def test_long_time_shifts_are_cut_at_the_next_melody_event():
    jumpy = tiny_model({time_shift(100): 10.0})  # one second at a time
    tune = [Note(64, 80, 0.05 + i * 0.23, 0.05 + i * 0.23 + 0.11) for i in range(10)]
    result = accompany(jumpy, [], tune, 0.0, 3.0, SampleOptions(seed=1))
    steps = [t - TIME_SHIFT_OFFSET + 1 for t in result.span.tokens if TIME_SHIFT_OFFSET <= t < VELOCITY_OFFSET]
    assert sum(steps) == 300 and max(steps) < 100  # cut to land on every melody event and on the end
    assert set(grid(quantize(tune))) <= set(grid(decode(result.span.tokens)))


def test_the_key_masks_the_accompaniment_only(model):
    tune = [Note(61, 90, i * 0.5, i * 0.5 + 0.4) for i in range(8)]  # C# is not in C major
    result = accompany(model, [], tune, 0.0, 4.0, SampleOptions(seed=2, key="C:major"))
    assert result.notes and {n.pitch % 12 for n in result.notes} <= scale_pitch_classes("C:major")
    assert set(grid(tune)) <= set(grid(decode(result.span.tokens)))


def test_same_seed_same_accompaniment_and_another_seed_differs(model):
    tune = melody()
    runs = [accompany(model, tune, tune, 0.0, 6.0, SampleOptions(seed=s)).notes for s in (5, 5, 6)]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def test_accompany_song_adds_one_track_and_keeps_the_rest(model):
    drums = Track(name="Drums", is_drum=True, channel=DRUM_CHANNEL, notes=[Note(36, 100, 0.0, 0.1)])
    song = Song(tracks=[Track(name="Tune", program=73, notes=melody()), drums])
    out, result = accompany_song(model, song, 0, 0.0, 6.0, SampleOptions(seed=4), (40, 80), program=48)
    assert [t.name for t in out.tracks] == ["Tune", "Drums", ACCOMPANIMENT_TRACK]
    assert out.tracks[0] == song.tracks[0] and out.tracks[1] == song.tracks[1]
    assert out.tracks[2].program == 48 and out.tracks[2].notes == result.notes
    assert len(song.tracks) == 2  # the input is not changed


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda m, s: accompany_song(m, s, 2, 0.0, 4.0), "no track 3"),
        (lambda m, s: accompany_song(m, s, 1, 0.0, 4.0), "drums"),
        (lambda m, s: accompany_song(m, s, 0, 20.0, 24.0), "no notes"),
        (lambda m, s: accompany_song(m, s, 0, 3.0, 3.0), "start < end"),
        (lambda m, s: accompany_song(m, s, 0, 0.0, 4.0, pitch_range=(70, 60)), "low <= high"),
        (lambda m, s: accompany_song(m, s, 0, 0.0, 4.0, SampleOptions(top_p=0)), "--top-p"),
    ],
)
def test_bad_requests_raise_composer_error(model, call, expected):
    drums = Track(name="Drums", is_drum=True, channel=DRUM_CHANNEL, notes=[Note(36, 100, 0.0, 0.1)])
    song = Song(tracks=[Track(name="Tune", notes=melody()), drums])
    with pytest.raises(ComposerError, match=expected):
        call(model, song)


@pytest.mark.parametrize(("end_s", "off_step"), [(5.0, 200), (2.5, 150)])
def test_a_melody_note_held_across_the_span_start_is_ended_by_the_melody(end_s, off_step):
    keen = tiny_model({note_on(60): 12.0, time_shift(10): 6.0})
    tune = [Note(60, 90, 0.0, 3.0), Note(64, 90, 1.5, 2.0)]
    result = accompany(keen, tune, tune, 1.0, end_s, SampleOptions(seed=1))
    forced = [(step, t) for i, (step, t) in enumerate(walk(result.span.tokens)) if i in result.span.forced_positions]
    assert (off_step, note_off(60)) in forced
    assert not [n for n in result.notes if n.pitch == 60 and n.start_s < 3.0 - 1e-9]  # no doubling of the held 60
    if end_s > 3.0:
        assert [n for n in result.notes if n.pitch == 60], "the keen model takes 60 once the melody lets go"


def test_the_prefix_leaves_a_held_note_sounding_and_ends_the_others():
    context = [Note(60, 90, 0.0, 3.0), Note(48, 90, 0.5, 2.0), Note(52, 90, 0.2, 0.4)]
    prefix = drop_final_offs(span_prefix(context, 1.0, 8.0), [60])
    assert tokens_steps(prefix) == 100
    assert note_on(60) in prefix and note_off(60) not in prefix
    assert prefix[-1] == note_off(48) and note_off(52) in prefix  # cut at the span start / ended before it
    assert sorted(n.pitch for n in decode(prefix)) == [48, 52, 60]

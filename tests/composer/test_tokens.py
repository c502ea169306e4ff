"""Performance tokens: encode/decode round trip, streaming decode, robustness."""

from __future__ import annotations

import random

import music21
import pytest

from composer import tokens as tk
from composer.files.midi_io import read_midi
from composer.song import Note

CHORALES = ("bach/bwv66.6", "bach/bwv7.7", "bach/bwv26.6", "bach/bwv84.5", "bach/bwv40.8")


@pytest.fixture(scope="module")
def chorale_notes(tmp_path_factory) -> list[list[Note]]:
    """A few chorales as notes, through music21's MIDI writer and our reader (parsed once)."""
    folder = tmp_path_factory.mktemp("chorales")
    pieces = []
    for name in CHORALES:
        path = folder / (name.replace("/", "_") + ".mid")
        music21.corpus.parse(name).write("midi", fp=str(path))
        pieces.append(read_midi(path).all_notes())
    return pieces


def _random_notes(rng: random.Random, n: int) -> list[Note]:
    notes = []
    for _ in range(n):
        start = rng.choice([rng.uniform(0, 30), round(rng.uniform(0, 30), 2), rng.randint(0, 30) * 0.25])
        length = rng.choice([rng.uniform(0.001, 2), rng.uniform(5, 12), 0.0, 0.005, rng.uniform(-1, 0)])
        notes.append(Note(rng.randint(-3, 130), rng.randint(1, 127), start, start + length))
    return notes


def _key(notes: list[Note]) -> list[tuple[int, int, int, int]]:
    return [(n.pitch, n.velocity, round(n.start_s / tk.STEP_S), round(n.end_s / tk.STEP_S)) for n in notes]


@pytest.mark.parametrize("seed", range(12))
def test_round_trip_equals_quantize_on_random_notes(seed):
    rng = random.Random(seed)
    notes = _random_notes(rng, rng.choice([1, 5, 60, 300]))
    ids = tk.encode(notes)
    assert all(0 <= i < tk.VOCAB_SIZE for i in ids)
    assert _key(tk.decode(ids)) == _key(tk.quantize(notes))


def test_round_trip_equals_quantize_on_chorales(chorale_notes):
    assert len(chorale_notes) == len(CHORALES)
    for notes in chorale_notes:
        assert len(notes) > 100
        quantized = tk.quantize(notes)
        assert _key(tk.decode(tk.encode(notes))) == _key(quantized)
        assert len(quantized) >= 0.9 * len(notes)  # only voices in unison merge


def test_quantize_rules():
    notes = [
        Note(60, 100, 0.004, 0.5),  # to the 10 ms grid
        Note(60, 30, 0.3, 0.9),  # same pitch overlapping: the earlier one ends here
        Note(64, 80, 1.0, 1.0),  # zero length: one step
        Note(67, 80, 2.0, 30.0),  # capped at 8 s
        Note(67, 90, 2.0, 2.5),  # same onset twice: one note, the first's velocity, the longer's end
        Note(200, 80, 0.0, 1.0),  # out of range: dropped
    ]
    got = [(n.pitch, n.velocity, round(n.start_s, 6), round(n.end_s, 6)) for n in tk.quantize(notes)]
    assert got == [(60, 102, 0.0, 0.3), (60, 30, 0.3, 0.9), (64, 82, 1.0, 1.01), (67, 90, 2.0, 10.0)]


def test_velocity_token_only_where_velocity_changes():
    notes = [Note(60 + i, v, i * 0.1, i * 0.1 + 0.05) for i, v in enumerate([80, 81, 82, 40, 40, 100, 100])]
    ids = tk.encode(notes)
    velocities = [tk.describe(i) for i in ids if tk.VELOCITY_OFFSET <= i < tk.VOCAB_SIZE]
    # 80, 81 and 82 share bin 20; then 40 (bin 10) and 100 (bin 25)
    assert velocities == ["VELOCITY_20", "VELOCITY_10", "VELOCITY_25"]
    assert ids[:2] == [tk.VELOCITY_OFFSET + 20, tk.note_on(60)]


def test_velocity_bins_round_trip():
    for b in range(tk.N_VELOCITY_BINS):
        assert tk.velocity_to_bin(tk.bin_to_velocity(b)) == b
    assert tk.velocity_to_bin(0) == tk.velocity_to_bin(1) == 0
    assert tk.velocity_to_bin(500) == tk.N_VELOCITY_BINS - 1


def test_time_shifts_split_at_one_second():
    assert tk.shift_tokens(255) == [tk.time_shift(100), tk.time_shift(100), tk.time_shift(55)]
    assert tk.shift_tokens(100) == [tk.time_shift(100)]
    assert tk.shift_tokens(0) == [] and tk.shift_tokens(-4) == []
    ids = tk.encode([Note(60, 64, 2.55, 2.6)])
    assert [tk.describe(i) for i in ids] == [
        "TIME_SHIFT_100",
        "TIME_SHIFT_100",
        "TIME_SHIFT_55",
        "VELOCITY_16",
        "NOTE_ON_60",
        "TIME_SHIFT_5",
        "NOTE_OFF_60",
    ]


def test_decoding_random_ids_never_raises(chorale_notes):
    rng = random.Random(7)
    for trial in range(300):
        n = rng.choice([0, 1, 10, 200, 1000])
        if trial % 3 == 0:  # mostly valid ids
            ids = [rng.randrange(tk.VOCAB_SIZE) for _ in range(n)]
        else:  # anything an int can be
            ids = [
                rng.choice([rng.randrange(-50, tk.VOCAB_SIZE + 50), rng.randrange(-(2**40), 2**40)]) for _ in range(n)
            ]
        notes = tk.decode(ids)
        for note in notes:
            assert 0 <= note.pitch <= 127
            assert 0 < note.end_s - note.start_s <= tk.DEFAULT_MAX_NOTE_S + 1e-9
            assert 1 <= note.velocity <= 127
        assert _key(notes) == _key(tk.quantize(notes))  # what decode gives, tokens can hold


def test_notes_held_past_the_cap_are_closed_at_the_cap():
    ids = [tk.note_on(60)] + [tk.time_shift(100)] * 10 + [tk.note_on(62), tk.time_shift(50)]
    notes = tk.decode(ids)
    assert [(n.pitch, round(n.start_s, 6), round(n.end_s, 6)) for n in notes] == [(60, 0.0, 8.0), (62, 10.0, 10.5)]
    short = tk.decode([tk.note_on(60), tk.time_shift(100), tk.time_shift(50)], max_note_s=1.0)
    assert [(n.start_s, n.end_s) for n in short] == [(0.0, 1.0)]


def test_notes_never_closed_end_at_the_end():
    ids = [tk.note_on(60), tk.time_shift(30), tk.note_on(64), tk.note_on(67)]
    notes = tk.decode(ids)
    assert [(n.pitch, round(n.start_s, 6), round(n.end_s, 6)) for n in notes] == [
        (60, 0.0, 0.3),
        (64, 0.3, 0.31),  # at least one step long
        (67, 0.3, 0.31),
    ]


def test_note_off_in_its_own_step_makes_a_one_step_note():
    ids = [tk.note_on(60), tk.note_off(60), tk.note_on(62), tk.time_shift(3), tk.note_off(62)]
    decoder = tk.StreamDecoder()
    assert decoder.feed(ids[0]) == [tk.NoteEvent(True, 60, 66, 0.0)]
    assert decoder.feed(ids[1]) == []  # not yet: it would be a note of no length
    assert decoder.feed(ids[2]) == [tk.NoteEvent(True, 62, 66, 0.0)]
    assert decoder.feed(ids[3]) == [tk.NoteEvent(False, 60, 0, 0.01)]
    assert decoder.feed(ids[4]) == [tk.NoteEvent(False, 62, 0, 0.03)]
    assert [(n.pitch, n.end_s) for n in tk.decode(ids[:2])] == [(60, 0.01)]


def test_stray_tokens_are_ignored():
    ids = [tk.PAD, tk.BOS, tk.style_token("chorale"), tk.note_off(60), tk.note_on(60), tk.note_on(60)]
    ids += [tk.time_shift(20), tk.EOS, tk.note_on(70), tk.time_shift(100)]  # nothing after EOS counts
    assert [(n.pitch, n.start_s, n.end_s) for n in tk.decode(ids)] == [(60, 0.0, 0.2)]


def test_stream_decoder_events_equal_decode(chorale_notes):
    rng = random.Random(11)
    sequences = [tk.encode(notes) for notes in chorale_notes[:2]]
    sequences += [[rng.randrange(tk.VOCAB_SIZE) for _ in range(500)] for _ in range(5)]
    for ids in sequences:
        decoder = tk.StreamDecoder(start_s=4.0)
        events = []
        for token in ids:
            new = decoder.feed(token)
            if token != tk.EOS:  # at EOS a note begun this step lasts one step
                assert all(e.time_s <= decoder.time_s + 1e-9 for e in new)  # nothing from the future
            events.extend(new)
        events.extend(decoder.finish())
        times = [e.time_s for e in events]
        assert times == sorted(times)  # playable in order
        # Pair the events independently of events_to_notes.
        open_at: dict[int, tk.NoteEvent] = {}
        paired = []
        for e in events:
            if e.on:
                assert e.pitch not in open_at
                open_at[e.pitch] = e
            else:
                start = open_at.pop(e.pitch)
                paired.append(Note(e.pitch, start.velocity, start.time_s, e.time_s))
        assert not open_at
        paired.sort(key=lambda n: (n.start_s, n.pitch))
        expected = tk.decode(ids, start_s=4.0)
        assert _key(paired) == _key(expected)
        assert all(n.start_s >= 4.0 for n in expected)


def test_describe_names_every_kind():
    assert [tk.describe(i) for i in (tk.PAD, tk.BOS, tk.EOS)] == ["PAD", "BOS", "EOS"]
    assert tk.describe(tk.style_token("folk")) == "STYLE_folk"
    assert tk.describe(tk.note_on(0)) == "NOTE_ON_0"
    assert tk.describe(tk.note_off(127)) == "NOTE_OFF_127"
    assert tk.describe(tk.time_shift(1)) == "TIME_SHIFT_1"
    assert tk.describe(tk.VELOCITY_END - 1) == f"VELOCITY_{tk.N_VELOCITY_BINS - 1}"
    assert tk.describe(tk.VOCAB_SIZE - 1) == "FUTURE"
    assert tk.describe(tk.VOCAB_SIZE) == f"INVALID_{tk.VOCAB_SIZE}"
    assert tk.describe(-1) == "INVALID_-1"
    assert tk.describe(-1000) == "INVALID_-1000"
    names = {tk.describe(i) for i in range(tk.VOCAB_SIZE)}
    assert len(names) == tk.VOCAB_SIZE  # every id its own name
    with pytest.raises(ValueError, match="unknown style"):
        tk.style_token("polka")

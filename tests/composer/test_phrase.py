"""Key and tempo of a played phrase, and its live tokens (the same as encode() gives)."""

import pytest

from composer.keys import PITCH_NAMES, SCALES
from composer.model.phrase import (
    DEFAULT_GAP_S,
    PhraseTokenizer,
    estimate_key,
    estimate_tempo_bpm,
    gap_for_tempo,
)
from composer.song import Note
from composer.tokens import encode, time_shift


def scale_phrase(tonic: int, mode: str, beat_s: float = 0.3) -> list[Note]:
    """Up and down the scale from the tonic, with the tonic and fifth held longer (as a melody does)."""
    steps = SCALES[mode]
    degrees = [0, 1, 2, 3, 4, 5, 6, 7, 4, 2, 0]
    notes, t = [], 0.0
    for degree in degrees:
        pitch = 60 + tonic + (12 if degree == 7 else steps[degree % 7])
        length = beat_s * (2 if degree in (0, 4, 7) else 1)
        notes.append(Note(pitch, 90, t, t + length * 0.9))
        t += length
    return notes


@pytest.mark.parametrize("tonic", range(12))
@pytest.mark.parametrize("mode", ["major", "minor"])
def test_estimate_key_finds_the_scale_played(tonic, mode):
    assert estimate_key(scale_phrase(tonic, mode)) == f"{PITCH_NAMES[tonic]}:{mode}"


def test_estimate_key_without_notes_is_none():
    assert estimate_key([]) is None


def test_estimate_key_weighs_durations():
    # C and E held long, a short passing F#: C major, though F# belongs to G major too
    notes = [Note(60, 90, 0, 1.5), Note(64, 90, 1.5, 3.0), Note(66, 90, 3.0, 3.05), Note(67, 90, 3.05, 4.5)]
    assert estimate_key(notes) == "C:major"


@pytest.mark.parametrize(("ioi_s", "bpm"), [(0.5, 120), (0.25, 120), (1.0, 60), (0.4, 150), (0.3, 100)])
def test_estimate_tempo_from_onsets(ioi_s, bpm):
    onsets = [i * ioi_s for i in range(8)]
    assert estimate_tempo_bpm(onsets) == pytest.approx(bpm)


def test_tempo_merges_chords_and_needs_four_onsets():
    chord_onsets = [0.0, 0.01, 0.02, 0.5, 0.51, 1.0, 1.5]  # chords count once
    assert estimate_tempo_bpm(chord_onsets) == pytest.approx(120)
    assert estimate_tempo_bpm([0.0, 0.5, 1.0]) is None


def test_gap_for_tempo_is_one_beat_clamped():
    assert gap_for_tempo(120) == pytest.approx(0.5)
    assert gap_for_tempo(None) == DEFAULT_GAP_S
    assert gap_for_tempo(6000) == pytest.approx(0.15)
    assert gap_for_tempo(10) == pytest.approx(2.0)


def feed(tokenizer: PhraseTokenizer, notes: list[Note], origin_s: float = 0.0) -> list[int]:
    events = [(n.start_s, 1, n.pitch, n.velocity) for n in notes] + [(n.end_s, 0, n.pitch, 0) for n in notes]
    ids: list[int] = []
    for t, is_on, pitch, velocity in sorted(events):
        if is_on:
            ids += tokenizer.note_on(pitch, velocity, origin_s + t)
        else:
            ids += tokenizer.note_off(pitch, origin_s + t)
    return ids


@pytest.mark.parametrize("origin_s", [0.0, 1234.567])
def test_live_tokens_equal_encode(origin_s):
    notes = [
        Note(60, 90, 0.0, 0.5),
        Note(64, 70, 0.25, 0.75),
        Note(67, 70, 0.25, 1.8),  # overlaps, same onset as the E
        Note(72, 120, 1.8, 1.9),  # starts where the G ends
        Note(71, 40, 3.2, 3.33),  # after a rest over 1 s: two TIME_SHIFTs
    ]
    assert feed(PhraseTokenizer(), notes, origin_s) == encode(notes)


def test_a_tap_lasts_one_step_as_in_encode():
    notes = [Note(60, 90, 0.0, 0.001), Note(62, 90, 0.5, 0.8)]
    assert feed(PhraseTokenizer(), notes) == encode(notes)


def test_pedal_holds_note_offs_until_it_rises():
    tok = PhraseTokenizer()
    ids = tok.note_on(60, 90, 0.0) + tok.pedal(True, 0.1) + tok.note_off(60, 0.2)
    assert not tok.silent
    ids += tok.pedal(False, 0.5)
    assert tok.silent
    assert ids == encode([Note(60, 90, 0.0, 0.5)])


def test_long_rests_are_shortened():
    tok = PhraseTokenizer(max_rest_s=2.0)
    tok.note_on(60, 90, 0.0)
    tok.note_off(60, 0.1)
    assert tok.advance_to(10.1) == [time_shift(100), time_shift(100)]
    assert tok.anchor_s == pytest.approx(10.1)  # the clock still follows real time


def test_release_all_closes_keys_and_pedal():
    tok = PhraseTokenizer()
    tok.note_on(60, 90, 0.0)
    tok.note_on(64, 90, 0.0)
    tok.pedal(True, 0.1)
    tok.note_off(60, 0.2)
    ids = tok.release_all(0.3)
    assert ids[-2:] == encode([Note(60, 90, 0, 0.3), Note(64, 90, 0, 0.3)])[-2:]
    assert tok.sounding == set()

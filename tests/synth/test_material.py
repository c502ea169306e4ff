"""Generated material: every kind, the whole range of each instrument, varied by seed, valid notes."""

from __future__ import annotations

import numpy as np
import pytest

from synth.data.material import KINDS, instrument_range, material_pieces, material_song

PROGRAMS = (0, 19, 24, 42, 48, 56, 73)


@pytest.mark.parametrize("program", PROGRAMS)
def test_material_covers_the_whole_range_and_stays_in_it(program):
    low, high = instrument_range(program)
    pieces = material_pieces(program, seed=3)
    assert [pid.split("/")[2] for pid, _ in pieces] == list(KINDS)
    pitches = {n.pitch for _, notes in pieces for n in notes}
    assert pitches == set(range(low, high + 1))
    for kind in ("scale", "staccato"):  # each of these alone walks every pitch
        assert {n.pitch for n in dict(pieces)[f"material/{program:03d}/{kind}/3"]} == set(range(low, high + 1))


@pytest.mark.parametrize("program", PROGRAMS)
def test_every_kind_reaches_both_ends_of_the_range(program):
    low, high = instrument_range(program)
    span = high - low
    for piece_id, notes in material_pieces(program, seed=0):
        pitches = [n.pitch for n in notes]
        assert min(pitches) <= low + 7 and max(pitches) >= high - span // 4, piece_id


def test_notes_are_valid_and_sorted():
    for program in PROGRAMS:
        for piece_id, notes in material_pieces(program, seed=1):
            assert notes, piece_id
            assert notes[0].start_s == pytest.approx(0.0, abs=1e-9)
            assert all(1 <= n.velocity <= 127 and 0 <= n.pitch <= 127 and n.end_s > n.start_s for n in notes)
            assert [n.start_s for n in notes] == sorted(n.start_s for n in notes)


def test_the_kinds_play_as_their_names_say():
    pieces = dict(material_pieces(0, seed=0))
    sweep = pieces["material/000/velocity_sweep/0"]
    assert min(n.velocity for n in sweep) == 1 and max(n.velocity for n in sweep) == 127
    staccato = [n.duration_s for n in pieces["material/000/staccato/0"]]
    assert max(staccato) < 0.1
    holds = [n.duration_s for n in pieces["material/000/long_hold/0"]]
    assert min(holds) > 0.4 and np.median(holds) >= 1.5
    repeated = pieces["material/000/repeated/0"]
    assert max(sum(n.pitch == p for n in repeated) for p in {n.pitch for n in repeated}) >= 4
    chords = pieces["material/000/chords/0"]
    onsets = [n.start_s for n in chords]
    assert max(onsets.count(t) for t in onsets) >= 3  # notes struck together


def test_seeds_vary_the_material_and_repeat_exactly():
    a = material_pieces(48, seed=0)
    assert a == material_pieces(48, seed=0)
    b = material_pieces(48, seed=1)
    assert [pid for pid, _ in a] != [pid for pid, _ in b]
    assert all(x != y for (_, x), (_, y) in zip(a, b, strict=True))


def test_material_song_puts_the_pieces_one_after_another():
    song = material_song(73, seed=0, gap_s=1.0)
    assert len(song.tracks) == 1 and song.tracks[0].program == 73
    total_notes = sum(len(notes) for _, notes in material_pieces(73, seed=0))
    assert len(song.tracks[0].notes) == total_notes
    starts = sorted(n.start_s for n in song.tracks[0].notes)
    assert max(np.diff(starts)) >= 1.0  # the gaps between pieces

"""composer.gm.playable_range: every program has a range inside MIDI's, and the known instruments' are theirs."""

from composer.gm import playable_range


def test_every_program_has_a_sane_range():
    for program in range(128):
        low, high = playable_range(program)
        assert 0 <= low < high <= 127 and high - low >= 12, program  # at least an octave


def test_known_instruments_and_families():
    assert playable_range(0) == (21, 108)  # the piano's 88 keys
    assert playable_range(33) == (28, 67)  # electric bass (fingered): E1 .. G4
    assert playable_range(42) == (36, 76)  # cello: C2 ..
    assert playable_range(40)[0] == 55  # violin: G3 is its lowest string
    assert playable_range(72)[0] == 74  # piccolo
    assert playable_range(58)[1] < playable_range(56)[0] + 12  # a tuba's top sits under a trumpet's octave
    assert playable_range(200) == playable_range(0)

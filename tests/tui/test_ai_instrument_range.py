"""The AI panel writes a track's new notes in its instrument's range (continue, generate, variations, infill)."""

import pytest

from composer.model.candidates import AISettings
from composer.song import Track
from tui.widgets.ai_panel import Request, instrument_range


def request(label: str, track: Track) -> Request:
    return Request(label, track, 0, 0.0, primer=[], settings=AISettings(), seconds=4.0, count=1)


@pytest.mark.parametrize("label", ["continue", "generate", "variations", "infill"])
def test_a_bass_track_gets_the_bass_range(label):
    assert instrument_range(request(label, Track(program=33))) == (28, 67)
    assert instrument_range(request(label, Track(program=73))) == (60, 96)  # flute


def test_accompaniment_keeps_its_own_register_and_drums_have_none():
    assert instrument_range(request("accompany", Track(program=33))) is None
    assert instrument_range(request("continue", Track(program=0, is_drum=True))) is None

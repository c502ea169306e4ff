import pytest

from composer.errors import ComposerError
from composer.model.candidates import AISettings, NoteAssembler, parse_settings, place, primer_before
from composer.song import Note, Song, Track
from composer.tokens import NoteEvent

FIELDS = {"style": "folk", "temperature": "0.9", "top_p": "0.9", "bars": "8", "key": "", "seed": "", "variations": "3"}


def test_primer_is_the_music_before_the_point_cut_there_and_shifted_to_zero():
    track = Track(notes=[Note(60, 90, 10.0, 10.5), Note(62, 90, 11.0, 13.0), Note(64, 90, 12.5, 13.0)])
    primer = primer_before(track, 12.0)
    assert primer == [Note(60, 90, 0.0, 0.5), Note(62, 90, 1.0, 2.0)]
    assert primer_before(track, 10.0) == []
    assert primer_before(track, 42.0, window_s=30.0) == [Note(64, 90, 0.0, 0.5)]


def test_assembler_pairs_events_into_notes_at_the_offset():
    asm = NoteAssembler(offset_s=4.0)
    assert asm.feed([NoteEvent(True, 60, 80, 0.0), NoteEvent(True, 64, 70, 0.1)]) == []
    assert asm.sounding == 2
    assert asm.feed([NoteEvent(False, 60, 0, 0.5), NoteEvent(False, 67, 0, 0.5)]) == [Note(60, 80, 4.0, 4.5)]
    assert asm.feed([NoteEvent(False, 64, 0, 0.1)]) == []  # zero length: dropped


def test_settings_length_follows_the_tempo_and_meter():
    assert AISettings(bars=2).seconds(Song(tempo_bpm=120.0)) == pytest.approx(4.0)
    assert AISettings(bars=2).seconds(Song(tempo_bpm=60.0, time_signature=(6, 8))) == pytest.approx(6.0)


def test_parse_settings_reads_fields_and_names_the_bad_one():
    s = parse_settings({**FIELDS, "key": "D:minor", "seed": "42"})
    assert (s.style, s.temperature, s.top_p, s.bars, s.key, s.seed, s.variations) == (
        "folk",
        0.9,
        0.9,
        8,
        "D:minor",
        42,
        3,
    )
    assert parse_settings(FIELDS).seed is None and parse_settings(FIELDS).key is None
    for field, value, named in [
        ("temperature", "hot", "temperature"),
        ("temperature", "0", "temperature"),
        ("top_p", "1.5", "top-p"),
        ("bars", "0", "length"),
        ("bars", "2.5", "length"),
        ("key", "H:major", "--key"),
        ("variations", "9", "variations"),
        ("style", "jazz", "style"),
    ]:
        with pytest.raises(ComposerError) as err:
            parse_settings({**FIELDS, field: value})
        assert err.value.path == named


def test_place_adds_copies_sorted():
    track = Track(notes=[Note(60, 90, 1.0, 2.0)])
    candidate = [Note(62, 90, 0.5, 1.0)]
    place(track, candidate)
    assert [n.pitch for n in track.notes] == [62, 60] and track.notes[0] is not candidate[0]

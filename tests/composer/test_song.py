"""The song model: seconds inside, beats only through the tempo."""

from __future__ import annotations

import numpy as np
import pytest

from composer.song import AudioClip, Note, Song, Track


def test_beats_and_seconds_follow_the_tempo():
    song = Song(tempo_bpm=90.0)
    assert song.seconds_per_beat == pytest.approx(60 / 90)
    assert song.beats_to_s(3) == pytest.approx(2.0)
    assert song.s_to_beats(song.beats_to_s(7.25)) == pytest.approx(7.25)


METERS = [((4, 4), 4.0), ((3, 4), 3.0), ((6, 8), 3.0), ((2, 2), 4.0), ((7, 8), 3.5)]


@pytest.mark.parametrize(("meter", "beats"), METERS)
def test_beats_per_bar_counts_quarter_notes(meter, beats):
    assert Song(time_signature=meter).beats_per_bar == beats


def test_duration_covers_notes_and_clips():
    song = Song()
    assert song.duration_s == 0.0
    song.tracks.append(Track(notes=[Note(60, 80, 0.0, 1.5), Note(62, 80, 2.0, 2.25)]))
    assert song.duration_s == 2.25
    clip = AudioClip(start_s=1.0, samples=np.zeros(24000 * 3, dtype=np.float32), sample_rate=24000)
    song.clips.append(clip)
    assert clip.duration_s == pytest.approx(3.0)
    assert song.duration_s == pytest.approx(4.0)
    assert AudioClip(start_s=5.0).end_s == 5.0  # a clip without samples has no length


def test_all_notes_are_sorted_and_leave_out_drums():
    piano = Track(notes=[Note(64, 80, 1.0, 2.0), Note(60, 80, 0.0, 1.0)])
    bass = Track(notes=[Note(36, 80, 0.5, 1.0), Note(40, 80, 1.0, 1.5)])
    drums = Track(is_drum=True, channel=9, notes=[Note(36, 100, 0.0, 0.1)])
    notes = Song(tracks=[piano, bass, drums]).all_notes()
    assert [(n.start_s, n.pitch) for n in notes] == [(0.0, 60), (0.5, 36), (1.0, 40), (1.0, 64)]


def test_track_sort_and_end():
    track = Track(notes=[Note(67, 80, 2.0, 2.5), Note(60, 80, 0.0, 3.0), Note(55, 80, 2.0, 2.1)])
    track.sort()
    assert [n.pitch for n in track.notes] == [60, 55, 67]
    assert track.end_s == 3.0
    assert Track().end_s == 0.0
    assert Note(60, 80, 0.25, 1.0).duration_s == 0.75


def test_solo_wins_over_mute():
    a, b, c = Track(name="a"), Track(name="b", mute=True), Track(name="c")
    song = Song(tracks=[a, b, c])
    assert [t.name for t in song.audible_tracks()] == ["a", "c"]
    b.solo = True  # a soloed track sounds even when muted, and alone
    assert [t.name for t in song.audible_tracks()] == ["b"]
    c.solo = True
    assert [t.name for t in song.audible_tracks()] == ["b", "c"]

"""composer.clip_edit: clips move and trim on the grid at the song's tempo, duplicate after themselves,
repeat when they loop; an edit that cannot be made says why and changes nothing."""

from __future__ import annotations

import numpy as np
import pytest

from composer import clip_edit
from composer.errors import ComposerError
from composer.song import AudioClip, Song

SR = 24000


def clip(seconds: float = 2.0, **fields) -> AudioClip:
    return AudioClip(name="c", samples=np.zeros(int(seconds * SR), np.float32), sample_rate=SR, **fields)


def song(bpm: float = 120.0) -> Song:
    return Song(tempo_bpm=bpm)


@pytest.mark.parametrize(
    ("beat", "steps", "expected"),
    [(1.0, 1, 1.25), (1.0, -1, 0.75), (1.1, 1, 1.25), (1.1, -1, 1.0), (1.1, 2, 1.5), (1.1, -2, 0.75), (0, 0, 0)],
)
def test_grid_line_goes_to_the_nearest_line_first(beat, steps, expected):
    assert clip_edit.grid_line(beat, steps, 0.25) == pytest.approx(expected)


@pytest.mark.parametrize("bpm", [120.0, 90.0])
def test_a_move_lands_on_the_grid_at_the_song_tempo(bpm):
    s = song(bpm)
    c = clip(start_s=0.3)
    later = clip_edit.moved(s, c, 1, 1.0)  # a beat grid
    assert later.start_s == pytest.approx(s.beats_to_s(1 if s.s_to_beats(0.3) < 1 else 2))
    assert c.start_s == 0.3, "the clip passed in is left as it was"
    assert clip_edit.moved(s, later, 2, 1.0).start_s == pytest.approx(later.start_s + 2 * s.seconds_per_beat)
    assert clip_edit.moved(s, c, -1, 1.0).start_s == 0.0
    assert later.samples is c.samples


def test_a_move_stops_at_the_song_start():
    with pytest.raises(ComposerError, match="song's start"):
        clip_edit.moved(song(), clip(start_s=0.0), -1, 0.25)


def test_trimming_the_end_shortens_and_lengthens_again_up_to_the_audio_end():
    s = song()  # a beat is 0.5 s
    c = clip(2.0, start_s=0.0)
    shorter = clip_edit.trimmed_end(s, c, -1, 1.0)
    assert shorter.pass_s == pytest.approx(1.5) and shorter.end_s == pytest.approx(1.5)
    assert shorter.offset_s == 0.0
    back = clip_edit.trimmed_end(s, shorter, 1, 1.0)
    assert back.pass_s == pytest.approx(2.0) and back.length_s is None, "untrimmed again"
    with pytest.raises(ComposerError, match="end of its audio"):
        clip_edit.trimmed_end(s, back, 1, 1.0)


def test_trimming_the_end_stops_short_of_nothing():
    s = song()
    c = clip(0.5, start_s=0.0)
    with pytest.raises(ComposerError, match="short"):
        clip_edit.trimmed_end(s, c, -1, 1.0)


def test_trimming_the_start_keeps_the_end_and_can_be_undone_by_trimming_back():
    s = song()
    c = clip(2.0, start_s=1.0)
    later = clip_edit.trimmed_start(s, c, 1, 1.0)
    assert later.start_s == pytest.approx(1.5) and later.offset_s == pytest.approx(0.5)
    assert later.end_s == pytest.approx(c.end_s) and later.pass_s == pytest.approx(1.5)
    back = clip_edit.trimmed_start(s, later, -1, 1.0)
    assert back.start_s == pytest.approx(1.0) and back.offset_s == 0.0 and back.length_s is None
    with pytest.raises(ComposerError, match="start of its audio"):
        clip_edit.trimmed_start(s, back, -1, 1.0)


def test_both_trims_together_play_the_middle():
    s = song()
    c = clip_edit.trimmed_end(s, clip_edit.trimmed_start(s, clip(2.0), 1, 1.0), -1, 1.0)
    assert (c.start_s, c.offset_s, c.pass_s, c.end_s) == pytest.approx((0.5, 0.5, 1.0, 1.5))


def test_trims_of_a_loop_change_every_repeat():
    s = song()
    c = clip(2.0, loop=True, repeats=3)
    assert clip_edit.trimmed_end(s, c, -2, 1.0).duration_s == pytest.approx(3 * 1.0)


def test_a_clip_without_audio_is_not_trimmed():
    with pytest.raises(ComposerError, match="no audio"):
        clip_edit.trimmed_end(song(), AudioClip(name="gone", path="gone.wav"), -1, 1.0)


def test_a_duplicate_starts_where_the_clip_ends_and_shares_its_samples():
    c = clip(2.0, start_s=1.0, loop=True, repeats=2, offset_s=0.5)
    copy = clip_edit.duplicated(c)
    assert copy.start_s == pytest.approx(c.end_s) == pytest.approx(1.0 + 2 * 1.5)
    assert copy.samples is c.samples and copy is not c and copy.offset_s == 0.5


def test_repeats_change_for_loops_only_and_stay_in_bounds():
    loop = clip(1.0, loop=True)
    assert clip_edit.repeated(loop, 1).repeats == 2
    with pytest.raises(ComposerError, match="once"):
        clip_edit.repeated(loop, -1)
    with pytest.raises(ComposerError, match="not a loop"):
        clip_edit.repeated(clip(1.0), 1)

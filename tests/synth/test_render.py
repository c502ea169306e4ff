"""Offline rendering: the same engine, the whole song, every release tail, WAV files written whole."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
from dsp_checks import SR, first_sound, rms

from composer.errors import ComposerError
from composer.song import Note, Song, Track
from synth.engine.engine import Engine
from synth.render import TAIL_MARGIN_S, render_song, render_stems, write_wav


def two_tracks() -> Song:
    return Song(
        tracks=[
            Track("Piano", 0, notes=[Note(60, 90, 0.0, 0.5), Note(64, 90, 0.5, 1.0)]),
            Track("Pad", 89, pan=0.5, notes=[Note(48, 70, 0.25, 1.0)]),
        ]
    )


def test_render_includes_the_release_tail_and_nothing_more():
    song = two_tracks()
    audio = render_song(song)
    assert audio.dtype == np.float32 and audio.shape[1] == 2
    last_sound = int(np.flatnonzero(np.abs(audio).max(axis=1) > 0)[-1])
    assert last_sound > 1.2 * SR  # the pad's release rings well past the last note-off at 1.0 s
    assert rms(audio[SR : SR + SR // 10]) > 1e-3  # right after the last note-off it is still loud
    silent_tail = audio.shape[0] - last_sound
    assert 0 < silent_tail <= TAIL_MARGIN_S * SR + 1024  # a small margin, no long silence
    assert not audio[-100:].any()
    assert np.abs(audio).max() <= 1.0


def test_render_is_the_engine_block_by_block():
    song = two_tracks()
    audio = render_song(song, block_frames=512)
    engine = Engine(song, block_frames=512)
    engine.play()
    live = np.concatenate([engine.render_block(512) for _ in range(-(-audio.shape[0] // 512))])
    np.testing.assert_array_equal(audio, live[: audio.shape[0]])
    np.testing.assert_allclose(render_song(song, block_frames=4096), audio, rtol=0, atol=2e-5)


def test_render_starts_notes_on_time_at_any_sample_rate():
    song = Song(tracks=[Track("P", 0, notes=[Note(60, 100, 0.5, 0.7)])])
    for sample_rate in (22050, 44100, 96000):
        audio = render_song(song, sample_rate=sample_rate)
        assert abs(first_sound(audio) - round(0.5 * sample_rate)) <= 1


def test_empty_song_renders_a_short_silence():
    audio = render_song(Song())
    assert audio.shape[1] == 2 and audio.shape[0] <= 0.1 * SR and not audio.any()


def test_stems_are_each_track_alone_and_sum_to_the_mix():
    song = two_tracks()
    song.tracks[0].mute = True  # stems ignore mute and solo
    stems = render_stems(song)
    assert list(stems) == ["Piano", "Pad"]
    assert len({s.shape for s in stems.values()}) == 1
    song.tracks[0].mute = False
    mix = render_song(song)
    total = stems["Piano"] + stems["Pad"]
    n = min(len(mix), len(total))
    np.testing.assert_allclose(total[:n], mix[:n], rtol=0, atol=1e-5)  # quiet enough that the limiter rests
    assert rms(stems["Pad"][:, 1]) > rms(stems["Pad"][:, 0])  # panned right


def test_stem_names_are_unique():
    song = Song(tracks=[Track("Keys", notes=[Note(60, 90, 0, 0.2)]), Track("Keys", 33, notes=[Note(40, 90, 0, 0.2)])])
    assert list(render_stems(song)) == ["Keys", "Keys 2"]


@pytest.mark.parametrize("bit_depth,subtype", [(16, "PCM_16"), (24, "PCM_24")])
def test_write_wav(tmp_path, bit_depth, subtype):
    audio = render_song(two_tracks())
    path = tmp_path / "out.wav"
    write_wav(path, audio, SR, bit_depth)
    info = sf.info(str(path))
    assert (info.samplerate, info.channels, info.subtype, info.frames) == (SR, 2, subtype, audio.shape[0])
    back, _ = sf.read(str(path), dtype="float32")
    np.testing.assert_allclose(back, audio, atol=2.0 ** -(bit_depth - 1) * 1.01)
    assert [p.name for p in tmp_path.iterdir()] == ["out.wav"]  # no temporary file left


def test_write_wav_refuses_bad_input_and_leaves_nothing(tmp_path):
    with pytest.raises(ComposerError, match="16 or 24"):
        write_wav(tmp_path / "a.wav", np.zeros((10, 2)), SR, 8)
    with pytest.raises(ComposerError, match="does not exist"):
        write_wav(tmp_path / "missing" / "a.wav", np.zeros((10, 2)), SR, 16)
    assert list(tmp_path.iterdir()) == []

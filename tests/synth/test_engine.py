"""The engine: sample-accurate scheduling, transport, loop, metronome, mixer, limiter, live input."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from dsp_checks import SR, first_sound, fundamental_hz, peak_hz, rms

from composer.song import AudioClip, Note, Song, Track
from synth.engine.engine import Engine


def run(engine: Engine, seconds: float, block_frames: int = 256) -> np.ndarray:
    total = int(round(seconds * SR))
    blocks, done = [], 0
    while done < total:
        n = min(block_frames, total - done)
        block = engine.render_block(n)
        assert block.dtype == np.float32 and block.shape == (n, 2)
        blocks.append(block)
        done += n
    return np.concatenate(blocks)


def onsets(mono: np.ndarray, threshold: float = 1e-4, gap: int = 2400) -> list[int]:
    """Frames where sound starts after at least `gap` frames of silence."""
    loud = np.flatnonzero(np.abs(mono) > threshold)
    if not loud.size:
        return []
    starts = [int(loud[0])]
    starts += [int(b) for a, b in zip(loud[:-1], loud[1:], strict=True) if b - a > gap]
    return starts


def song_of(*tracks: Track, **kwargs) -> Song:
    return Song(tracks=list(tracks), **kwargs)


def test_a_note_at_one_second_starts_at_frame_48000():
    for block_frames in (256, 1000, 64):
        engine = Engine(song_of(Track("P", 0, notes=[Note(60, 100, 1.0, 1.5)])), block_frames=block_frames)
        engine.play()
        audio = run(engine, 1.2, block_frames)
        assert abs(first_sound(audio) - 48000) <= 1
        assert engine.position_s == pytest.approx(1.2, abs=1 / SR)


def test_block_size_does_not_change_the_mix():
    song = song_of(
        Track("Piano", 0, pan=-0.5, notes=[Note(60 + i % 7, 90, i * 0.137, i * 0.137 + 0.3) for i in range(12)]),
        Track("Strings", 48, pan=0.4, notes=[Note(55, 70, 0.2, 1.4), Note(59, 70, 0.21, 1.3)]),
        Track(
            "Drums",
            is_drum=True,
            channel=9,
            notes=[Note(36 + (i % 3) * 3, 100, i * 0.25, i * 0.25 + 0.1) for i in range(7)],
        ),
    )
    reference = None
    for block_frames in (1024, 64, 333):
        engine = Engine(song, block_frames=block_frames)
        engine.play()
        audio = run(engine, 2.0, block_frames)
        if reference is None:
            reference = audio
        else:
            np.testing.assert_allclose(audio, reference, rtol=0, atol=2e-5)
    assert rms(reference) > 0.01


def test_mute_solo_and_pan():
    low = Track("Low", 73, notes=[Note(57, 100, 0.0, 1.0)])  # flute A3
    high = Track("High", 73, notes=[Note(69, 100, 0.0, 1.0)])  # flute A4
    song = song_of(low, high)

    def mix() -> np.ndarray:
        engine = Engine(song)
        engine.play()
        return run(engine, 0.8)[SR // 4 :]

    both = mix()
    low.mute = True
    assert fundamental_hz(mix()[:, 0]) == pytest.approx(440, rel=0.02)
    low.mute, high.solo = False, True
    only_high = mix()
    assert fundamental_hz(only_high[:, 0]) == pytest.approx(440, rel=0.02)
    low.solo = True
    np.testing.assert_allclose(mix(), both, atol=1e-6)  # both soloed: both heard
    low.solo = high.solo = False
    high.mute = True
    low.pan = -1.0
    left = mix()
    assert rms(left[:, 1]) < 1e-6 < rms(left[:, 0])
    low.pan = 0.0
    centre = mix()
    np.testing.assert_allclose(centre[:, 0], centre[:, 1], atol=1e-6)
    assert rms(centre[:, 0]) == pytest.approx(rms(left[:, 0]) * np.sqrt(0.5), rel=0.01)  # constant power


def test_volume_scales_the_track():
    track = Track("P", 16, volume=1.0, notes=[Note(60, 100, 0.0, 1.0)])
    engine = Engine(song_of(track))
    engine.play()
    full = run(engine, 0.5)
    track.volume = 0.5
    half = run(engine, 0.5)
    assert rms(half[SR // 4 :]) == pytest.approx(0.5 * rms(full[SR // 4 :]), rel=0.02)


def test_limiter_keeps_a_very_loud_chord_within_full_scale():
    chord = [Note(p, 127, 0.0, 1.0) for p in range(36, 84, 2)]
    song = song_of(
        *[Track(f"T{i}", program, volume=2.0, notes=list(chord)) for i, program in enumerate((16, 30, 62, 81))]
    )
    engine = Engine(song)
    engine.play()
    blocks, reduction_db = [], 0.0
    for _ in range(200):
        blocks.append(engine.render_block(256))
        reduction_db = max(reduction_db, engine.gain_reduction_db)
    audio = np.concatenate(blocks)
    assert np.abs(audio).max() <= 1.0
    assert rms(audio) > 0.3  # loud, not muted by the limiter
    assert reduction_db > 3.0


def test_loop_wraps_sample_accurately():
    notes = [Note(60, 100, 0.1, 0.15)]
    engine = Engine(song_of(Track("Organ", 16, notes=notes)), block_frames=300)
    engine.set_loop(0.0, 0.5)
    engine.play()
    audio = run(engine, 2.0, 300)
    found = onsets(audio[:, 0], threshold=1e-6, gap=2000)
    assert [round(f / SR, 4) for f in found] == [0.1, 0.6, 1.1, 1.6]
    assert all(abs(f - (4800 + 24000 * i)) <= 1 for i, f in enumerate(found))
    assert 0.0 <= engine.position_s < 0.5
    engine.clear_loop()
    assert engine.loop is None


def test_loop_wrap_ends_notes_that_cross_it():
    engine = Engine(song_of(Track("Organ", 16, notes=[Note(60, 100, 0.0, 5.0)])))
    engine.set_loop(0.0, 0.5)
    engine.play()
    run(engine, 1.2)
    assert engine.active_voices <= 2  # one sounding, at most one releasing: no pile-up of held notes


def test_metronome_clicks_on_beats_with_an_accented_downbeat():
    engine = Engine(Song(tempo_bpm=120.0, time_signature=(4, 4)))
    engine.metronome = True
    engine.play()
    audio = run(engine, 4.1)[:, 0]
    found = onsets(audio, threshold=1e-3, gap=1000)
    assert np.abs(np.subtract(found, [int(round(0.5 * i * SR)) for i in range(9)])).max() <= 1
    clicks = [audio[f : f + 1200] for f in found]
    levels = [np.abs(c).max() for c in clicks]
    assert levels[0] > 1.3 * levels[1] and levels[4] > 1.3 * levels[3]  # bar 1 and bar 2 downbeats
    assert peak_hz(clicks[0]) > 1.3 * peak_hz(clicks[1])


def test_metronome_follows_tempo_and_meter():
    song = Song(tempo_bpm=60.0, time_signature=(6, 8))
    engine = Engine(song)
    engine.metronome = True
    engine.play()
    audio = run(engine, 3.1)[:, 0]
    found = onsets(audio, threshold=1e-3, gap=1000)
    assert np.abs(np.subtract(found, [int(round(0.5 * i * SR)) for i in range(7)])).max() <= 1  # eighths at 60 BPM
    levels = [np.abs(audio[f : f + 1200]).max() for f in found]
    assert levels[6] > 1.3 * levels[5]  # six eighths to the bar
    song.tempo_bpm = 120.0  # the app rescales the notes; the click follows the song's tempo at once
    engine.seek(0.0)
    audio = run(engine, 1.1)[:, 0]
    found = onsets(audio, threshold=1e-3, gap=1000)
    assert np.abs(np.subtract(found, [int(round(0.25 * i * SR)) for i in range(5)])).max() <= 1


def test_count_in_delays_the_song_by_whole_bars():
    engine = Engine(song_of(Track("P", 0, notes=[Note(60, 100, 0.0, 0.3)])))
    engine.count_in_bars = 1
    engine.play()
    assert engine.counting_in
    audio = run(engine, 2.5)[:, 0]
    clicks = onsets(audio[: 2 * SR], threshold=1e-3, gap=1000)
    assert np.abs(np.subtract(clicks, [0, 24000, 48000, 72000])).max() <= 1  # one 4/4 bar at 120 BPM
    assert abs(first_sound(audio[2 * SR - 100 :], 1e-6) - 100) <= 1  # then the song, from 0
    assert not engine.counting_in
    assert engine.position_s == pytest.approx(0.5, abs=1 / SR)


def test_stop_silences_and_seek_moves():
    engine = Engine(song_of(Track("Strings", 48, notes=[Note(60, 100, 0.0, 3.0), Note(64, 100, 1.5, 3.0)])))
    engine.play()
    run(engine, 0.5)
    assert engine.active_voices > 0
    engine.stop()
    assert not engine.playing
    assert not run(engine, 0.1).any()
    assert engine.active_voices == 0
    position = engine.position_s
    run(engine, 0.2)
    assert engine.position_s == position  # stopped: the transport does not move
    engine.seek(1.4)
    assert engine.position_s == pytest.approx(1.4)
    engine.play()
    audio = run(engine, 0.2)
    assert abs(first_sound(audio) - int(0.1 * SR)) <= 1  # the note at 1.5 s, not the one already sounding
    with pytest.raises(ValueError):
        engine.seek(float("nan"))
    with pytest.raises(ValueError):
        engine.set_loop(2.0, 1.0)


def test_live_input_sounds_while_stopped_and_from_other_threads():
    engine = Engine(song_of(Track("Keys", 0), Track("Pad", 88)))
    engine.live_note_on(0, 60, 100)
    audio = run(engine, 0.2)
    assert first_sound(audio) <= 1 and rms(audio) > 1e-3
    engine.live_note_off(0, 60)
    run(engine, 1.0)
    assert engine.active_voices == 0

    def press(track: int, base: int) -> None:
        for i in range(20):
            engine.live_note_on(track, base + i, 90)
            engine.live_note_off(track, base + i)

    threads = [threading.Thread(target=press, args=(i % 2, 40 + 10 * i)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    run(engine, 0.1)
    assert engine.active_voices > 0
    engine.live_control_change(0, 64, 127)
    engine.live_pitch_bend(1, -2.0)
    engine.live_note_on(7, 60, 100)  # no such track: ignored
    assert np.isfinite(run(engine, 0.1)).all()


def test_pedal_and_bend_reach_the_synth_live():
    engine = Engine(song_of(Track("Flute", 73)))
    engine.live_note_on(0, 57, 100)
    before = run(engine, 0.6)[SR // 5 :, 0]
    engine.live_pitch_bend(0, 12.0)
    after = run(engine, 0.6)[SR // 5 :, 0]
    assert fundamental_hz(after) / fundamental_hz(before) == pytest.approx(2.0, rel=0.02)


def test_audio_clips_are_resampled_and_placed():
    t = np.arange(24000) / 24000
    clip = AudioClip("Tone", start_s=0.5, gain=0.5, samples=(0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    song = Song(clips=[clip])
    engine = Engine(song)
    engine.play()
    audio = run(engine, 2.0)[:, 0]
    assert abs(first_sound(audio, 1e-3) - SR // 2) <= 2
    assert peak_hz(audio[SR // 2 : SR + SR // 2]) == pytest.approx(1000, abs=2)
    assert np.abs(audio).max() == pytest.approx(0.5 * 0.5 * np.sqrt(0.5), rel=0.02)  # mono clip, centred
    assert not audio[int(1.51 * SR) :].any()
    clip.mute = True
    engine.seek(0.0)
    assert not run(engine, 1.0).any()


def test_tracks_added_or_changed_while_playing_are_picked_up():
    song = song_of(Track("Organ", 16, notes=[Note(60, 100, 0.0, 0.05)]))
    engine = Engine(song)
    engine.play()
    run(engine, 0.5)
    song.tracks.append(Track("Bass", 33, notes=[Note(40, 100, 0.7, 0.9)]))
    audio = run(engine, 0.5)
    assert abs(first_sound(audio) - int(0.2 * SR)) <= 1
    assert len(engine.track_peaks) == 2
    song.tracks[1].program = 73  # a new instrument for the track
    engine.sync_tracks()
    run(engine, 0.1)
    assert engine.synths[1].program == 73


def test_notes_changed_reschedules_in_place_edits():
    note = Note(60, 100, 1.0, 1.2)
    song = song_of(Track("P", 0, notes=[note]))
    engine = Engine(song)
    engine.play()
    run(engine, 0.5)
    note.start_s, note.end_s = 0.75, 0.9
    engine.notes_changed()
    audio = run(engine, 0.5)
    assert abs(first_sound(audio) - int(0.25 * SR)) <= 1


def test_stats_for_the_ui():
    engine = Engine(song_of(Track("P", 48, notes=[Note(60, 100, 0.0, 1.0), Note(64, 100, 0.0, 1.0)])))
    engine.play()
    run(engine, 0.3)
    assert engine.active_voices == 2
    assert 0.0 < engine.render_load < 10.0
    assert engine.track_peaks[0] > 0.0


def test_custom_synth_factory_and_bad_sample_rate():
    from synth.instruments.dsp.dsp import DspSynth

    made = []

    def factory(track: Track):
        made.append(track.name)
        return DspSynth(track.program, track.is_drum, 44100)

    Engine(song_of(Track("A"), Track("B")), sample_rate=44100, synth_factory=factory)
    assert made == ["A", "B"]
    with pytest.raises(ValueError, match="Hz"):
        Engine(song_of(Track("A")), sample_rate=48000, synth_factory=factory)
    with pytest.raises(ValueError, match="sample_rate"):
        Engine(Song(), sample_rate=10)


def test_a_prepared_clip_is_not_resampled_again_in_the_audio_thread(monkeypatch):
    import synth.engine.mixer as mixer_module
    from composer.song import AudioClip

    clip = AudioClip(samples=np.ones(2400, np.float32) * 0.1, sample_rate=24000, start_s=0.0)
    engine = Engine(Song(clips=[clip]), sample_rate=48000)
    engine.prepare_clip(clip)
    calls = []
    monkeypatch.setattr(mixer_module, "resample", lambda *a: calls.append(a))
    engine.play()
    block = engine.render_block(256)
    assert not calls and np.abs(block).max() > 0  # played from the cache made before

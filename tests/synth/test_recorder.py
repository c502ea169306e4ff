import mido
import pytest

from composer.files.midi_io import read_midi
from composer.song import Song, Track
from synth.engine.recorder import MIN_NOTE_S, Recorder, bend_semitones, take_to_midi, write_take


def on(pitch, velocity=100):
    return mido.Message("note_on", note=pitch, velocity=velocity)


def off(pitch):
    return mido.Message("note_off", note=pitch)


def pedal(down):
    return mido.Message("control_change", control=64, value=127 if down else 0)


def song_with_track() -> Song:
    return Song(tracks=[Track(name="Keys")])


def test_notes_keep_their_unquantized_times_and_velocities():
    song = song_with_track()
    rec = Recorder(song, 0)
    rec.handle(on(60, 90), 0.013)
    rec.handle(on(64, 70), 0.5071)
    rec.handle(off(60), 1.2345)
    rec.handle(mido.Message("note_on", note=64, velocity=0), 1.5)  # velocity 0 is a note-off
    rec.stop(2.0)
    notes = [(n.pitch, n.velocity, n.start_s, n.end_s) for n in song.tracks[0].notes]
    assert notes == [(60, 90, 0.013, 1.2345), (64, 70, 0.5071, 1.5)]


def test_sustain_pedal_folds_into_note_ends():
    song = song_with_track()
    rec = Recorder(song, 0)
    rec.handle(on(60), 0.0)
    rec.handle(pedal(True), 0.2)
    rec.handle(off(60), 0.5)  # held by the pedal
    rec.handle(on(62), 0.6)
    rec.handle(off(62), 0.7)
    rec.handle(pedal(False), 1.5)
    rec.handle(on(64), 2.0)
    rec.handle(off(64), 2.5)  # pedal up: ends at once
    rec.stop(3.0)
    ends = {n.pitch: n.end_s for n in song.tracks[0].notes}
    assert ends == {60: 1.5, 62: 1.5, 64: 2.5}


def test_restrike_under_the_pedal_ends_the_previous_note():
    song = song_with_track()
    rec = Recorder(song, 0)
    rec.handle(pedal(True), 0.0)
    rec.handle(on(60), 0.1)
    rec.handle(off(60), 0.2)
    rec.handle(on(60), 0.4)
    rec.stop(1.0)
    spans = [(n.start_s, n.end_s) for n in song.tracks[0].notes]
    assert spans == [(0.1, 0.4), (0.4, 1.0)]


def test_stop_ends_held_notes_and_ignores_later_messages():
    song = song_with_track()
    rec = Recorder(song, 0)
    rec.handle(on(60), 0.25)
    rec.stop(1.0)
    rec.handle(on(61), 1.1)
    assert [(n.pitch, n.end_s) for n in song.tracks[0].notes] == [(60, 1.0)]


def test_times_come_from_the_clock_when_not_given():
    clock = iter([0.5, 0.75])
    song = song_with_track()
    rec = Recorder(song, 0, now_s=lambda: next(clock))
    rec.handle(on(60))
    rec.handle(off(60))
    assert (song.tracks[0].notes[0].start_s, song.tracks[0].notes[0].end_s) == (0.5, 0.75)


def test_pitch_bends_are_timestamped_and_written(tmp_path):
    song = song_with_track()
    rec = Recorder(song, 0)
    rec.handle(on(60), 0.0)
    rec.handle(mido.Message("pitchwheel", pitch=8191), 0.25)
    rec.handle(mido.Message("pitchwheel", pitch=-4096), 0.5)
    rec.handle(off(60), 1.0)
    rec.stop(1.0)
    assert rec.pitch_bends == [(0.25, 2.0), (0.5, -1.0)]
    mid = take_to_midi(song, rec)
    bends = [m.pitch for m in mid.tracks[1] if m.type == "pitchwheel"]
    assert bends == [8191, -4096]
    out = tmp_path / "take.mid"
    write_take(song, rec, out)
    again = read_midi(out)
    assert [(n.pitch, n.start_s) for n in again.tracks[0].notes] == [(60, 0.0)]
    assert abs(again.tracks[0].notes[0].end_s - 1.0) < 1e-3
    assert [m.pitch for m in mido.MidiFile(out).tracks[1] if m.type == "pitchwheel"] == [8191, -4096]


def test_bend_range_conversion():
    assert bend_semitones(0) == 0.0
    assert bend_semitones(-8192) == -2.0
    assert bend_semitones(8191, bend_range=12.0) == 12.0


def test_track_index_is_checked():
    with pytest.raises(ValueError, match="track_index"):
        Recorder(song_with_track(), 3)


def test_a_note_whose_off_arrives_with_its_on_is_kept():
    """A stalled MIDI graph delivers a short note's on and off in one cycle, with one timestamp."""
    song = song_with_track()
    rec = Recorder(song, 0)
    rec.handle(on(65), 0.5)
    rec.handle(off(65), 0.5)
    rec.handle(on(67), 0.5)
    rec.handle(off(67), 0.6)
    rec.stop(1.0)
    spans = [(n.pitch, n.start_s, n.end_s) for n in song.tracks[0].notes]
    assert spans == [(65, 0.5, 0.5 + MIN_NOTE_S), (67, 0.5, 0.6)]

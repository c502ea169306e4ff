"""MIDI files to and from a Song: tempo map, meter, names, programs, drums, pedal."""

from __future__ import annotations

import io

import mido
import music21
import pretty_midi
import pytest

from composer.files.midi_io import midi_bytes_to_song, read_midi, song_to_midi, write_midi
from composer.song import Note, Song, Track


def _song() -> Song:
    piano = Track(name="Piano", program=0, volume=0.5, pan=-0.5)
    piano.notes = [Note(60 + i % 12, 40 + i, i * 0.137, i * 0.137 + 0.3) for i in range(40)]
    strings = Track(name="Strings", program=48, notes=[Note(48, 90, 0.0, 4.0), Note(55, 70, 1.003, 2.999)])
    kicks = [Note(36, 110, i * 0.25, i * 0.25 + 0.05) for i in range(16)]
    drums = Track(name="Kit", is_drum=True, channel=9, notes=kicks)
    return Song(tempo_bpm=97.0, time_signature=(3, 4), tracks=[piano, strings, drums])


def _save(mid: mido.MidiFile) -> bytes:
    buffer = io.BytesIO()
    mid.save(file=buffer)
    return buffer.getvalue()


def test_type1_round_trip_keeps_everything(tmp_path):
    song = _song()
    path = tmp_path / "song.mid"
    write_midi(song, path)
    assert mido.MidiFile(path).type == 1
    back = read_midi(path)
    assert back.tempo_bpm == pytest.approx(97.0, abs=1e-3)
    assert back.time_signature == (3, 4)
    assert [(t.name, t.program, t.is_drum) for t in back.tracks] == [
        ("Piano", 0, False),
        ("Strings", 48, False),
        ("Kit", 0, True),
    ]
    assert back.tracks[2].channel == 9
    for original, read in zip(song.tracks, back.tracks, strict=True):
        original.sort()
        assert len(read.notes) == len(original.notes)
        for a, b in zip(original.notes, read.notes, strict=True):
            assert (a.pitch, a.velocity) == (b.pitch, b.velocity)
            assert abs(a.start_s - b.start_s) < 1e-3
            assert abs(a.end_s - b.end_s) < 1e-3
    assert list(tmp_path.iterdir()) == [path]  # no temporary file left beside it


def test_repeated_notes_re_strike():
    track = Track(notes=[Note(60, 80, 0.0, 0.5), Note(60, 80, 0.5, 1.0), Note(60, 80, 1.0, 1.5)])
    back = midi_bytes_to_song(_save(song_to_midi(Song(tracks=[track]))))
    assert [(n.start_s, n.end_s) for n in back.tracks[0].notes] == [(0.0, 0.5), (0.5, 1.0), (1.0, 1.5)]


def test_type0_without_a_name_gets_numbered_tracks_and_drums():
    mid = mido.MidiFile(type=0)
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("note_on", channel=1, note=60, velocity=80),
                mido.Message("note_on", channel=9, note=36, velocity=80),
                mido.Message("note_off", channel=1, note=60, time=480),
                mido.Message("note_off", channel=9, note=36),
            ]
        )
    )
    assert [t.name for t in midi_bytes_to_song(_save(mid)).tracks] == ["Track 1", "Drums"]


def test_unicode_track_names_survive(tmp_path):
    song = Song(tracks=[Track(name="ピアノ — Flöte", notes=[Note(60, 80, 0.0, 1.0)])])
    write_midi(song, tmp_path / "u.mid")
    assert read_midi(tmp_path / "u.mid").tracks[0].name == "ピアノ — Flöte"


def test_mixer_values_beyond_midi_range_are_clamped():
    track = Track(volume=1.8, pan=1.0, program=200, notes=[Note(140, 300, 0.0, 1.0)])
    mid = song_to_midi(Song(tracks=[track]))
    controls = {m.control: m.value for m in mid.tracks[1] if m.type == "control_change"}
    assert controls == {7: 127, 10: 127}
    back = midi_bytes_to_song(_save(mid)).tracks[0]
    assert [(n.pitch, n.velocity) for n in back.notes] == [(127, 127)]


def test_sixteen_tracks_and_more_keep_their_own_programs():
    tracks = [Track(name=f"T{i}", program=i, notes=[Note(40 + i, 80, i * 0.1, 1.0)]) for i in range(20)]
    back = midi_bytes_to_song(_save(song_to_midi(Song(tracks=tracks))))
    assert [(t.name, t.program) for t in back.tracks] == [(f"T{i}", i) for i in range(20)]
    assert not any(t.is_drum for t in back.tracks)


def test_empty_track_survives_a_round_trip():
    song = Song(tracks=[Track(name="Lead", notes=[Note(72, 80, 0.0, 1.0)]), Track(name="Empty", program=33)])
    back = midi_bytes_to_song(_save(song_to_midi(song)))
    assert [(t.name, t.program, len(t.notes)) for t in back.tracks] == [("Lead", 0, 1), ("Empty", 33, 0)]


def test_type0_channels_become_tracks():
    mid = mido.MidiFile(type=0, ticks_per_beat=96)
    t = mido.MidiTrack()
    t.append(mido.MetaMessage("track_name", name="All in one", time=0))
    t.append(mido.Message("program_change", channel=0, program=40, time=0))
    t.append(mido.Message("program_change", channel=3, program=32, time=0))
    t.append(mido.Message("note_on", channel=0, note=76, velocity=90, time=0))
    t.append(mido.Message("note_on", channel=3, note=40, velocity=70, time=0))
    t.append(mido.Message("note_on", channel=9, note=38, velocity=100, time=0))
    t.append(mido.Message("note_off", channel=9, note=38, time=24))
    t.append(mido.Message("note_off", channel=0, note=76, time=72))
    t.append(mido.Message("note_off", channel=3, note=40, time=96))
    mid.tracks.append(t)
    song = midi_bytes_to_song(_save(mid))
    assert [(tr.name, tr.channel, tr.program, tr.is_drum, len(tr.notes)) for tr in song.tracks] == [
        ("All in one (ch 1)", 0, 40, False, 1),
        ("All in one (ch 4)", 3, 32, False, 1),
        ("All in one (drums)", 9, 0, True, 1),
    ]
    by_channel = {tr.channel: tr.notes[0] for tr in song.tracks}
    assert by_channel[9].end_s == pytest.approx(0.125)  # 24 ticks at 96 per beat, 120 BPM
    assert by_channel[0].end_s == pytest.approx(0.5)
    assert by_channel[3].end_s == pytest.approx(1.0)


def test_tempo_changes_map_ticks_to_seconds():
    mid = mido.MidiFile(type=1, ticks_per_beat=480)
    conductor = mido.MidiTrack(
        [
            mido.MetaMessage("set_tempo", tempo=500_000, time=0),  # 120 BPM
            mido.MetaMessage("set_tempo", tempo=1_000_000, time=960),  # 60 BPM after 2 beats (1 s)
            mido.MetaMessage("set_tempo", tempo=250_000, time=480),  # 240 BPM after 1 more beat (+1 s)
        ]
    )
    notes = mido.MidiTrack()
    for _ in range(8):  # a quarter note on every beat
        notes.append(mido.Message("note_on", note=60, velocity=80, time=0))
        notes.append(mido.Message("note_off", note=60, time=480))
    mid.tracks += [conductor, notes]
    data = _save(mid)
    song = midi_bytes_to_song(data)
    starts = [n.start_s for n in song.tracks[0].notes]
    assert starts == pytest.approx([0.0, 0.5, 1.0, 2.0, 2.25, 2.5, 2.75, 3.0])
    assert song.tracks[0].notes[2].end_s == pytest.approx(2.0)
    assert song.tempo_bpm == 120.0
    reference = pretty_midi.PrettyMIDI(io.BytesIO(data)).instruments[0].notes
    assert starts == pytest.approx([n.start for n in reference])


def test_sustain_pedal_extends_notes_to_release():
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("control_change", control=64, value=127, time=0),
                mido.Message("note_on", note=60, velocity=80, time=0),
                mido.Message("note_off", note=60, time=240),  # 0.25 s, pedal still down
                mido.Message("note_on", note=64, velocity=80, time=0),
                mido.Message("note_off", note=64, time=240),
                mido.Message("control_change", control=64, value=0, time=960),  # release at 1.5 s
                mido.Message("note_on", note=67, velocity=80, time=0),
                mido.Message("note_off", note=67, time=480),  # after release: not extended
            ]
        )
    )
    notes = {n.pitch: n for n in midi_bytes_to_song(_save(mid)).tracks[0].notes}
    assert notes[60].end_s == pytest.approx(1.5)
    assert notes[64].end_s == pytest.approx(1.5)
    assert (notes[67].start_s, notes[67].end_s) == pytest.approx((1.5, 2.0))


def test_re_striking_a_pedalled_note_ends_the_held_one():
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("control_change", control=64, value=127, time=0),
                mido.Message("note_on", note=60, velocity=80, time=0),
                mido.Message("note_off", note=60, time=240),
                mido.Message("note_on", note=60, velocity=90, time=240),  # same key again at 0.5 s
                mido.Message("note_off", note=60, time=240),
                mido.Message("control_change", control=64, value=0, time=480),  # release at 1.25 s
            ]
        )
    )
    notes = midi_bytes_to_song(_save(mid)).tracks[0].notes
    assert [(n.velocity, round(n.start_s, 6), round(n.end_s, 6)) for n in notes] == [(80, 0.0, 0.5), (90, 0.5, 1.25)]


def test_note_on_velocity_zero_is_note_off():
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("note_on", note=60, velocity=100, time=0),
                mido.Message("note_on", note=60, velocity=0, time=480),
                mido.Message("note_on", note=62, velocity=100, time=0),
                mido.Message("note_on", note=62, velocity=0, time=240),
            ]
        )
    )
    notes = midi_bytes_to_song(_save(mid)).tracks[0].notes
    assert [(n.pitch, n.velocity, n.start_s, n.end_s) for n in notes] == [(60, 100, 0.0, 0.5), (62, 100, 0.5, 0.75)]


def test_overlapping_same_pitch_notes_pair_first_in_first_out():
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("note_on", note=60, velocity=50, time=0),
                mido.Message("note_on", note=60, velocity=100, time=480),
                mido.Message("note_off", note=60, time=480),
                mido.Message("note_off", note=60, time=480),
                mido.Message("note_off", note=60, time=480),  # an extra off is ignored
            ]
        )
    )
    notes = midi_bytes_to_song(_save(mid)).tracks[0].notes
    assert [(n.velocity, n.start_s, n.end_s) for n in notes] == [(50, 0.0, 1.0), (100, 0.5, 1.5)]


def test_note_left_open_ends_at_end_of_track():
    mid = mido.MidiFile(type=0, ticks_per_beat=480)
    mid.tracks.append(
        mido.MidiTrack(
            [
                mido.Message("note_on", note=60, velocity=80, time=0),
                mido.Message("note_on", note=64, velocity=80, time=480),
                mido.MetaMessage("end_of_track", time=960),
            ]
        )
    )
    notes = midi_bytes_to_song(_save(mid)).tracks[0].notes
    assert [(n.pitch, n.start_s, n.end_s) for n in notes] == [(60, 0.0, 1.5), (64, 0.5, 1.5)]


def test_music21_chorale_reads_as_four_voices(tmp_path):
    score = music21.corpus.parse("bach/bwv66.6")
    path = tmp_path / "bwv66.6.mid"
    score.write("midi", fp=str(path))
    song = read_midi(path)
    assert len(song.tracks) == 4
    assert [t.name for t in song.tracks] == ["Soprano", "Alto", "Tenor", "Bass"]
    for track, part in zip(song.tracks, score.parts, strict=True):
        pitches = [n.pitch for n in track.notes]
        expected = [p.midi for n in part.flatten().notes for p in n.pitches]
        assert len(pitches) == pytest.approx(len(expected), abs=2)  # tied notes merge
        assert min(pitches) == min(expected) and max(pitches) == max(expected)
        assert all(0 < n.duration_s < 10 for n in track.notes)
    soprano, bass = song.tracks[0], song.tracks[3]
    assert sum(n.pitch for n in soprano.notes) / len(soprano.notes) > sum(n.pitch for n in bass.notes) / len(bass.notes)
    quarter_s = 60.0 / song.tempo_bpm
    assert song.duration_s / quarter_s == pytest.approx(score.highestTime, abs=1.0)

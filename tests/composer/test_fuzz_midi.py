"""Mutated MIDI bytes: the reader either loads them or raises ComposerError, nothing else."""

from __future__ import annotations

import contextlib
import io
import random
import time

import mido
import music21
import pytest

from composer.errors import ComposerError
from composer.files.midi_io import midi_bytes_to_song, song_to_midi
from composer.song import Note, Song, Track

N_MUTATIONS = 1500
SPECIAL_BYTES = (0x00, 0x7F, 0x80, 0xFF, 0xF0, 0xF7, 0x90, 0x2F, 0x51, 0x58)


def _bytes(mid: mido.MidiFile) -> bytes:
    buffer = io.BytesIO()
    mid.save(file=buffer)
    return buffer.getvalue()


def _rich_type0() -> bytes:
    """Running status, pedal, tempo and meter changes, sysex, pitch bend, drums: one track."""
    mid = mido.MidiFile(type=0, ticks_per_beat=96)
    t = mido.MidiTrack()
    t.append(mido.MetaMessage("key_signature", key="Eb"))
    t.append(mido.MetaMessage("time_signature", numerator=6, denominator=8))
    t.append(mido.Message("sysex", data=[0x7E, 0x7F, 0x09, 0x01]))
    for i in range(24):
        ch = 9 if i % 4 == 3 else i % 3
        t.append(mido.Message("note_on", channel=ch, note=40 + i, velocity=30 + i, time=7 * i % 20))
        if i % 5 == 0:
            t.append(mido.Message("control_change", channel=ch, control=64, value=127 if i % 10 else 0))
            t.append(mido.MetaMessage("set_tempo", tempo=400_000 + 10_000 * i))
        t.append(mido.Message("pitchwheel", channel=ch, pitch=100 * i - 1000, time=3))
        t.append(mido.Message("note_on", channel=ch, note=40 + i, velocity=0, time=11))
    mid.tracks.append(t)
    return _bytes(mid)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory) -> list[bytes]:
    folder = tmp_path_factory.mktemp("fuzz")
    files = []
    for name in ("bach/bwv66.6", "bach/bwv26.6"):
        path = folder / "piece.mid"
        music21.corpus.parse(name).write("midi", fp=str(path))
        files.append(path.read_bytes())
    rng = random.Random(0)
    tracks = [
        Track(
            name=f"T{k}",
            program=k * 9,
            is_drum=k == 2,
            notes=[
                Note(rng.randint(30, 90), rng.randint(1, 127), s, s + rng.uniform(0.01, 3))
                for s in sorted(rng.uniform(0, 20) for _ in range(40))
            ],
        )
        for k in range(4)
    ]
    files.append(_bytes(song_to_midi(Song(tempo_bpm=133, time_signature=(7, 8), tracks=tracks))))
    files.append(_rich_type0())
    return files


def _mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.choice((1, 1, 2, 3, 8))):
        kind = rng.randrange(6)
        at = rng.randrange(len(buf)) if buf else 0
        if kind == 0 and buf:  # flip bits
            buf[at] ^= 1 << rng.randrange(8)
        elif kind == 1 and buf:  # overwrite with a byte the parser cares about
            buf[at] = rng.choice(SPECIAL_BYTES) if rng.random() < 0.5 else rng.randrange(256)
        elif kind == 2:  # insert
            buf[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 4)))
        elif kind == 3 and buf:  # delete
            del buf[at : at + rng.randint(1, 4)]
        elif kind == 4:  # truncate
            del buf[rng.randrange(len(buf) + 1) :]
        else:  # copy a slice elsewhere (duplicated events, chunks)
            start = rng.randrange(len(buf) + 1)
            piece = buf[start : start + rng.randint(1, 64)]
            buf[at:at] = piece
    return bytes(buf)


def test_mutated_midi_raises_only_composer_error(seeds):
    rng = random.Random(1234)
    loaded = refused = 0
    started = time.perf_counter()
    for i in range(N_MUTATIONS):
        data = _mutate(seeds[i % len(seeds)], rng)
        try:
            song = midi_bytes_to_song(data, f"mutant-{i}.mid")
        except ComposerError as exc:
            message = str(exc)
            assert message.startswith(f"mutant-{i}.mid: ") and "\n" not in message, message
            refused += 1
            continue
        loaded += 1
        for track in song.tracks:  # what loads is a sane song
            assert 0 <= track.program <= 127 and 0 <= track.channel <= 15
            for n in track.notes:
                assert 0 <= n.pitch <= 127 and 1 <= n.velocity <= 127 and 0 <= n.start_s < n.end_s
        assert 6 <= song.tempo_bpm <= 1000
    elapsed_s = time.perf_counter() - started
    # Both outcomes happen, or the mutations are too weak or too strong to test anything.
    assert loaded > 100 and refused > 100, (loaded, refused)
    assert elapsed_s < 20, f"{N_MUTATIONS} mutants took {elapsed_s:.1f} s"


def test_every_prefix_of_a_file_is_handled(seeds):
    data = seeds[3]
    for cut in range(len(data)):
        with contextlib.suppress(ComposerError):
            midi_bytes_to_song(data[:cut])

"""Shared fixtures for the symbolic side: a tiny built corpus from synthetic MIDI."""

import random

import pytest

from composer.files.midi_io import write_midi
from composer.song import Note, Song, Track
from composer.train.corpus import build_corpus


def synthetic_song(seed: int) -> Song:
    """Scales and chords in a random major key: enough structure to learn quickly."""
    rng = random.Random(seed)
    tonic = rng.randrange(48, 60)
    scale = [0, 2, 4, 5, 7, 9, 11, 12]
    notes, t = [], 0.0
    for _ in range(12):
        for step in scale if rng.random() < 0.5 else reversed(scale):
            notes.append(Note(tonic + step, 80, t, t + 0.24))
            t += 0.25
        for offset in (0, 4, 7):
            notes.append(Note(tonic + offset - 12, 70, t, t + 0.9))
        t += 1.0
    return Song(tracks=[Track(name="synthetic", notes=notes)])


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny_corpus")
    midi_dir = root / "midi"
    midi_dir.mkdir()
    for i in range(40):
        write_midi(synthetic_song(i), midi_dir / f"piece{i:02d}.mid")
    out = root / "corpus"
    summary = build_corpus(out, midi_dir=midi_dir, include_music21=False, workers=1)
    assert summary["pieces"] == 40 and summary["failed"] == 0
    return out

"""A preview (an AI candidate being auditioned) is scheduled by the engine with the track's own notes,
sample-accurately, without entering the song; ending it silences it. Offline and through the planner thread."""

from __future__ import annotations

import time

import numpy as np

from composer.song import Note, Song, Track
from synth.engine.engine import Engine

SR = 48000
BLOCK = 256


class StandInOutput:
    """What the engine asks of an AudioOutput: a latency."""

    latency_s = 0.0


def render_s(engine: Engine, seconds: float) -> np.ndarray:
    blocks = [engine.render_block(BLOCK) for _ in range(int(seconds * SR / BLOCK))]
    return np.concatenate(blocks)[:, 0]


def first_sound_sample(mono: np.ndarray) -> int:
    return int(np.argmax(np.abs(mono) > 1e-4))


def test_a_preview_sounds_on_its_track_at_its_sample_and_stays_out_of_the_song():
    song = Song(tracks=[Track("Lead", program=0)])
    engine = Engine(song, SR, BLOCK)
    candidate = [Note(60, 100, 0.5003, 0.9)]
    engine.set_preview(0, candidate)
    engine.play()
    mono = render_s(engine, 1.2)
    assert song.tracks[0].notes == [], "a preview is not an edit"
    onset = first_sound_sample(mono)
    assert abs(onset - round(0.5003 * SR)) <= 2, onset  # on its own sample, not at a block or a UI tick


def test_ending_the_preview_silences_it_and_a_new_one_replaces_it():
    song = Song(tracks=[Track("Lead", program=0), Track("Bass", program=33)])
    engine = Engine(song, SR, BLOCK)
    engine.set_preview(1, [Note(40, 100, 0.0, 5.0)])
    engine.play()
    assert np.abs(render_s(engine, 0.3)).max() > 0.01
    engine.set_preview(None)
    render_s(engine, 0.5)  # the release rings out
    assert np.abs(render_s(engine, 0.2)).max() < 1e-4
    assert engine.preview is None


def test_the_planner_thread_publishes_a_preview_while_an_output_plays():
    song = Song(tracks=[Track("Lead", program=0, notes=[Note(64, 90, 10.0, 11.0)])])
    engine = Engine(song, SR, BLOCK)
    output = StandInOutput()
    engine.attach_output(output)
    try:
        built = engine.plans_built
        engine.set_preview(0, [Note(60, 100, 0.0, 1.0)])
        deadline = time.monotonic() + 10
        while engine.plans_built == built and time.monotonic() < deadline:
            time.sleep(0.01)
        assert engine.plans_built > built, "the planner thread built the preview's plan"
        engine.play()
        assert np.abs(render_s(engine, 0.2)).max() > 0.01
        assert [n.pitch for n in song.tracks[0].notes] == [64]
    finally:
        engine.detach_output(output)


def test_an_attached_output_finds_every_keys_tables_built():
    """A live note's first block builds no wavetable while an output plays (the first-block spike)."""
    song = Song(tracks=[Track("Lead", program=0, notes=[Note(60, 90, 0.0, 1.0)]), Track("Pad", program=89)])
    engine = Engine(song, SR, BLOCK)
    assert len(engine.synths[1]._rows) == 0, "offline: only the song's pitches"
    output = StandInOutput()
    engine.attach_output(output)
    try:
        rows = [len(s._rows) for s in engine.synths]
        engine.live_note_on(1, 101, 100)
        engine.play()
        engine.render_block(BLOCK)
        assert [len(s._rows) for s in engine.synths] == rows, "nothing was built in the render thread"
        assert all({k for k, _ in s._rows} == set(range(128)) for s in engine.synths)
    finally:
        engine.detach_output(output)

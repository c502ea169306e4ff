"""Plans off the render thread, synths reused by content, faults that move a track to the DSP synth,
the render path's memory, and the heard position. No audio device: a stand-in output attaches."""

from __future__ import annotations

import gc
import threading
import time

import numpy as np
import pytest

from composer.history import History
from composer.song import Note, Song, Track
from synth.base import Synth
from synth.engine.engine import Engine
from synth.instruments.dsp.dsp import DspSynth

SR = 48000


class StandInOutput:
    """What the engine asks of an AudioOutput: a latency."""

    latency_s = 0.0


def song_with(n_tracks: int = 3, notes: int = 200) -> Song:
    return Song(
        tracks=[
            Track(f"T{i}", program=8 * i, notes=[Note(48 + k % 24, 90, k * 0.05, k * 0.05 + 0.2) for k in range(notes)])
            for i in range(n_tracks)
        ]
    )


class RenderThread:
    """Calls engine.render_into in a thread named like AudioOutput's, until stopped."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.running = True
        self.blocks = 0
        self.peaks: list[float] = []
        self.thread = threading.Thread(target=self.run, name="audio-render", daemon=True)

    def run(self) -> None:
        out = np.zeros((256, 2), np.float32)
        while self.running:
            self.engine.render_into(out)
            self.peaks.append(float(np.abs(out).max()))
            self.blocks += 1
            time.sleep(0.001)

    def __enter__(self) -> RenderThread:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.running = False
        self.thread.join(5)


def wait_for(predicate, timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def test_undo_while_playing_builds_the_plan_off_the_render_thread_and_keeps_the_synths():
    made: list[tuple[str, bool]] = []
    engine_box: list[Engine] = []

    def factory(track: Track) -> Synth:
        engine = engine_box[0] if engine_box else None
        made.append((threading.current_thread().name, engine is not None and engine._lock._is_owned()))
        return DspSynth(track.program, track.is_drum, SR)

    song = song_with()
    engine = Engine(song, SR, synth_factory=factory)
    engine_box.append(engine)
    history = History()
    with history.edit(song, "transpose"):
        for n in song.tracks[1].notes:
            n.pitch += 2
    synths_before = engine.synths
    engine.attach_output(StandInOutput())
    try:
        engine.play()
        with RenderThread(engine) as render:
            assert wait_for(lambda: render.blocks > 5)
            plan_before = engine._plan
            history.undo(song)  # every track object replaced by an equal copy, one track's notes differ
            engine.notes_changed()
            assert wait_for(lambda: engine._plan is not plan_before)
            plan = engine._plan
        assert plan.built_in == "engine-planner"
        assert [t for t in plan.tracks] == song.tracks
        assert engine.synths == synths_before  # reused by content: same program, same place
        assert made == [("MainThread", False)] * 3  # only the engine's first plan made synths
    finally:
        engine.detach_output(None)


def test_tracks_replaced_without_a_call_are_noticed_by_the_planner():
    song = song_with(2, 10)
    engine = Engine(song, SR)
    engine.attach_output(StandInOutput())
    try:
        with RenderThread(engine):
            song.tracks = [Track("New", program=40, notes=[Note(60, 100, 0.0, 0.5)])]  # as open/restore do
            assert wait_for(lambda: len(engine.synths) == 1)
        assert engine._plan.built_in == "engine-planner"
        assert engine.synths[0].program == 40
    finally:
        engine.detach_output(None)


class Breaks(Synth):
    """A synth that raises in render after `good` blocks (a neural renderer hitting a bug)."""

    sample_rate = SR

    def __init__(self, good: int = 3) -> None:
        self.good = good
        self.inner = DspSynth(0, False, SR)

    def note_on(self, pitch, velocity, frame_offset=0):
        self.inner.note_on(pitch, velocity, frame_offset)

    def note_off(self, pitch, frame_offset=0):
        self.inner.note_off(pitch, frame_offset)

    def control_change(self, controller, value, frame_offset=0):
        self.inner.control_change(controller, value, frame_offset)

    def pitch_bend(self, semitones, frame_offset=0):
        self.inner.pitch_bend(semitones, frame_offset)

    def render(self, n_frames):
        self.good -= 1
        if self.good < 0:
            raise RuntimeError("renderer broke")
        return self.inner.render(n_frames)

    def reset(self):
        self.inner.reset()

    @property
    def active_voices(self):
        return self.inner.active_voices


def test_a_synth_that_raises_moves_its_track_to_dsp_and_the_sound_goes_on():
    notices: list[str] = []
    lead = Track("Lead", program=0, synth="neural", notes=[Note(60, 100, 0.0, 2.0)])
    bass = Track("Bass", program=33, notes=[Note(40, 100, 0.0, 2.0)])
    engine = Engine(
        Song(tracks=[lead, bass]),
        SR,
        synth_factory=lambda t: Breaks() if t.synth == "neural" else DspSynth(t.program, t.is_drum, SR),
        on_notice=notices.append,
    )
    engine.play()
    peaks = []
    for _ in range(40):
        engine.render_block(256)
        peaks.append(list(engine.track_peaks))
    assert isinstance(engine.synths[0], DspSynth)
    assert len(notices) == 1 and notices[0].startswith("Lead: the neural synth failed on rendering (RuntimeError")
    assert "moved to a new DSP synth" in notices[0]
    assert all(p[1] > 0 for p in peaks)  # the other track never noticed
    assert all(p[0] > 0 for p in peaks[6:])  # the held note started again on the DSP synth


def test_a_dsp_synth_that_raises_is_replaced_by_a_fresh_one(monkeypatch):
    engine = Engine(Song(tracks=[Track("P", 0, notes=[Note(60, 100, 0.0, 1.0)])]), SR)
    broken = engine.synths[0]
    monkeypatch.setattr(broken, "render_into", lambda out: 1 / 0)
    engine.play()
    engine.render_block(256)
    assert engine.synths[0] is not broken and isinstance(engine.synths[0], DspSynth)
    assert "the DSP synth failed on rendering (ZeroDivisionError" in engine.notices[0]
    assert np.abs(engine.render_block(256)).max() > 0


def test_the_render_path_makes_no_garbage_and_little_memory_per_block():
    import tracemalloc

    song = Song(tracks=[Track(f"T{p}", program=p) for p in (19, 48, 89, 80)])
    engine = Engine(song, SR)
    for track in range(4):
        for k in range(16):
            engine.live_note_on(track, 36 + 3 * k + track, 90)
    out = np.zeros((256, 2), np.float32)
    for _ in range(50):
        engine.render_into(out)
    gc.collect()
    gc.disable()
    try:
        objects_before = len(gc.get_objects())
        tracemalloc.start()
        peaks = []
        for _ in range(50):
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            engine.render_into(out)
            peaks.append(tracemalloc.get_traced_memory()[1] - base)
        tracemalloc.stop()
        kept = len(gc.get_objects()) - objects_before
        cyclic = gc.collect()
    finally:
        gc.enable()
    assert engine.active_voices == 64
    assert kept <= 10 and cyclic == 0  # over 50 blocks: no container objects kept, no cyclic garbage
    # No sample memory per block (64 voices x 3 parts x 256 frames is 200 kB): what remains is numpy's
    # own transient iterator buffers for broadcast operations (freed at once, not Python objects).
    assert np.median(peaks) < 40_000


def test_heard_position_lags_the_render_position_by_the_output_latency():
    engine = Engine(song_with(1, 5), SR)
    assert engine.heard_position_s == engine.position_s  # no output: nothing is ahead
    output = StandInOutput()
    output.latency_s = 0.1
    engine.attach_output(output)
    try:
        engine.play()
        for _ in range(100):
            engine.render_block(256)
        assert engine.position_s == pytest.approx(100 * 256 / SR)
        assert engine.heard_position_s == pytest.approx(engine.position_s - 0.1, abs=1 / SR)
    finally:
        engine.detach_output(None)


def test_the_apps_playhead_and_takes_use_the_heard_position():
    from tui.playback import EnginePlayback
    from tui.take import Take

    engine = Engine(song_with(1, 5), SR)
    output = StandInOutput()
    output.latency_s = 0.05
    engine.attach_output(output)
    try:
        playback = EnginePlayback(engine, output)
        take = Take(engine.song.tracks[0], lambda: playback.position_s)
        playback.play()
        for _ in range(40):
            engine.render_block(256)
        take.note_on(64, 100)
        for _ in range(20):
            engine.render_block(256)
        take.note_off(64)
        (note,) = take.stop()
        assert playback.render_position_s == pytest.approx(60 * 256 / SR)
        assert playback.position_s == pytest.approx(60 * 256 / SR - 0.05, abs=1 / SR)
        assert note.start_s == pytest.approx(40 * 256 / SR - 0.05, abs=1 / SR)  # where it was heard
        assert playback.output_latency_s == 0.05
    finally:
        engine.detach_output(None)

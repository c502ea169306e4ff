"""Asking the AI panel for N bars gives N bars of music, or one line saying why not.

The models are tiny transformers whose output ignores the context (final layer norm's gain zero, its bias
picking one embedding column): a fixed distribution over tokens, so each test knows what the sampler does.
A sparse one leaves stubs (a note or two, then silence) that the panel must sample on from; one that never
moves time on and one that never plays a note cannot fill anything, and the panel must say so."""

from __future__ import annotations

import threading
import time

import pytest
from app_helpers import melody, run_async, settle
from model_fixtures import fixed_model
from test_app_ai import SIZE

from composer.model.candidates import AISettings, NoteAssembler
from composer.model.sample import SampleOptions, load_model, stream
from composer.song import Note, Song, Track
from tui.app import ComposerApp
from tui.widgets.ai_jobs import Job, first_hole, sample_filled

BAR_S, BEAT_S = 2.0, 0.5  # 4/4 at 120 BPM


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COMPOSER_TRANSFORMER", raising=False)


@pytest.fixture
def sparse_model(tmp_path) -> str:
    return fixed_model(tmp_path / "sparse.safetensors", note_on=-2.5, note_off=-2.5, shift=0.0)


def plain_stream(path: str, seconds: float, seed: int) -> list[Note]:
    """What one pass of the sampler gives (as the panel did before it filled the bars)."""
    assembler, notes = NoteAssembler(0.0), []
    for item in stream(load_model(path), [], SampleOptions(seconds=seconds, seed=seed)):
        notes += assembler.feed(item.events)
    return notes


def every_bar_sounds(notes: list[Note], start_s: float, bars: int) -> bool:
    return all(
        any(n.start_s < start_s + (k + 1) * BAR_S and n.end_s > start_s + k * BAR_S for n in notes) for k in range(bars)
    )


def test_first_hole_finds_where_the_music_stops():
    def notes(*spans):
        return [Note(60, 90, a, b) for a, b in spans]

    assert first_hole(notes((0, 1), (1, 2.5), (3, 4), (4.5, 6), (6, 7.8)), 0, 8, BAR_S, BEAT_S) is None
    assert first_hole(notes((0, 1), (3.5, 8)), 0, 8, BAR_S, BEAT_S) == 1.0, "a silent bar inside"
    assert first_hole(notes((0, 1), (1, 3), (3, 5)), 0, 8, BAR_S, BEAT_S) == 5.0, "silence at the end"
    assert first_hole(notes((0, 8)), 0, 8, BAR_S, BEAT_S) == 2.0, "one held note is a bar of music, not four"
    assert first_hole(notes((2.5, 3)), 0, 8, BAR_S, BEAT_S) == 0.0, "nothing in the first bar"
    assert first_hole([], 4, 8, BAR_S, BEAT_S) == 4.0
    assert first_hole(notes((4, 5), (5.5, 7.6)), 4, 8, BAR_S, BEAT_S) is None, "a rest under a beat at the end"


def test_a_filled_candidate_is_exactly_one_pass_of_the_sampler(tmp_path):
    """Where the first pass fills the bars, nothing is added or dropped: the same notes as the command line."""
    path = fixed_model(tmp_path / "dense.safetensors", note_on=-1.0, note_off=-1.0, shift=0.0)
    once = plain_stream(path, 8.0, seed=3)
    assert first_hole(once, 0, 8, BAR_S, BEAT_S) is None
    got: list[Note] = []

    class Sink:
        def begin(self, index):
            pass

        def add(self, index, notes, progress):
            got.extend(notes)

        def replace(self, index, notes, progress):
            raise AssertionError("nothing to drop")

    job = Job("generate", 0.0, 8.0, [3], SampleOptions(), bar_s=BAR_S, beat_s=BEAT_S)
    assert sample_filled(load_model(path), job, Sink(), 0, threading.Event()) is None
    assert got == once


@run_async
async def test_generate_fills_every_bar_it_was_asked_for(sparse_model):
    stub = plain_stream(sparse_model, 8.0, seed=1)
    assert first_hole(stub, 0, 8, BAR_S, BEAT_S) is not None, "the model leaves a stub in one pass"
    app = ComposerApp(Song(tempo_bpm=120.0, tracks=[Track(name="T")]), sound=False, model_path=sparse_model)
    async with app.run_test(size=SIZE) as pilot:
        ai = app.screen.ai
        ai.settings = AISettings(bars=4, seed=1)
        await pilot.press("G")
        await settle(app, pilot)
        candidate = list(ai.shown)
        assert first_hole(candidate, 0, 8, BAR_S, BEAT_S) is None
        assert every_bar_sounds(candidate, 0.0, 4)
        assert all(n.start_s >= 0 and n.end_s <= 8 + 1e-9 for n in candidate)
        assert app.screen.status.message.startswith("1 candidate · enter keeps")


@run_async
async def test_continue_and_variations_fill_their_bars_after_the_cursor(sparse_model):
    app = ComposerApp(melody(), sound=False, model_path=sparse_model)
    async with app.run_test(size=SIZE) as pilot:
        ai = app.screen.ai
        ai.settings = AISettings(bars=3, seed=5, variations=3)
        for _ in range(32):  # beat 8 (4 s), after the melody
            await pilot.press("right")
        await pilot.press("C")
        await settle(app, pilot)
        assert ai.request.primer and first_hole(ai.shown, 4, 10, BAR_S, BEAT_S) is None
        await pilot.press("escape", "W")
        await settle(app, pilot)
        assert len(ai.candidates) == 3
        for candidate in ai.candidates:
            assert first_hole(candidate, 4, 10, BAR_S, BEAT_S) is None and every_bar_sounds(candidate, 4.0, 3)
            assert all(n.start_s >= 4 - 1e-9 for n in candidate)


@run_async
async def test_a_model_stuck_at_one_instant_says_why_in_one_line(tmp_path):
    path = fixed_model(tmp_path / "stuck.safetensors", note_on=0.0, note_off=0.0, shift=-30.0)
    app = ComposerApp(Song(tempo_bpm=120.0, tracks=[Track(name="T")]), sound=False, model_path=path)
    async with app.run_test(size=SIZE) as pilot:
        ai = app.screen.ai
        ai.settings = AISettings(bars=4, seed=1)
        started = time.monotonic()
        await pilot.press("G")
        await settle(app, pilot)
        assert time.monotonic() - started < 20, "a stuck round is cut short, not run to the token guard"
        message = app.screen.status.message
        assert message == "Generate filled 0 of 4 bars: the model got stuck at one instant · r tries new seeds"
        assert app.screen.status.is_error and not ai.candidates


@run_async
async def test_a_model_that_plays_no_note_says_why(tmp_path):
    path = fixed_model(tmp_path / "silent.safetensors", note_on=-30.0, note_off=-30.0, shift=0.0)
    app = ComposerApp(Song(tempo_bpm=120.0, tracks=[Track(name="T")]), sound=False, model_path=path)
    async with app.run_test(size=SIZE) as pilot:
        app.screen.ai.settings = AISettings(bars=2, seed=1)
        await pilot.press("G")
        await settle(app, pilot)
        assert (
            app.screen.status.message
            == "Generate filled 0 of 2 bars: the model kept choosing silence · r tries new seeds"
        )


@run_async
async def test_a_candidate_that_falls_short_is_kept_with_a_line_saying_so(tmp_path):
    """Very sparse: each try adds a little; what there is stays on show and the line says how far it got."""
    path = fixed_model(tmp_path / "sparser.safetensors", note_on=-4.5, note_off=-4.5, shift=0.0)
    app = ComposerApp(Song(tempo_bpm=120.0, tracks=[Track(name="T")]), sound=False, model_path=path)
    async with app.run_test(size=SIZE) as pilot:
        ai = app.screen.ai
        ai.settings = AISettings(bars=16, seed=2)
        await pilot.press("G")
        await settle(app, pilot)
        message = app.screen.status.message
        assert ai.shown, "the notes it has stay"
        assert message.startswith("Generate filled ") and message.endswith(
            " of 16 bars: the model kept choosing silence · r tries new seeds"
        )
        filled = float(message.split("Generate filled ")[1].split(" of ")[0])
        hole = first_hole(ai.shown, 0, 32, BAR_S, BEAT_S)
        assert 0 < filled < 16 and hole is not None and abs(filled - hole / BAR_S) <= 0.25

"""Accompany (B) and infill (F) from the AI panel with a tiny random transformer: ghost notes stream in,
keeping is one undo step; an accompaniment is a new track with its own instrument, an infill stays in its
track and replaces only the bars it fills."""

from __future__ import annotations

import time

import pytest
from app_helpers import run_async, settle
from app_helpers import save_tiny_model as save_model
from test_app_ai import SIZE

from composer.history import same, snapshot
from composer.model.candidates import AISettings
from composer.model.model import MusicTransformer
from composer.model.sample import load_model
from composer.song import DRUM_CHANNEL, Note, Song, Track
from tui.app import ComposerApp
from tui.keymap import MAIN_KEYS
from tui.screens.help import help_text

BAR_S = 2.0  # 4/4 at 120 BPM


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COMPOSER_TRANSFORMER", raising=False)


@pytest.fixture
def tiny_model(tmp_path) -> str:
    return save_model(tmp_path / "tiny.safetensors")


def tune(bars: int, program: int = 0) -> Song:
    """A melody in quarter notes over `bars` bars (and a drum track, which accompany and infill leave alone)."""
    notes = [Note(60 + (i * 5) % 12, 90, i * 0.5, i * 0.5 + 0.4) for i in range(4 * bars)]
    kick = [Note(36, 100, i * 1.0, i * 1.0 + 0.1) for i in range(2 * bars)]
    drums = Track(name="Drums", is_drum=True, channel=DRUM_CHANNEL, notes=kick)
    return Song(tempo_bpm=120.0, tracks=[Track(name="Lead", program=program, notes=notes), drums])


def spy_arrivals(ai) -> list[tuple[int, bool]]:
    """(notes in the shown candidate, still sampling) at each batch the panel receives."""
    seen: list[tuple[int, bool]] = []
    arrived = ai._arrived

    def spy(cancel, index, notes, progress):
        arrived(cancel, index, notes, progress)
        if index < len(ai.candidates):
            seen.append((len(ai.candidates[index]), ai.generating))

    ai._arrived = spy
    return seen


def record_messages(screen) -> list[str]:
    """Every status line the screen shows from now on (sampling may finish before the test looks)."""
    lines: list[str] = []
    say = screen.status.say

    def spy(message: str, error: bool = False) -> None:
        lines.append(message)
        say(message, error)

    screen.status.say = spy
    return lines


def test_the_keys_are_in_the_help_and_the_palette():
    ids = {a.id: a for a in MAIN_KEYS}
    assert ids["ai_accompany"].keys == "B" and ids["ai_infill"].keys == "F"
    text = help_text({})
    assert "Accompany the track" in text and "Infill the selected bars" in text


@run_async
async def test_the_palette_finds_accompany_and_infill(tiny_model):
    from tui.palette import StudioCommands

    app = ComposerApp(tune(2), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE):
        names = [text for text, _ in StudioCommands(app.screen)._commands()]
        assert any(t.startswith("Accompany the track") and "(B)" in t for t in names)
        assert any(t.startswith("Infill the selected bars") and "(F)" in t for t in names)


@run_async
async def test_accompany_streams_bar_by_bar_and_keeps_a_new_track_in_one_undo_step(tiny_model):
    app = ComposerApp(tune(4), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        screen, before = app.screen, snapshot(app.song)
        ai = screen.ai
        ai.settings = AISettings(seed=4)
        seen, said = spy_arrivals(ai), record_messages(screen)
        await pilot.press("B")
        assert "AI: accompanying Lead, bars 1–4 · escape stops" in said
        await settle(app, pilot)
        streamed = [n for n, busy in seen if busy and n > 0]
        assert len(set(streamed)) >= 2, "notes must reach the roll in several steps while sampling"
        candidate = list(ai.shown)
        assert candidate and screen.roll.ghost_notes == candidate
        assert all(0.0 <= n.start_s < 4 * BAR_S and n.end_s <= 4 * BAR_S + 1e-9 for n in candidate)
        lead = app.song.tracks[0].notes
        assert all(min(m.pitch for m in lead) - 24 <= n.pitch <= max(m.pitch for m in lead) for n in candidate)
        assert same(app.song, before), "a candidate is not in the song until kept"

        await pilot.press("enter")
        tracks = app.song.tracks
        assert [t.name for t in tracks] == ["Lead", "Drums", "Accompaniment"]
        accompaniment = tracks[2]
        assert accompaniment.program == 48, "a piano tune gets strings"
        assert accompaniment.channel not in (tracks[0].channel, DRUM_CHANNEL)
        assert sorted((n.start_s, n.pitch) for n in accompaniment.notes) == sorted(
            (n.start_s, n.pitch) for n in candidate
        )
        assert app.song.tracks[0] == before.tracks[0], "the melody is untouched"
        assert screen.roll.track_index == 2, "the new track is shown"
        await pilot.press("ctrl+z")
        assert same(app.song, before), "one undo step removes the whole accompaniment"


@run_async
async def test_accompany_of_a_selection_plays_only_there_and_a_flute_gets_a_piano(tiny_model):
    app = ComposerApp(tune(4, program=73), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        ai = app.screen.ai
        ai.settings = AISettings(seed=2)
        for _ in range(16):  # the cursor to bar 2 (a grid step is a sixteenth)
            await pilot.press("right")
        for _ in range(8):  # select half of bar 2: accompany widens it to the whole bar
            await pilot.press("shift+right")
        said = record_messages(app.screen)
        await pilot.press("B")
        assert "AI: accompanying Lead, bar 2 · escape stops" in said
        await settle(app, pilot)
        assert ai.shown and all(BAR_S <= n.start_s < 2 * BAR_S for n in ai.shown)
        await pilot.press("enter")
        assert app.song.tracks[-1].program == 0


@run_async
async def test_accompany_says_why_not_for_drums_or_an_empty_stretch(tiny_model):
    app = ComposerApp(tune(2), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        screen, before = app.screen, snapshot(app.song)
        await pilot.press("tab", "B")
        assert screen.status.message == "Drums is drums, not a melody to accompany"
        await pilot.press("shift+tab")
        for _ in range(48):  # bar 4: after the tune
            await pilot.press("right")
        await pilot.press("B")
        await pilot.pause()
        assert screen.status.message == "Lead has no notes from the cursor on to accompany"
        assert not screen.ai.generating and same(app.song, before)


class SlowTransformer(MusicTransformer):
    """2 ms a forward pass: a 32-bar accompaniment takes seconds, so escape lands while it is sampled (the small
    model alone finished it within one key press, and escape then discarded the finished candidate)."""

    def forward(self, *args, **kwargs):
        time.sleep(0.002)
        return super().forward(*args, **kwargs)


@run_async
async def test_escape_stops_an_accompaniment_between_two_tokens(tmp_path):
    path = save_model(tmp_path / "small.safetensors", max_len=128, n_layer=2, n_head=2, d_model=32, d_ff=64)
    app = ComposerApp(tune(32), sound=False, model_path=path)
    async with app.run_test(size=SIZE) as pilot:
        ai = app.screen.ai
        ai.settings = AISettings(seed=1)
        slow = load_model(path)
        slow.__class__ = SlowTransformer
        ai._model = slow
        await pilot.press("B")
        deadline = time.monotonic() + 30
        while not (ai.candidates and ai.candidates[0]) and time.monotonic() < deadline:
            await pilot.pause(0.01)
        assert ai.generating, "the accompaniment is still being sampled when escape is pressed"
        await pilot.press("escape")
        stopped_at = time.monotonic()
        await settle(app, pilot)
        assert time.monotonic() - stopped_at < 2.0
        assert not ai.generating and ai.shown
        assert max(n.end_s for n in ai.shown) < 32 * BAR_S, "stopped before the end"
        assert "Stopped early" in app.screen.status.message


@run_async
async def test_infill_replaces_the_selected_bars_in_the_same_track(tiny_model):
    app = ComposerApp(tune(4, program=40), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        screen, before = app.screen, snapshot(app.song)
        ai = screen.ai
        ai.settings = AISettings(seed=7, variations=3)
        for _ in range(16):  # bar 2
            await pilot.press("right")
        for _ in range(20):  # into bar 3: bars 2-3
            await pilot.press("shift+right")
        said = record_messages(screen)
        await pilot.press("F")
        assert "AI: infilling bars 2–3 of Lead (8 notes there now) · escape stops" in said
        await settle(app, pilot)
        gap = (BAR_S, 3 * BAR_S)
        assert 1 <= len(ai.candidates) <= 3 and ai.scores == sorted(ai.scores, reverse=True), "the likeliest first"
        assert "(best)" in ai.line or len(ai.candidates) == 1
        fill = list(ai.shown)
        assert fill and all(gap[0] <= n.start_s < gap[1] and n.end_s <= gap[1] + 1e-9 for n in fill)
        assert screen.roll.ghost_notes == fill and screen.roll.replaced_s == gap, "the fill shows instead of the bars"
        assert same(app.song, before)

        await pilot.press("enter")
        assert len(app.song.tracks) == 2, "no new track"
        lead, old = app.song.tracks[0], before.tracks[0]
        assert lead.program == 40 and lead.name == "Lead"
        outside = [n for n in old.notes if not gap[0] <= n.start_s < gap[1]]
        assert [n for n in lead.notes if not gap[0] <= n.start_s < gap[1]] == outside, "the other bars stay"
        inside = sorted((n.start_s, n.pitch) for n in lead.notes if gap[0] <= n.start_s < gap[1])
        assert inside == sorted((n.start_s, n.pitch) for n in fill)
        assert app.song.tracks[1] == before.tracks[1], "the drums stay"
        assert screen.roll.replaced_s is None
        await pilot.press("ctrl+z")
        assert same(app.song, before), "one undo step"


@run_async
async def test_infill_without_a_selection_fills_the_cursor_bar_and_escape_discards(tiny_model):
    app = ComposerApp(tune(2), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        screen, before = app.screen, snapshot(app.song)
        ai = screen.ai
        ai.settings = AISettings(seed=3, variations=2)
        said = record_messages(screen)
        await pilot.press("F")
        assert "AI: infilling bar 1 of Lead (4 notes there now) · escape stops" in said
        await settle(app, pilot)
        assert ai.shown and all(n.start_s < BAR_S for n in ai.shown)
        await pilot.press("r")  # again, with new seeds
        await settle(app, pilot)
        assert ai.request.label == "infill" and set(ai.request.seeds) <= {5, 6}
        await pilot.press("escape")
        assert same(app.song, before) and screen.roll.ghost_notes == [] and screen.roll.replaced_s is None


def test_bar_chunks_give_each_span_a_melody_onset():
    from tui.widgets.ai_jobs import bar_chunks

    def notes(*starts):
        return [Note(60, 90, s, s + 0.4) for s in starts]

    assert bar_chunks(notes(0, 2.5, 4.1, 6), 0, 8, BAR_S) == [(0, 2), (2, 4), (4, 6), (6, 8)]
    assert bar_chunks(notes(0, 6), 0, 8, BAR_S) == [(0, 6), (6, 8)], "silent bars join the span before"
    assert bar_chunks(notes(5), 0, 8, BAR_S) == [(0, 8)], "and leading ones the first with an onset"
    assert bar_chunks(notes(1.0, 3.0), 1.0, 5.0, BAR_S) == [(1.0, 2.0), (2.0, 5.0)], "cut at the song's bar lines"
    assert bar_chunks(notes(9), 0, 8, BAR_S) == []


def test_accompaniment_instrument_and_range():
    from tui.widgets.ai_jobs import accompaniment_program, accompaniment_range

    assert accompaniment_program(Track(program=0)) == 48 and accompaniment_program(Track(program=19)) == 48
    assert accompaniment_program(Track(program=40)) == 0 and accompaniment_program(Track(program=73)) == 0
    assert accompaniment_range([Note(60, 90, 0, 1), Note(72, 90, 1, 2)]) == (36, 72)
    assert accompaniment_range([Note(30, 90, 0, 1)]) == (21, 30)


def test_an_accompaniment_guesses_its_style_once_and_streams_each_span(tiny_model, monkeypatch):
    import threading

    import composer.model.accompany as accompany_module
    from composer.model.sample import SampleOptions, load_model
    from tui.widgets.ai_jobs import Job, accompany_bars

    guesses: list[int] = []
    guess = accompany_module.guess_style
    monkeypatch.setattr(accompany_module, "guess_style", lambda *a: guesses.append(1) or guess(*a))
    added: list[tuple[int, float]] = []

    class Sink:
        def begin(self, index):
            pass

        def add(self, index, notes, progress):
            if notes:
                added.append((len(notes), progress))

        def replace(self, index, notes, progress):
            raise AssertionError

    song = tune(4)
    melody = song.tracks[0].notes
    job = Job("accompany", 0.0, 8.0, [9], SampleOptions(), context=song.all_notes(), melody=melody, bar_s=BAR_S)
    accompany_bars(load_model(tiny_model), job, Sink(), threading.Event())
    assert len(guesses) == 1
    assert [p for _, p in added] == sorted(p for _, p in added) and len(added) >= 3, "span by span"

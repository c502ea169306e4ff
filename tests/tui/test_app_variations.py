"""Variations side by side (issue 14): every candidate in its own mini roll under the piano roll, picked
with n/p, 1-8 or a click, heard with a, kept with enter (one undo step), discarded with escape."""

from __future__ import annotations

import time

import pytest
from app_helpers import melody, run_async, save_tiny_model, settle

from composer.history import same, snapshot
from composer.model.candidates import AISettings
from composer.song import Note
from tui.app import ComposerApp
from tui.widgets.variations_view import LANE_ROWS, Lanes, bar_columns, lane_cells, pitch_rows

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("COMPOSER_TRANSFORMER", raising=False)
    monkeypatch.delenv("COMPOSER_THEME", raising=False)


@pytest.fixture
def tiny_model(tmp_path) -> str:
    return save_tiny_model(tmp_path / "tiny.safetensors")


async def sample_variations(app, pilot, count: int = 3, seed: int = 11) -> None:
    app.screen.ai.settings = AISettings(bars=4, seed=seed, variations=count)
    await pilot.press("W")
    await settle(app, pilot)


def lane_text(view, index: int) -> list[str]:
    """The lane's rows as drawn on screen."""
    return [view.render_line(1 + index * LANE_ROWS + row).text for row in range(LANE_ROWS)]


def grid_cols(view) -> int:
    return view._grid_cols()


# ----- drawing, on known notes -----


def test_pitch_rows_give_a_narrow_range_a_row_per_semitone_and_scale_a_wide_one():
    assert pitch_rows(60, 63, 8) == {63: 2, 62: 3, 61: 4, 60: 5}  # centred
    wide = pitch_rows(36, 84, 8)
    assert wide[84] == 0 and wide[36] == 7 and all(wide[p] >= wide[p + 1] for p in range(36, 84))


def test_lane_cells_draw_each_note_at_its_time_and_pitch_in_braille():
    # two bars of 2 s on 4 cells (8 dots across): a high note in the first bar, a low one in the second
    notes = [Note(72, 90, 0.0, 2.0), Note(60, 90, 2.0, 2.5)]
    top, bottom = lane_cells(notes, 0.0, 4.0, cols=4, low=60, high=72, rows=2)
    assert top == "⠉⠁  "  # dots 1-3 (of 0..7) on the top dot row; the last dot left out to part the notes
    assert bottom == "  ⡀ "  # the low note on the bottom row, one cell long
    assert lane_cells(notes, 0.0, 4.0, cols=4, low=60, high=72, rows=2) == [top, bottom], "pure"
    assert lane_cells([Note(50, 90, 0, 1)], 0.0, 4.0, cols=4, low=60, high=72) == ["    ", "    "], "out of range"


def test_bar_columns_mark_bar_lines_with_song_bar_numbers():
    assert bar_columns(4.0, 12.0, cols=40, bar_s=2.0) == {0: 3, 10: 4, 20: 5, 30: 6}
    assert bar_columns(3.0, 7.0, cols=40, bar_s=2.0) == {10: 3, 30: 4}


def test_lanes_share_one_pitch_span_over_every_candidate():
    lanes = Lanes(candidates=[[Note(62, 90, 0, 1)], [Note(55, 90, 0, 1), Note(79, 90, 1, 2)]], expected=2)
    assert lanes.pitch_span() == (55, 79) and lanes.count == 2


# ----- the app -----


@run_async
async def test_every_candidate_is_drawn_at_once_with_its_facts(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        view = app.screen.query_one("#variations")
        assert not view.display, "no view before there are variations"
        await sample_variations(app, pilot)
        ai = app.screen.ai
        assert len(ai.candidates) == 3 and view.display
        assert view.size.height == 1 + 3 * LANE_ROWS, "a title row and one lane per candidate"
        request = ai.request
        low = min(n.pitch for c in ai.candidates for n in c)
        high = max(n.pitch for c in ai.candidates for n in c)
        for i, candidate in enumerate(ai.candidates):
            drawn = lane_text(view, i)
            expected = lane_cells(candidate, request.at_s, request.end_s, grid_cols(view), low, high)
            assert any(ch != " " for ch in "".join(expected)), "each lane has notes to draw"
            for row, cells in enumerate(expected):
                assert cells.replace(" ", "") in drawn[row].replace(" ", "").replace("┆", "")
            assert f"{len(candidate)} notes" in drawn[0] and f"seed {11 + i}" in drawn[1]
        assert "▶" in lane_text(view, 0)[0] and "▶" not in lane_text(view, 1)[0], "the picked one is marked"
        assert app.screen.roll.ghost_notes == ai.candidates[0], "the main roll shows the picked one"


@run_async
async def test_lanes_appear_and_grow_while_the_candidates_are_sampled(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        ai, view = screen.ai, screen.query_one("#variations")
        seen: list[tuple[int, int, list[int], list[int]]] = []  # lanes, candidates, notes drawn, notes arrived
        arrived = ai._arrived

        def spy(cancel, index, notes, progress):
            arrived(cancel, index, notes, progress)
            screen.show_variations()  # what the Streamed message does next, read here at once
            if ai.generating:
                drawn = view.lanes.candidates
                seen.append((view.lanes.count, len(drawn), [len(c) for c in drawn], [len(c) for c in ai.candidates]))

        ai._arrived = spy
        ai.settings = AISettings(bars=8, seed=3, variations=3)
        await pilot.press("W")
        await settle(app, pilot)
        assert seen and all(lanes == 3 for lanes, _, _, _ in seen), "every lane is there from the start"
        appeared = [n for _, n, _, _ in seen]
        assert appeared == sorted(appeared) and appeared[0] < 3 and appeared[-1] == 3, "candidates appear in turn"
        assert all(drawn == now for _, _, drawn, now in seen), "the lanes draw every note that has arrived"
        totals = [sum(drawn) for _, _, drawn, _ in seen]  # a refill may cut a candidate back to its hole first
        assert totals[-1] > totals[0] and len(set(totals)) > 2, "and grow"
        assert not ai.generating and view.lanes.sampling is None


@run_async
async def test_waiting_lanes_say_so_while_the_first_is_sampled(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        ai, view = screen.ai, screen.query_one("#variations")
        first: list[list[str]] = []
        arrived = ai._arrived

        def spy(cancel, index, notes, progress):
            arrived(cancel, index, notes, progress)
            screen.show_variations()
            if index == 0 and ai.generating and not first:
                first.append([view.render_line(y).text for y in range(1 + 3 * LANE_ROWS)])

        ai._arrived = spy
        ai.settings = AISettings(bars=4, seed=3, variations=3)
        await pilot.press("W")
        await settle(app, pilot)
        assert first, "a batch arrived while the first candidate was sampled"
        lines = first[0]
        assert "sampling…" in lines[2]
        assert "waiting" in lines[1 + LANE_ROWS] and "waiting" in lines[1 + 2 * LANE_ROWS]


@run_async
async def test_a_number_picks_a_candidate_and_enter_keeps_that_one_in_one_undo_step(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        screen, before = app.screen, snapshot(app.song)
        await sample_variations(app, pilot)
        ai, view = screen.ai, screen.query_one("#variations")
        candidates = [list(c) for c in ai.candidates]
        assert candidates[1] != candidates[2]
        await pilot.press("3")
        assert ai.current == 2 and screen.roll.ghost_notes == candidates[2]
        assert "▶" in lane_text(view, 2)[0] and "▶" not in lane_text(view, 0)[0]
        assert screen.status.message.startswith("Candidate 3 of 3")
        pan = app.song.tracks[0].pan
        await pilot.press("7")  # 7 would pan; with 3 candidates on show it picks, and there is no 7th
        assert app.song.tracks[0].pan == pan and ai.current == 2 and screen.status.is_error
        await pilot.press("p")
        assert ai.current == 1 and view.lanes.current == 1
        await pilot.press("3", "enter")
        track = app.song.tracks[0]
        assert len(track.notes) == len(before.tracks[0].notes) + len(candidates[2])
        assert all(any(n == m for m in track.notes) for n in candidates[2]), "the picked one is kept"
        assert not view.display and screen.roll.ghost_notes == []
        await pilot.press("7")
        assert app.song.tracks[0].pan != pan, "7 pans again once the candidates are gone"
        await pilot.press("ctrl+z", "ctrl+z")
        assert same(app.song, before), "keeping was one undo step"


@run_async
async def test_escape_discards_them_all_and_hides_the_view(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        before = snapshot(app.song)
        await sample_variations(app, pilot, count=2)
        view = app.screen.query_one("#variations")
        assert view.display
        await pilot.press("2", "escape")
        assert not view.display and not app.screen.ai.candidates and same(app.song, before)
        assert "Discarded 2 candidates" in app.screen.status.message


@run_async
async def test_a_click_on_a_lane_picks_it(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await sample_variations(app, pilot)
        await pilot.click("#variations", offset=(10, 1 + 1 * LANE_ROWS))
        await pilot.pause()
        assert app.screen.ai.current == 1 and app.screen.roll.ghost_notes == app.screen.ai.candidates[1]


@run_async
async def test_on_a_short_screen_eight_lanes_take_a_row_each(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=(100, 24)) as pilot:
        await sample_variations(app, pilot, count=8)
        ai, view = app.screen.ai, app.screen.query_one("#variations")
        assert len(ai.candidates) == 8 and view.rows == 1 and view.size.height == 1 + 8
        assert app.screen.roll.size.height >= 8, "the piano roll keeps room"
        for i, candidate in enumerate(ai.candidates):
            line = view.render_line(1 + i).text
            assert f"{i + 1}" in line[:5] and f"{len(candidate)} notes" in line and f"seed {11 + i}" in line
        await pilot.press("8")
        assert ai.current == 7 and "▶" in view.render_line(8).text


@run_async
async def test_one_candidate_needs_no_view(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await sample_variations(app, pilot, count=1)
        assert app.screen.ai.candidates and not app.screen.query_one("#variations").display
        pan = app.song.tracks[0].pan
        await pilot.press("8")
        assert app.song.tracks[0].pan != pan, "digits keep their own keys"


@run_async
async def test_the_picked_candidate_is_the_one_heard(tiny_model):
    from tui.playback import SilentClock

    class Spy(SilentClock):
        def __init__(self, song) -> None:
            super().__init__(song, "test clock")
            self.previews: list = []

        def set_preview(self, track_index, notes=()) -> None:
            self.previews.append(None if track_index is None else (track_index, list(notes)))

    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        await sample_variations(app, pilot)
        spy = Spy(app.song)
        app.playback = spy
        ai = app.screen.ai
        await pilot.press("2", "a")
        assert spy.previews[-1] == (0, ai.candidates[1]), app.screen.status.message
        await pilot.press("3")
        assert spy.previews[-1] is None, "picking another stops the audition"
        await pilot.press("a")
        assert spy.previews[-1] == (0, ai.candidates[2])
        view, cols = app.screen.query_one("#variations"), []
        deadline = time.monotonic() + 10
        while spy.playing and time.monotonic() < deadline:
            await pilot.pause(0.05)
            cols.append(view.playhead_col())
            if cols[-1] is not None:
                assert "▼" in view.render_line(0).text, "the lanes show where the audition is"
        assert len({c for c in cols if c is not None}) > 3, "the playhead moves along the lanes"
        assert app.song.tracks[0].notes == melody().tracks[0].notes, "listening keeps nothing"


@run_async
async def test_infill_fills_are_side_by_side_with_their_log_p(tiny_model):
    app = ComposerApp(melody(), sound=False, model_path=tiny_model)
    async with app.run_test(size=SIZE) as pilot:
        ai = app.screen.ai
        ai.settings = AISettings(bars=4, seed=4, variations=2)
        await pilot.press("F")
        await settle(app, pilot)
        view = app.screen.query_one("#variations")
        assert len(ai.candidates) == 2 and ai.scores == sorted(ai.scores, reverse=True)
        assert view.display and "log p" in lane_text(view, 0)[1] and "log p" in lane_text(view, 1)[1]


# ----- snapshot: fixed candidates handed to the panel the way its worker hands them over -----


def scale_run(start: int, step: int, at_s: float) -> list[Note]:
    return [Note(start + step * (i % 8), 90, at_s + i * 0.25, at_s + i * 0.25 + 0.2) for i in range(32)]


def fixed_candidates() -> list[list[Note]]:
    at_s = 4.0
    arpeggio = [Note(p, 90, at_s + i * 0.5, at_s + i * 0.5 + 0.45) for i, p in enumerate([60, 64, 67, 72] * 4)]
    chords = [Note(p, 80, at_s + b * 2.0, at_s + b * 2.0 + 1.9) for b in range(4) for p in (48, 55, 64)]
    return [scale_run(62, 2, at_s), arpeggio, chords]


async def inject(pilot) -> None:
    """A variations request at bar 3, and its three candidates streamed in through the panel's own calls."""
    screen = pilot.app.screen
    ai = screen.ai
    for _ in range(32):  # the cursor to beat 8 (4 s)
        await pilot.press("right")
    ai.settings = AISettings(bars=4, seed=21, variations=3)
    track = screen.roll.track
    request = screen._request("variations", track, 4.0, ai.settings.seconds(pilot.app.song), 3)
    request.draw_seeds()
    ai.request, ai.candidates, ai.generating = request, [], True
    for i, notes in enumerate(fixed_candidates()):
        ai._begin(ai._cancel, i)
        ai._arrived(ai._cancel, i, notes, (i + 1) / 3)
    ai._end(ai._cancel, "done", None, [])
    await pilot.pause()
    await pilot.press("2")
    await pilot.pause()


def test_snapshot_of_the_side_by_side_view(screen_matches, tiny_model):
    def studio() -> ComposerApp:
        return ComposerApp(melody(), sound=False, model_path=tiny_model)

    screen_matches(studio, run_before=inject, terminal_size=SIZE)

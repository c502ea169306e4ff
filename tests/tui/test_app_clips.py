"""Audio clips as objects in the app: tab selects one past the last track, then the editing keys move,
trim, delete, duplicate, repeat and re-prompt it, each one undo step with one status line; the lanes under
the roll draw each clip's waveform on the roll's time axis; an edit while playing is heard.

Clips are built from samples in memory; the re-prompt test makes audio with tiny random prompt models
(as test_app_prompt does); the while-playing test renders the real engine's blocks by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from app_helpers import run_async
from prompt_fixtures import save_tiny_prompt_models
from textual.widgets import Input

from composer.song import AudioClip, Note, Song, Track
from tui.app import ComposerApp
from tui.screens.prompt_dialog import PromptDialog
from tui.widgets.clip_strip import BLOCKS, ClipStrip
from tui.widgets.piano_roll import GUTTER
from tui.widgets.tracks_panel import TracksPanel

SIZE = (120, 40)
SR = 24000
BEAT_S = 0.5  # 120 BPM

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))


def rising(seconds: float = 2.0) -> np.ndarray:
    """A tone that swells from silence to 0.5: its waveform rises column by column."""
    t = np.arange(int(seconds * SR)) / SR
    return (0.5 * np.sin(2 * np.pi * 220 * t) * np.linspace(0, 1, t.size)).astype(np.float32)


def clip_song(**fields) -> Song:
    clip = AudioClip(name="swell", samples=rising(), sample_rate=SR, start_s=1.0, prompt="a swell", seed=3, **fields)
    return Song(tempo_bpm=120.0, tracks=[Track(name="Piano", notes=[Note(60, 80, 1.0, 1.5)])], clips=[clip])


def status(app) -> str:
    return app.screen.status.message


def track_list(app) -> str:
    return app.screen.query_one(TracksPanel).render().plain


async def select_clip(pilot) -> None:
    await pilot.press("tab")  # past the only track: the clip
    await pilot.pause()
    assert pilot.app.screen.clip_index == 0


@run_async
async def test_tab_selects_the_clip_past_the_last_track_and_escape_goes_back_to_notes():
    app = ComposerApp(clip_song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert screen.clip_index is None
        await select_clip(pilot)
        assert status(app).startswith("A1 selected: “a swell”, seed 3 · , . move")
        assert "▶A1" in track_list(app) and "▶ 1" not in track_list(app), "the clip is selected, not the track"
        assert screen.status.state.startswith("A1 swell · "), "the state line names what the keys act on"
        await pilot.press("tab")  # on round to the first track
        await pilot.pause()
        assert screen.clip_index is None and "▶ 1" in track_list(app)
        await pilot.press("shift+tab")  # back: the last clip
        await pilot.pause()
        assert screen.clip_index == 0
        await pilot.press("escape")
        await pilot.pause()
        assert screen.clip_index is None and "notes again" in status(app)


@run_async
async def test_comma_and_full_stop_move_the_clip_on_the_grid_not_the_notes():
    app = ComposerApp(clip_song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        screen.roll.grid_beats = 1.0
        screen.roll.set_cursor(2.0, 60)  # on the note: without a clip selected "," would move it
        await select_clip(pilot)
        await pilot.press("full_stop")
        await pilot.pause()
        assert app.song.clips[0].start_s == pytest.approx(1.0 + BEAT_S)
        assert app.song.tracks[0].notes[0].start_s == 1.0, "the note stays: the key acted on the clip"
        assert status(app).startswith("A1 starts at bar 1:4.1 (1.50 s)")
        await pilot.press("comma", "comma", "comma", "comma")
        await pilot.pause()
        assert app.song.clips[0].start_s == 0.0
        assert "already starts at the song's start" in status(app) and screen.status.is_error
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert app.song.clips[0].start_s == pytest.approx(BEAT_S), "each move was one undo step"
        await pilot.press("escape", "full_stop")  # back to notes: "." moves the note under the cursor
        await pilot.pause()
        assert app.song.tracks[0].notes[0].start_s == pytest.approx(1.5)
        assert app.song.clips[0].start_s == pytest.approx(BEAT_S)


@run_async
async def test_trims_of_the_end_and_the_start_are_undone_one_at_a_time():
    app = ComposerApp(clip_song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        app.screen.roll.grid_beats = 1.0
        samples = app.song.clips[0].samples
        await select_clip(pilot)
        await pilot.press("less_than_sign")
        await pilot.pause()
        clip = app.song.clips[0]
        assert clip.pass_s == pytest.approx(1.5) and clip.end_s == pytest.approx(2.5)
        assert "plays 1.50 s a pass (3 beats)" in status(app)
        await pilot.press("right_parenthesis")
        await pilot.pause()
        clip = app.song.clips[0]
        assert (clip.start_s, clip.offset_s, clip.pass_s) == pytest.approx((1.5, 0.5, 1.0))
        assert clip.samples is samples, "trims move a window over the samples; they are not cut"
        await pilot.press("greater_than_sign", "greater_than_sign", "greater_than_sign")
        await pilot.pause()
        assert app.song.clips[0].pass_s == pytest.approx(1.5), "lengthened to the audio's end, no further"
        assert "already ends at the end of its audio" in status(app)
        await pilot.press("left_parenthesis")
        await pilot.pause()
        assert app.song.clips[0].offset_s == 0.0 and app.song.clips[0].length_s is None
        for expected in ((1.5, 0.5, 1.5), (1.5, 0.5, 1.0), (1.0, 0.0, 1.5), (1.0, 0.0, 2.0)):
            await pilot.press("ctrl+z")
            await pilot.pause()
            clip = app.song.clips[0]
            assert (clip.start_s, clip.offset_s, clip.pass_s) == pytest.approx(expected)


@run_async
async def test_delete_and_duplicate_are_one_undo_step_each():
    app = ComposerApp(clip_song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        await select_clip(pilot)
        samples = app.song.clips[0].samples
        await pilot.press("y")
        await pilot.pause()
        first, copy = app.song.clips
        assert copy.start_s == pytest.approx(first.end_s) == pytest.approx(3.0) and copy.samples is samples
        assert screen.clip_index == 1 and status(app).startswith("A2: a copy of A1 at bar 2:3.1 (3.00 s)")
        await pilot.press("x")
        await pilot.pause()
        assert len(app.song.clips) == 1 and screen.clip_index == 0
        assert "Deleted audio track A2" in status(app)
        await pilot.press("x")
        await pilot.pause()
        assert app.song.clips == [] and screen.clip_index is None and "A1" not in track_list(app)
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert len(app.song.clips) == 1 and app.song.clips[0].samples is samples
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert len(app.song.clips) == 2
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert len(app.song.clips) == 1 and app.song.clips[0].start_s == 1.0


@run_async
async def test_plus_and_minus_repeat_a_loop_and_refuse_a_clip_that_is_not_one():
    app = ComposerApp(clip_song(loop=True), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await select_clip(pilot)
        await pilot.press("plus", "plus")
        await pilot.pause()
        assert app.song.clips[0].repeats == 3 and app.song.duration_s == pytest.approx(1.0 + 6.0)
        assert "plays 3 times: 6.0 s" in status(app)
        await pilot.press("minus")
        await pilot.pause()
        assert app.song.clips[0].repeats == 2
        await pilot.press("ctrl+z", "ctrl+z")
        await pilot.pause()
        assert app.song.clips[0].repeats == 2
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert app.song.clips[0].repeats == 1
        assert app.song.tracks[0].notes[0].pitch == 60, "plus acted on the clip, not as transpose"
    app = ComposerApp(clip_song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await select_clip(pilot)
        await pilot.press("plus")
        await pilot.pause()
        assert app.song.clips[0].repeats == 1 and "not a loop" in status(app) and app.screen.status.is_error


@run_async
async def test_the_lane_draws_the_waveform_on_the_rolls_time_axis_and_peaks_once_per_clip():
    app = ComposerApp(clip_song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        strip = screen.query_one("#clips", ClipStrip)
        roll = screen.roll
        assert strip.display and strip.size.height == 1 and strip.size.width == roll.size.width
        row = strip.render_line(0).text
        cols_per_beat = roll.cols_per_beat
        first = GUTTER + int(1.0 / BEAT_S * cols_per_beat)  # the clip starts at 1 s = beat 2
        last = GUTTER + int(3.0 / BEAT_S * cols_per_beat) - 1  # and ends at 3 s
        assert row[first - 1] == " " and row[last + 1] == " "
        wave = row[first : last + 1]
        assert set(wave) <= set(BLOCKS) and wave[-1] == "█" and BLOCKS.index(wave[2]) < BLOCKS.index(wave[-3])
        assert row.startswith(" A1")
        made = strip.envelopes_made
        assert made == 1
        await select_clip(pilot)
        assert strip.render_line(0).text.startswith("▶A1")
        await pilot.press("full_stop")  # the lane follows the clip; its peaks are not computed again
        await pilot.pause()
        step = int(roll.grid_beats * cols_per_beat)
        moved = strip.render_line(0).text
        assert moved[first + step : last + 1 + step] == wave
        await pilot.press("left_square_bracket")  # zoom out: the lane keeps to the roll's axis
        await pilot.pause()
        assert roll.cols_per_beat == cols_per_beat / 2
        zoomed = strip.render_line(0).text
        start = GUTTER + int(app.song.clips[0].start_s / BEAT_S * roll.cols_per_beat)
        assert zoomed[start - 1] == " " and zoomed[start] in BLOCKS
        await pilot.press("y")
        await pilot.pause()
        assert strip.size.height == 2 and strip.envelopes_made == made, "the copy shares the clip's peaks"


@run_async
async def test_with_no_clips_there_is_no_lane():
    app = ComposerApp(Song(tracks=[Track(name="Piano")]), sound=False)
    async with app.run_test(size=SIZE):
        assert not app.screen.query_one("#clips", ClipStrip).display


@run_async
async def test_an_edit_while_playing_is_heard_from_the_next_blocks():
    """The real engine renders (blocks by hand, as the sound card would pull them) while the clip moves."""
    from synth.engine.engine import Engine
    from tui.playback import EnginePlayback

    class StubOutput:
        device_name, ahead_latency_s, output_latency_s, underflows, underruns = "Test", 0.0, 0.0, 0, 0
        render_error, failed = None, False

        def close(self) -> None:
            pass

    song = clip_song()
    song.tracks[0].notes.clear()
    app = ComposerApp(song, sound=False)
    async with app.run_test(size=SIZE) as pilot:
        engine = Engine(app.song, sample_rate=SR, block_frames=240)
        app._sound_ready(EnginePlayback(engine, StubOutput()))
        app.screen.roll.grid_beats = 1.0
        await select_clip(pilot)
        engine.play()
        heard = [engine.render_block() for _ in range(25)]  # 0.25 s: silence, the clip starts at 1 s
        await pilot.press("comma")  # now at 0.5 s
        await pilot.pause()
        assert app.song.clips[0].start_s == pytest.approx(BEAT_S)
        heard += [engine.render_block() for _ in range(50)]
        audio = np.abs(np.concatenate(heard)[:, 0])
        onset = int(np.argmax(audio > 1e-4)) / SR
        assert onset == pytest.approx(BEAT_S, abs=0.01), "heard where it was moved to, while playing"


@pytest.fixture
def prompt_models(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("models")
    save_tiny_prompt_models(folder)
    monkeypatch.setenv("COMPOSER_MODELS", str(folder))


@run_async
async def test_r_re_prompts_the_clip_from_the_dialog_filled_in_and_replaces_it_in_place(prompt_models):
    song = clip_song(loop=True, repeats=2, gain=0.5)
    song.clips[0].steps = 2
    app = ComposerApp(song, sound=False)
    async with app.run_test(size=SIZE) as pilot:
        app.screen.roll.grid_beats = 1.0
        await select_clip(pilot)
        await pilot.press("less_than_sign")  # a trimmed clip: its length is the trimmed pass
        await pilot.pause()
        old = app.song.clips[0]
        await pilot.press("R")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, PromptDialog) and "A1 again" in str(dialog.query_one("#pd-title").render())
        fields = {name: dialog.query_one(f"#pd-{name}", Input).value for name in ("prompt", "seconds", "seed", "steps")}
        assert fields == {"prompt": "a swell", "seconds": "1.5", "seed": "3", "steps": "2"}
        dialog.query_one("#pd-prompt", Input).value = "a slow swell"
        dialog.query_one("#pd-seed", Input).value = "9"
        dialog.query_one("#pd-prompt", Input).focus()
        await pilot.press("enter")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert len(app.song.clips) == 1
        new = app.song.clips[0]
        assert (new.prompt, new.seed, new.start_s, new.repeats, new.gain) == ("a slow swell", 9, 1.0, 2, 0.5)
        assert new.samples.shape == (int(1.5 * SR),) and new.offset_s == 0.0 and new.length_s is None
        assert "“a slow swell”" in track_list(app) and app.screen.clip_index == 0
        await pilot.press("ctrl+z")
        await pilot.pause()
        back = app.song.clips[0]
        assert back.prompt == "a swell" and back.samples is old.samples and back.pass_s == pytest.approx(1.5)


@run_async
async def test_e_makes_a_trimmed_clip_again_at_its_trimmed_length_untrimmed(prompt_models):
    song = clip_song()
    song.clips[0].steps = 1
    app = ComposerApp(song, sound=False)
    async with app.run_test(size=SIZE) as pilot:
        app.screen.roll.grid_beats = 1.0
        await select_clip(pilot)
        await pilot.press("right_parenthesis", "less_than_sign")  # 1.5 s to 2.5 s of the song, 0.5 s in
        await pilot.pause()
        await pilot.press("E")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        clip = app.song.clips[0]
        assert clip.seed == 4 and clip.samples.shape == (SR,) and (clip.offset_s, clip.length_s) == (0.0, None)
        assert (clip.start_s, clip.end_s) == pytest.approx((1.5, 2.5)), "where the trimmed clip was heard"


@run_async
async def test_r_on_an_audio_file_clip_says_it_has_no_prompt():
    song = clip_song()
    song.clips[0].prompt = None
    app = ComposerApp(song, sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await select_clip(pilot)
        await pilot.press("R")
        await pilot.pause()
        assert not isinstance(app.screen, PromptDialog)
        assert "not made from a prompt" in status(app) and app.screen.status.is_error


def test_peaks_are_per_bucket_over_every_channel_and_follow_a_trimmed_loop():
    from tui.widgets.clip_strip import BUCKET, column_peaks, envelope, wave_text

    stereo = np.zeros((4 * BUCKET, 2), np.float32)
    stereo[BUCKET + 3, 1] = -0.8  # the loudest sample: right channel, second bucket
    stereo[3 * BUCKET, 0] = 0.4
    assert envelope(stereo) == pytest.approx([0.0, 0.8, 0.0, 0.4])
    # a second of silence then a second at full scale, trimmed to 0.5 s of each, looped twice; at 8 buckets
    # a second, a column (1/8 s) is one bucket
    rate = 8 * BUCKET
    samples = np.concatenate([np.zeros(rate), np.ones(rate)]).astype(np.float32)
    clip = AudioClip(samples=samples, sample_rate=rate, loop=True, repeats=2, offset_s=0.5, length_s=1.0)
    peaks = column_peaks(Song(tempo_bpm=120.0), clip, envelope(samples), 0.0, 4.0, 20)  # a column: 1/8 s
    assert peaks[:4] == [0.0] * 4 and peaks[4:8] == [1.0] * 4, "0.5 s of silence, then 0.5 s of sound"
    assert peaks[8:16] == peaks[:8] and peaks[16:] == [None] * 4, "the second repeat, then nothing"
    assert wave_text([None, 0.0, 0.5, 1.0]) == " ▁▅█", "silence ▁, the loudest █, in between rounded up"


@run_async
async def test_a_clip_moved_while_it_is_made_again_gets_the_new_audio_where_it_is_now(prompt_models):
    song = clip_song()
    song.clips[0].steps = 1
    app = ComposerApp(song, sound=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        screen.roll.grid_beats = 1.0
        await select_clip(pilot)
        old = app.song.clips[0]
        # Called, not keyed: the pilot's key presses wait for the app to be idle, which it is not until the
        # clip is made; the move lands before the worker's result can (both run on this event loop).
        screen.action_regenerate_clip()
        screen.action_clip_move(1)
        assert app.song.clips[0].start_s == pytest.approx(1.5) and screen.prompt_busy
        await app.workers.wait_for_complete()
        await pilot.pause()
        new = app.song.clips[0]
        assert new.seed == 4 and new.samples is not old.samples and new.start_s == pytest.approx(1.5)
        await pilot.press("ctrl+z")
        await pilot.pause()
        assert app.song.clips[0].samples is old.samples and app.song.clips[0].start_s == pytest.approx(1.5)

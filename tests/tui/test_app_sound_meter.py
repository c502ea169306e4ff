"""The status bar shows the sound at a glance: a master level meter, the render load and the output latency
while the engine plays; with sound off only why there is none (the snapshots run that way)."""

from __future__ import annotations

import io

import pytest
from app_helpers import run_async
from rich.console import Console

from composer.song import Note, Song, Track
from tui.app import ComposerApp
from tui.playback import EnginePlayback
from tui.screens.main_actions.transport import METER_FPS, METER_HOLD, master_peak
from tui.widgets.status_bar import METER, level_meter

SIZE = (120, 40)


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))


class StubOutput:
    """What EnginePlayback reads of synth.engine.audio_out.AudioOutput, without a sound card."""

    device_name = "Test Device"
    ahead_latency_s = 0.0107
    output_latency_s = 0.005
    underflows = 0
    underruns = 0
    render_error: Exception | None = None
    failed = False  # every block failing for a while: the render thread gave up

    def close(self) -> None:
        pass


def loud_song() -> Song:
    return Song(tempo_bpm=120.0, tracks=[Track(name="Lead", notes=[Note(60, 120, 0.0, 4.0), Note(64, 120, 0.0, 4.0)])])


def status_text(screen) -> str:
    console = Console(width=SIZE[0], file=io.StringIO(), record=True, color_system=None)
    console.print(screen.status.render())
    return console.export_text().rstrip("\n")


def test_the_meter_rises_6_db_a_block():
    assert level_meter(0.0).plain == " " * 8
    assert level_meter(10 ** (-50 / 20)).plain == " " * 8, "under -48 dBFS: nothing lit"
    assert level_meter(10 ** (-47 / 20)).plain == "▁       "
    assert level_meter(0.1).plain == "▁▂▃▄▅   ", "-20 dBFS"
    assert level_meter(1.0).plain == METER
    colours = [str(span.style) for span in level_meter(1.0).spans]
    assert colours[0] == "green" and colours[-1] == "red"
    assert {str(span.style) for span in level_meter(0.1, limiting=True).spans} == {"red"}


def test_the_master_peak_adds_tracks_as_uncorrelated_signals_less_the_limiter():
    assert master_peak([]) == 0.0
    assert master_peak([0.5]) == pytest.approx(0.5)
    assert master_peak([0.3, 0.4]) == pytest.approx(0.5)
    assert master_peak([0.8], gain_reduction_db=6.0206) == pytest.approx(0.4, rel=1e-4)


@run_async
async def test_with_sound_off_the_bar_says_so_and_runs_no_meter():
    app = ComposerApp(loud_song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(2 / METER_FPS)
        screen = app.screen
        assert screen.status.level is None and screen._meter_timer is None
        assert status_text(screen).endswith("│ no sound: sound off for this run")
        assert not any(char in status_text(screen) for char in METER)


@run_async
async def test_while_the_engine_plays_the_bar_shows_level_load_and_latency():
    from synth.engine.engine import Engine

    app = ComposerApp(loud_song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        engine = Engine(app.song, sample_rate=48000, block_frames=256)
        app._sound_ready(EnginePlayback(engine, StubOutput()))  # as when the device opens
        assert screen._meter_timer is not None
        text = status_text(screen)
        assert "│          load " in text, "a silent engine: the meter's eight cells are blank"
        assert " ms · Test Device" in text and "16 ms" in text, "latency: rendered ahead + the device's"

        engine.play()
        for _ in range(20):
            engine.render_block()
        peak = master_peak(engine.track_peaks)
        assert peak > 0.01
        await pilot.pause(2.5 / METER_FPS)  # the meter's timer reads the engine
        text = status_text(screen)
        lit = level_meter(peak).plain.rstrip()
        assert f"│ {lit}" in text and len(lit) >= 3, text
        assert f"load {engine.render_load:.0%} · 16 ms · Test Device" in text

        engine.stop()
        for _ in range(4):
            engine.render_block()
        assert master_peak(engine.track_peaks) == 0.0
        await pilot.pause((METER_HOLD + 2) / METER_FPS)
        assert screen.status.level == 0.0, "the peak is held for METER_HOLD readings, then falls"
        assert "│          load " in status_text(screen)


@run_async
async def test_dropouts_show_and_a_failed_render_thread_replaces_the_figures():
    from synth.engine.engine import Engine

    app = ComposerApp(loud_song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        output = StubOutput()
        output.underruns = 3
        app._sound_ready(EnginePlayback(Engine(app.song), output))
        assert "load 0% · 16 ms · 3 dropouts · Tes…" in status_text(app.screen), "the device name is cut first"
        output.render_error = RuntimeError("boom")
        await pilot.pause(2 / METER_FPS)
        assert "load 0% · 16 ms" in status_text(app.screen), "one failed block is silence; the sound goes on"
        output.failed = True
        await pilot.pause(2 / METER_FPS)
        assert status_text(app.screen).endswith("│ no sound: render failed (boom)")
        assert app.screen.status.level is None


@run_async
async def test_a_message_just_said_gets_its_room_then_the_state_comes_back(monkeypatch):
    import tui.widgets.status_bar as status_bar

    monkeypatch.setattr(status_bar, "MESSAGE_FRESH_S", 0.2)
    app = ComposerApp(loud_song(), sound=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        line = "Generate filled 2.5 of 4 bars: the model kept choosing silence · r tries new seeds"
        screen.say(line)
        await pilot.pause()
        text = status_text(screen)
        assert text.startswith(line) and text.endswith("│ no sound: sound off for this run")
        assert "Lead · C4" not in text, "the state gives way"
        await pilot.pause(0.4)
        text = status_text(screen)
        assert "Lead · C4 1:1.1 · grid 1/16" in text and text.startswith(line[:20]), "the state is back"
        screen.say("Playing")
        await pilot.pause()
        assert status_text(screen).startswith("Playing") and "Lead · C4 1:1.1 · grid 1/16" in status_text(screen)


def panel_lines(screen) -> list[str]:
    from tui.widgets.tracks_panel import TracksPanel

    console = Console(width=40, file=io.StringIO(), record=True, color_system=None)
    console.print(screen.query_one("#tracks", TracksPanel).render())
    return console.export_text().splitlines()


@run_async
async def test_each_track_shows_its_own_meter_while_the_engine_plays():
    from synth.engine.engine import Engine

    song = loud_song()
    song.tracks.append(Track(name="Quiet", program=0, mute=True, notes=[Note(67, 120, 0.0, 4.0)]))
    app = ComposerApp(song, sound=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert not any(char in line for line in panel_lines(screen) for char in METER), "sound off: no meters"
        engine = Engine(app.song, sample_rate=48000, block_frames=256)
        app._sound_ready(EnginePlayback(engine, StubOutput()))
        engine.play()
        for _ in range(20):
            engine.render_block()
        lead, quiet = engine.track_peaks
        assert lead > 0.01 and quiet == 0.0
        await pilot.pause(2.5 / METER_FPS)
        lines = panel_lines(screen)
        lead_line = next(line for line in lines if "Lead" in line)
        quiet_line = next(line for line in lines if "Quiet" in line)
        assert level_meter(lead).plain.rstrip() in lead_line and len(level_meter(lead).plain.rstrip()) >= 3
        assert not any(char in quiet_line for char in METER), "a muted track's meter stays dark"

"""Devices in the app: ctrl+d lists the audio outputs and MIDI ports and applies a pick at once (remembered
in devices.json, not undone); O sends a track to a MIDI output channel (one undo step), and playing sends
its notes (and MIDI clock, c in the devices screen) there. The ports are real: the session's JACK dummy
server, a virtual keyboard and a second rtmidi client reading what the app sends."""

from __future__ import annotations

import json
import threading
import time

import numpy as np
import pytest
import rtmidi
from app_helpers import run_async
from rich.text import Text

from composer.errors import ComposerError
from composer.song import Note, Song, Track
from tui.app import ComposerApp
from tui.device_settings import DeviceSettings, load_device_settings, save_device_settings, settings_path
from tui.screens.devices import DevicesScreen
from tui.screens.main_actions.devices import next_midi_out

SIZE = (120, 40)
WAIT_S = 20.0  # a worker on a loaded 2-core machine
TIMING_TOLERANCE_S = 0.015  # JACK delivers MIDI once a period (5.3 ms); the machine is loaded


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("COMPOSER_HOME", str(tmp_path / "home"))


async def wait_until(pilot, condition, what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"{what} not within {timeout_s:g} s: {pilot.app.screen}"
        await pilot.pause(0.05)


class Keyboard:
    """A virtual JACK MIDI keyboard: an output port the app can open as its MIDI input."""

    def __init__(self, client: str) -> None:
        self.port = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=client)
        self.port.open_virtual_port("keys")
        self.name = f"{client}:keys"

    def close(self) -> None:
        self.port.delete()


class Reader:
    """A second JACK MIDI client: a virtual input keeping (perf_counter, bytes) of what arrives (clock too), and
    with `stamp` set, stamp() at each arrival (the song position heard then)."""

    def __init__(self, client: str) -> None:
        self.port = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name=client)
        self.port.ignore_types(sysex=True, timing=False, active_sense=True)
        self.port.open_virtual_port("in")
        self.name = f"{client}:in"
        self.got: list[tuple[float, list[int]]] = []
        self.stamp = None
        self.stamps: list[float] = []
        self._lock = threading.Lock()
        self.port.set_callback(self._arrived)

    def _arrived(self, event, _data=None) -> None:
        with self._lock:
            self.got.append((time.perf_counter(), list(event[0])))
            if self.stamp is not None:
                self.stamps.append(self.stamp())

    def messages(self) -> list[tuple[float, list[int]]]:
        with self._lock:
            return list(self.got)

    def close(self) -> None:
        if self.port is not None:
            port, self.port = self.port, None
            port.cancel_callback()
            port.delete()


async def open_devices(pilot) -> DevicesScreen:
    await pilot.press("ctrl+d")
    screen = pilot.app.screen
    assert isinstance(screen, DevicesScreen)
    await wait_until(pilot, lambda: screen.listing is not None, "the device list")
    return screen


async def pick(pilot, screen: DevicesScreen, kind: str, value) -> None:
    """Arrow down (or up) to the choice, press enter, wait until it is applied."""
    from textual.widgets import OptionList

    options = screen.query_one("#devices-list", OptionList)
    target = screen.choices.index((kind, value))
    for _ in range(len(screen.choices)):
        if options.highlighted == target:
            break
        await pilot.press("down" if options.highlighted < target else "up")
    assert options.highlighted == target, f"{kind} {value!r} not reached with the arrow keys"
    await pilot.press("enter")
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_midi_out_cycles_off_then_channels_1_to_16():
    channels = [None]
    for _ in range(17):
        channels.append(next_midi_out(channels[-1]))
    assert channels == [None, *range(1, 17), None]


def test_device_settings_round_trip_and_a_bad_file_is_one_line(tmp_path):
    path = tmp_path / "devices.json"
    assert load_device_settings(path) == DeviceSettings()
    save_device_settings(DeviceSettings(audio_output="system", midi_input="", midi_clock=True), path)
    assert load_device_settings(path) == DeviceSettings("system", "", None, True)
    path.write_text('{"midi_clock": "yes"}')
    with pytest.raises(ComposerError, match="midi_clock must be true or false"):
        load_device_settings(path)
    path.write_text("{")
    with pytest.raises(ComposerError, match="cannot read the device settings"):
        load_device_settings(path)


@run_async
async def test_O_sends_the_track_to_a_midi_channel_as_one_undo_step_and_the_list_shows_it():
    app = ComposerApp(Song(tracks=[Track(name="Bass", program=33)]), sound=False, midi=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("O")
        track = app.song.tracks[0]
        assert track.midi_out == 1
        assert "MIDI out channel 1, once a MIDI output is chosen (ctrl+d)" in app.screen.status.message
        assert "→ch1" in str(app.screen.query_one("#tracks").render())
        await pilot.press("O", "O")
        assert app.song.tracks[0].midi_out == 3
        await pilot.press("u")
        assert app.song.tracks[0].midi_out == 2, "each press is one undo step"


@pytest.mark.jack
@run_async
async def test_picking_a_midi_input_reopens_it_and_the_choice_is_remembered(jack_server):
    first, second = Keyboard("devkbd-a"), Keyboard("devkbd-b")
    try:
        app = ComposerApp(Song(tracks=[Track(name="Keys")]), sound=False, midi=True)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.midi_port is not None, "a MIDI input opened at the start")
            screen = await open_devices(pilot)
            assert first.name in screen.listing.midi_inputs and second.name in screen.listing.midi_inputs
            assert not any(p.startswith("composer ") for p in screen.listing.midi_inputs), "the app's own ports"
            await pick(pilot, screen, "midi_input", second.name)
            assert app.midi_port is not None and app.midi_port.name == second.name
            assert app.midi_port.is_open
            await wait_until(pilot, lambda: "● " + second.name in option_texts(screen), "the input marked in use")
            messages = app.live.messages
            time.sleep(0.2)  # JACK connects the port
            second.port.send_message([0x90, 64, 100])
            await wait_until(pilot, lambda: app.live.messages > messages, "a note from the picked keyboard")
            heard = app.live.messages
            first.port.send_message([0x90, 65, 100])
            await pilot.pause(0.3)
            assert app.live.messages == heard, "the old input is closed"
            assert json.loads(settings_path().read_text())["midi_input"] == second.name
            assert len(app.history) == 0, "a device choice is not an edit"
            await pilot.press("escape")
            app.finish_session()
        again = ComposerApp(Song(tracks=[Track(name="Keys")]), sound=False, midi=True)
        async with again.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: again.midi_port is not None, "the remembered input at the start")
            assert again.midi_port.name == second.name
            again.finish_session()
    finally:
        first.close()
        second.close()


def option_texts(screen: DevicesScreen) -> str:
    from textual.widgets import OptionList

    options = screen.query_one("#devices-list", OptionList)
    texts = []
    for i in range(options.option_count):
        prompt = options.get_option_at_index(i).prompt
        texts.append(prompt.plain if hasattr(prompt, "plain") else Text.from_markup(str(prompt)).plain)
    return "\n".join(texts)


@pytest.mark.jack
@run_async
async def test_a_midi_out_track_and_the_clock_reach_the_picked_output_through_the_apps_engine(jack_server):
    from tui.playback import EnginePlayback

    notes = [Note(60 + i, 100, i * 0.25, i * 0.25 + 0.1) for i in range(6)]
    song = Song(tempo_bpm=120.0, tracks=[Track(name="Lead", program=5, notes=notes)])
    reader = Reader("devreader")
    try:
        app = ComposerApp(song, sound=True, midi=False)
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: isinstance(app.playback, EnginePlayback), "the engine")
            engine = app.playback.engine
            reader.stamp = lambda: engine.heard_position_s
            screen = await open_devices(pilot)
            assert reader.name in screen.listing.midi_outputs
            await pick(pilot, screen, "midi_output", reader.name)
            assert app.devices.midi_output_in_use == reader.name
            await pilot.press("c")  # clock out on
            await pilot.pause()
            await app.workers.wait_for_complete()
            assert app.devices.sender.clock and app.devices.settings.midi_clock
            await pilot.press("escape")
            await pilot.press("O")  # the track to channel 1
            assert app.song.tracks[0].midi_out == 1
            await pilot.pause(0.3)  # JACK connects; the sender sees the new MIDI-out track
            started = time.perf_counter()
            await pilot.press("space")
            await wait_until(
                pilot, lambda: sum(1 for _, m in reader.messages() if m[0] == 0x90 and m[2]) >= 6, "6 notes"
            )
            await pilot.pause(0.3)
            await pilot.press("space")
            await wait_until(pilot, lambda: [0xFC] in [m for _, m in reader.messages()], "clock stop")
            got, heard = reader.messages(), list(reader.stamps)
            stored = json.loads(settings_path().read_text())
            app.finish_session()
    finally:
        reader.close()
    assert stored["midi_output"] == reader.name and stored["midi_clock"] is True
    kinds = [m for _, m in got]
    assert [0xC0, 5] in kinds and kinds.index([0xC0, 5]) < kinds.index([0xFA]), "the program, then clock start"
    ons = [i for i, (_, m) in enumerate(got) if m[0] == 0x90 and m[2]]
    assert [got[i][1][1] for i in ons] == [60, 61, 62, 63, 64, 65], "each note once, in order"
    assert got[ons[0]][0] - started < 0.5, "the first note soon after space"
    # Sent when heard: the song position heard as each note arrives is the note's start (plus JACK's period).
    # (Against the wall clock an underrun of the render thread on this loaded machine holds the sound back,
    # and MIDI with it, by 20-30 ms.)
    late = np.array([heard[i] for i in ons]) - np.array([n.start_s for n in notes])
    assert np.abs(late - np.median(late)).max() < TIMING_TOLERANCE_S, late.round(4)
    assert -0.005 < np.median(late) < 0.02, late.round(4)
    ticks = [t for t, m in got if m == [0xF8]]
    assert len(ticks) >= 24 * 3, "about two beats a second of 24 ticks, for more than 1.5 s"
    rate = 1.0 / float(np.polyfit(np.arange(len(ticks)), np.array(ticks), 1)[0])
    assert rate == pytest.approx(48.0, rel=0.05), rate
    assert [0xB0, 123, 0] in kinds, "all notes off on stop"


@pytest.mark.jack
@run_async
async def test_picking_the_audio_output_restarts_the_engines_output_on_it(jack_server):
    from tui.playback import EnginePlayback

    app = ComposerApp(Song(tracks=[Track(name="T")]), sound=True, midi=False)
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(pilot, lambda: isinstance(app.playback, EnginePlayback), "the engine")
        output, engine = app.playback.output, app.playback.engine
        assert output.device is None, "the default device at first"
        screen = await open_devices(pilot)
        device = next(d for d in screen.listing.audio if d.host_api.startswith("JACK"))
        await pick(pilot, screen, "audio_output", device.name)
        assert app.playback.output is output and app.playback.engine is engine, "the same engine, restarted"
        assert output.active and output.device == app.devices.audio_index(device.name)
        assert app.devices.audio_in_use == device.name
        blocks = output.render_blocks
        await pilot.pause(0.3)
        assert output.render_blocks > blocks, "rendering again on the new stream"
        assert json.loads(settings_path().read_text())["audio_output"] == device.name
        app.finish_session()


@pytest.mark.jack
@run_async
async def test_a_port_appearing_is_said_in_one_line(jack_server):
    app = ComposerApp(Song(tracks=[Track(name="T")]), sound=False, midi=True)
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        app.devices.watch_soon()  # the first look only learns what is there (the timer's looks follow)
        await app.workers.wait_for_complete()
        keyboard = Keyboard("devkbd-new")
        try:
            await wait_until(
                pilot, lambda: "MIDI ports: + in devkbd-new:keys" in app.screen.status.message, "the new port", 10.0
            )
        finally:
            keyboard.close()
        await wait_until(
            pilot, lambda: "MIDI ports: - in devkbd-new:keys" in app.screen.status.message, "the port gone", 10.0
        )
        app.finish_session()


@pytest.mark.jack
@run_async
async def test_the_remembered_output_opens_at_the_start_plays_without_sound_and_comes_back_after_unplugging(
    jack_server,
):
    save_device_settings(DeviceSettings(midi_input="", midi_output="devsynth:in"))
    song = Song(tracks=[Track(name="Out", midi_out=2, notes=[Note(67, 90, 0.2, 0.5)])])
    reader = Reader("devsynth")
    try:
        app = ComposerApp(song, sound=False, midi=True)  # the silent clock drives MIDI out
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(pilot, lambda: app.devices.midi_output_in_use == "devsynth:in", "the remembered output")
            assert app.midi_port is None, "no MIDI input: the remembered choice was none"
            await pilot.pause(0.2)
            await pilot.press("space")
            await wait_until(pilot, lambda: [0x91, 67, 90] in [m for _, m in reader.messages()], "the note")
            await pilot.press("space")
            reader.close()
            await wait_until(pilot, lambda: "is gone" in app.screen.status.message, "the output gone", 10.0)
            assert app.devices.midi_output_in_use is None
            reader = Reader("devsynth")
            await wait_until(pilot, lambda: app.devices.midi_output_in_use == "devsynth:in", "the output back", 10.0)
            assert app.screen.status.message == "MIDI output: devsynth:in"
            app.finish_session()
    finally:
        reader.close()

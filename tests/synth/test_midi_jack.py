"""MIDI ports through the session's JACK dummy server (ALSA has no sequencer here)."""

import time

import mido
import pytest
import rtmidi

from composer.errors import ComposerError
from synth.engine.midi_ports import MidiInput, MidiOutput, list_ports, midi_api, resolve_port

pytestmark = pytest.mark.jack


def virtual_keyboard(client: str) -> rtmidi.MidiOut:
    kbd = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=client)
    kbd.open_virtual_port("keys")
    return kbd


def wait_for(predicate, timeout_s: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


def test_falls_back_to_jack_and_lists_ports(jack_server):
    kbd = virtual_keyboard("kbd-list")
    try:
        ports = list_ports()
        assert ports.api == "JACK"  # ALSA's sequencer does not exist on this machine
        assert "kbd-list:keys" in ports.inputs
    finally:
        kbd.delete()


def test_note_on_arrives_with_its_arrival_time(jack_server):
    kbd = virtual_keyboard("kbd-arrive")
    got = []
    try:
        with MidiInput("kbd-arrive", lambda msg, t: got.append((msg, t))) as port:
            assert port.api.label == "JACK"
            time.sleep(0.1)
            sent = time.perf_counter()
            kbd.send_message([0x90, 60, 100])
            assert wait_for(lambda: got)
            msg, arrived = got[0]
            assert (msg.type, msg.note, msg.velocity) == ("note_on", 60, 100)
            assert 0 <= arrived - sent < 0.1
    finally:
        kbd.delete()


def test_unplugged_port_is_reported_once_and_reopened_by_rescan(jack_server):
    lines: list[str] = []
    got = []
    kbd = virtual_keyboard("kbd-plug")
    port = MidiInput("kbd-plug:keys", lambda msg, t: got.append(msg.note), report=lines.append)
    try:
        assert port.check()
        kbd.delete()
        assert wait_for(lambda: not port.check())
        assert not port.check() and not port.is_open
        assert len(lines) == 1 and "gone" in lines[0]
        assert not port.rescan()  # still gone
        kbd = virtual_keyboard("kbd-plug")
        assert wait_for(port.rescan)
        assert "back" in lines[-1]
        time.sleep(0.1)
        kbd.send_message([0x90, 62, 90])
        assert wait_for(lambda: 62 in got)
    finally:
        port.close()
        kbd.delete()


def test_output_port_reaches_a_virtual_input(jack_server):
    sink = rtmidi.MidiIn(rtmidi.API_UNIX_JACK, name="sink")
    sink.open_virtual_port("in")
    try:
        with MidiOutput("sink:in") as out:
            time.sleep(0.1)
            out.send(mido.Message("note_on", note=67, velocity=80))
            received = []
            assert wait_for(lambda: received.append(sink.get_message()) or received[-1] is not None)
            assert received[-1][0] == [0x90, 67, 80]
    finally:
        sink.delete()


def test_unknown_port_names_the_choices():
    with pytest.raises(ComposerError, match="no such MIDI input port .*0: a:x"):
        resolve_port(["a:x", "b:y"], "zzz")
    assert resolve_port(["a:x", "b:y"], "1") == "b:y"
    assert resolve_port(["a:x", "b:y"], "b") == "b:y"
    with pytest.raises(ComposerError, match="no MIDI input port"):
        resolve_port([], None)


def test_without_any_server_no_api_works(jack_server, monkeypatch):
    monkeypatch.setenv("JACK_DEFAULT_SERVER", "composer-no-such-server")
    monkeypatch.setenv("JACK_NO_START_SERVER", "1")
    api, problem = midi_api()
    assert api is None
    assert "ALSA" in problem and "JACK" in problem
    assert list_ports().api is None

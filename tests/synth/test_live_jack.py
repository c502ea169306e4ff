"""A note from a virtual JACK MIDI keyboard reaches the engine, sounds, and is recorded."""

import os
import sys
import time

import numpy as np
import pytest
import rtmidi
from jack_helpers_stop import interrupt, start

from composer.files.midi_io import read_midi
from composer.song import Song, Track
from synth.engine.audio_out import AudioOutput
from synth.engine.engine import Engine
from synth.engine.live import LiveSession
from synth.engine.midi_ports import MidiInput
from synth.engine.recorder import Recorder

SAMPLE_RATE = 48000
pytestmark = pytest.mark.jack


def virtual_keyboard(client: str) -> rtmidi.MidiOut:
    kbd = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=client)
    kbd.open_virtual_port("keys")
    return kbd


class PeakMeter:
    """Wraps the engine's render_block and keeps each block's peak."""

    def __init__(self, render_block) -> None:
        self.render_block = render_block
        self.peaks: list[float] = []

    def __call__(self, n_frames: int) -> np.ndarray:
        block = self.render_block(n_frames)
        self.peaks.append(float(np.abs(block).max()))
        return block


def test_keyboard_note_sounds_and_is_recorded(jack_server):
    song = Song(tracks=[Track(name="Keys", program=0)])
    engine = Engine(song, sample_rate=SAMPLE_RATE, block_frames=256)
    session = LiveSession(engine, track_index=0)
    recorder = Recorder(song, 0)
    session.arm(recorder)
    meter = PeakMeter(engine.render_block)
    kbd = virtual_keyboard("live-kbd")
    try:
        with MidiInput("live-kbd", session.handle), AudioOutput(meter, SAMPLE_RATE, 256, ahead_blocks=2):
            time.sleep(0.3)
            silent_before = max(meter.peaks)
            blocks_before = len(meter.peaks)
            kbd.send_message([0x90, 69, 110])
            time.sleep(0.4)
            kbd.send_message([0x80, 69, 0])
            time.sleep(0.1)
        taken = session.disarm()
    finally:
        kbd.delete()
    assert silent_before == 0.0
    assert max(meter.peaks[blocks_before:]) > 0.01
    assert taken is recorder
    notes = song.tracks[0].notes
    assert [(n.pitch, n.velocity) for n in notes] == [(69, 110)]
    assert 0.3 < notes[0].duration_s < 0.5
    assert notes[0].start_s > 0.2  # seconds since the recorder was armed, unquantized


def test_monitoring_off_keeps_the_engine_silent_but_still_records(jack_server):
    song = Song(tracks=[Track(name="Keys", program=0)])
    engine = Engine(song, sample_rate=SAMPLE_RATE, block_frames=256)
    session = LiveSession(engine, track_index=0, monitoring=False)
    session.arm(Recorder(song, 0))
    meter = PeakMeter(engine.render_block)
    kbd = virtual_keyboard("mute-kbd")
    try:
        with MidiInput("mute-kbd", session.handle), AudioOutput(meter, SAMPLE_RATE, 256):
            time.sleep(0.2)
            kbd.send_message([0x90, 60, 100])
            time.sleep(0.2)
            kbd.send_message([0x80, 60, 0])
            time.sleep(0.1)
        session.disarm()
    finally:
        kbd.delete()
    assert max(meter.peaks) == 0.0
    assert [n.pitch for n in song.tracks[0].notes] == [60]


def test_composer_live_records_to_a_file_on_ctrl_c(jack_server, tmp_path):
    out = tmp_path / "take.mid"
    kbd = virtual_keyboard("cli-kbd")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [
        sys.executable,
        "-u",
        "-m",
        "tui.cli",
        "live",
        "--midi-in",
        "cli-kbd",
        "--program",
        "4",
        "--record",
        str(out),
    ]
    proc = start(cmd, env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("live: MIDI 'cli-kbd:keys' (JACK)"), line + proc.stderr.read()
        time.sleep(1.0)  # let the new process settle before playing
        # Back-to-back sends from rtmidi's JACK output can repeat a message (its ring buffer is
        # written in two steps that the JACK thread may read between): a keyboard never sends
        # that fast, so space them by a few JACK cycles.
        kbd.send_message([0x90, 64, 100])
        time.sleep(0.03)
        kbd.send_message([0xB0, 64, 127])  # pedal down
        time.sleep(0.2)
        kbd.send_message([0x80, 64, 0])  # held by the pedal
        time.sleep(0.03)
        kbd.send_message([0xE0, 0x7F, 0x7F])  # bend up
        time.sleep(0.3)
        kbd.send_message([0xB0, 64, 0])  # pedal up: the note ends here
        time.sleep(0.3)
        stdout, stderr = interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        kbd.delete()
    assert proc.returncode == 0, stderr
    notes_found = [
        (n.pitch, n.velocity, round(n.start_s, 3), round(n.end_s, 3)) for n in read_midi(out).tracks[0].notes
    ]
    assert f"wrote 1 notes to {out}" in stdout, notes_found
    song = read_midi(out)
    (note,) = song.tracks[0].notes
    assert note.pitch == 64 and note.velocity == 100
    # Exact timing is the recorder tests' business: on a loaded 2-core machine the new process
    # can get this burst late and bunched together (see the report in the commit).
    assert note.duration_s > 0
    assert song.tracks[0].program == 4

"""Jam mode through the JACK dummy server: a scripted virtual keyboard plays, the model answers and yields."""

import os
import sys
import time

import numpy as np
import pytest
import rtmidi
import torch
from jack_helpers_stop import interrupt, start

from composer.files.midi_io import read_midi
from composer.keys import scale_pitch_classes
from composer.model.checkpoint import save_transformer
from composer.model.model import MusicTransformer, TransformerConfig
from composer.model.sample import SampleOptions
from composer.song import Song, Track
from composer.tokens import VOCAB_SIZE
from synth.engine.audio_out import AudioOutput
from synth.engine.engine import Engine
from synth.engine.jam import JamSession
from synth.engine.midi_ports import MidiInput

SAMPLE_RATE = 48000
LATENCY_BOUND_MS = 1000.0  # generous for a loaded 2-core machine; benchmarks/jam_latency.py has the real figure
C_MAJOR_PHRASE = [(60, 0.3), (62, 0.15), (64, 0.15), (65, 0.15), (67, 0.3), (69, 0.15), (71, 0.15), (72, 0.3)]
pytestmark = [pytest.mark.jack, pytest.mark.timeout(120)]


def tiny_model(seed: int = 0) -> MusicTransformer:
    torch.manual_seed(seed)
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=64, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    return MusicTransformer(cfg).eval()


def virtual_keyboard(client: str) -> rtmidi.MidiOut:
    kbd = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=client)
    kbd.open_virtual_port("keys")
    return kbd


def play(kbd: rtmidi.MidiOut, phrase: list[tuple[int, float]]) -> None:
    for pitch, length_s in phrase:
        kbd.send_message([0x90, pitch, 96])
        time.sleep(length_s * 0.9)
        kbd.send_message([0x80, pitch, 0])
        time.sleep(length_s * 0.1)


class TrackMeter:
    """Wraps render_block and keeps each block's per-track peaks and its perf_counter time."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.blocks: list[tuple[float, list[float]]] = []

    def __call__(self, n_frames: int) -> np.ndarray:
        block = self.engine.render_block(n_frames)
        self.blocks.append((time.perf_counter(), list(self.engine.track_peaks)))
        return block

    def answer_peak(self, start_s: float, end_s: float) -> float:
        return max((p[1] for t, p in self.blocks if start_s <= t < end_s and len(p) > 1), default=0.0)


def wait_for(condition, timeout_s: float) -> bool:
    deadline = time.perf_counter() + timeout_s
    while time.perf_counter() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


@pytest.mark.parametrize("seed", [3, 11])
def test_answer_comes_in_key_and_yields_to_the_player(jack_server, seed):
    song = Song(tracks=[Track(name="Player", program=0), Track(name="Answer", program=0)])
    engine = Engine(song, sample_rate=SAMPLE_RATE, block_frames=256)
    jam = JamSession(engine, tiny_model(), gap_s=0.4, options=SampleOptions(seed=seed), answer_s=6.0)
    meter = TrackMeter(engine)
    client = f"jam-kbd-{seed}"
    kbd = virtual_keyboard(client)
    try:
        with MidiInput(client, jam.handle), AudioOutput(meter, SAMPLE_RATE, 256, ahead_blocks=2), jam:
            time.sleep(0.3)
            play(kbd, C_MAJOR_PHRASE)
            got = wait_for(lambda: jam.latencies_ms, 3.0)
            assert got, f"no answer in 3 s: {jam.answers} {jam.error!r} {list(jam.log)}"
            (answer,) = jam.answers
            time.sleep(1.5)  # let the answer play a while
            answer_sounded = meter.answer_peak(answer.gap_end_s, time.perf_counter())
            notes_before = answer.notes
            kbd.send_message([0x90, 67, 100])  # the player comes back in, and holds the note
            assert wait_for(lambda: answer.yielded_at_s is not None, 1.0)
            time.sleep(2.0)
            held_until = time.perf_counter()
            kbd.send_message([0x80, 67, 0])
            time.sleep(0.1)
        log = list(jam.log)
    finally:
        kbd.delete()
    assert jam.error is None
    assert answer.latency_ms < LATENCY_BOUND_MS
    assert answer.key == "C:major"
    assert notes_before >= 1 and answer_sounded > 0.001
    # after the player's new note-on nothing of the answer starts, and every answer note was released
    cut = next(i for i, e in enumerate(log) if e.part == "player" and e.on and e.time_s >= answer.gap_end_s)
    assert not any(e.part == "answer" and e.on for e in log[cut:])
    sounding: set[int] = set()
    for e in log[:cut]:
        if e.part == "answer":
            (sounding.add if e.on else sounding.discard)(e.pitch)
    released = {e.pitch for e in log[cut - len(sounding) : cut] if e.part == "answer" and not e.on}
    assert released == sounding  # the note-offs went to the engine just before the player's note
    # the answer's track falls silent while the player holds the note (its release tail allowed for)
    assert meter.answer_peak(answer.yielded_at_s + 1.0, held_until) == 0.0
    player, answered = song.tracks
    assert [n.pitch for n in player.notes] == [p for p, _ in C_MAJOR_PHRASE] + [67]
    assert len(answered.notes) == notes_before
    assert {n.pitch % 12 for n in answered.notes} <= scale_pitch_classes("C:major")
    yielded_song_s = answer.yielded_at_s - jam.t0_s
    assert all(n.end_s <= yielded_song_s + 1e-6 for n in answered.notes)
    assert min(n.start_s for n in answered.notes) >= player.notes[len(C_MAJOR_PHRASE) - 1].end_s


def test_composer_jam_records_both_parts_on_ctrl_c(jack_server, tmp_path):
    weights = tmp_path / "tiny.safetensors"
    save_transformer(tiny_model(), weights)
    out = tmp_path / "jam.mid"
    kbd = virtual_keyboard("cli-jam-kbd")
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-u", "-m", "tui.cli", "jam", "--midi-in", "cli-jam-kbd", "--model", str(weights)]
    cmd += ["--gap-ms", "300", "--answer-program", "40", "--answer-seconds", "1.5", "--seed", "5"]
    cmd += ["--record", str(out)]
    proc = start(cmd, env)
    try:
        line = proc.stdout.readline()
        assert line.startswith("jam: MIDI 'cli-jam-kbd:keys' (JACK)"), line + proc.stderr.read()
        time.sleep(2.5)  # the engine's planner publishes its first plan and the port settles (1 s was once too short)
        play(kbd, C_MAJOR_PHRASE)
        answered = proc.stdout.readline()  # printed once the answer's first note is out
        time.sleep(2.0)
        stdout, stderr = interrupt(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
        kbd.delete()
    assert proc.returncode == 0, stderr
    assert answered.startswith("answer 1: C:major, first note"), answered
    song = read_midi(out)
    assert [t.name for t in song.tracks] == ["Player", "Answer"]
    assert [n.pitch for n in song.tracks[0].notes] == [p for p, _ in C_MAJOR_PHRASE]
    assert song.tracks[1].notes and song.tracks[1].program == 40
    assert {n.pitch % 12 for n in song.tracks[1].notes} <= scale_pitch_classes("C:major")
    assert f"answer notes to {out}" in stdout

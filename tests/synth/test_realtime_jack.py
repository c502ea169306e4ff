"""The real-time path through the session's JACK dummy server: the C callback needs no Python, the render
thread survives a GC storm and a CPU hog, the ring deepens before it runs dry, and `composer live` stops
cleanly (writing its take) on SIGTERM and on Ctrl+C from a background job."""

from __future__ import annotations

import gc
import os
import random
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import rtmidi

from composer.files.midi_io import read_midi
from composer.song import Song, Track
from synth.engine.audio_out import AudioOutput
from synth.engine.engine import Engine
from synth.engine.realtime import SWITCH_INTERVAL_S, freeze_heap

SAMPLE_RATE = 48000
BLOCK = 256
pytestmark = pytest.mark.jack


def gil_holder(seconds: float):
    """A call that holds the GIL about `seconds`: sorting shuffled ints is one C call that never lets it go."""
    data = list(range(40_000))
    random.Random(0).shuffle(data)
    t0 = time.perf_counter()
    sorted(data)
    size = int(40_000 * max(seconds / max(time.perf_counter() - t0, 1e-4), 1.0))
    data = list(range(size))
    random.Random(1).shuffle(data)
    return lambda: sorted(data)


@pytest.fixture
def realtime_jack():
    """A private JACK dummy server started with -R (its and its clients' process threads SCHED_FIFO), as
    an audio server runs on a studio machine; the session's server is back in PortAudio's view after."""
    from synth.engine.jack_dummy import JackDummyServer, reinit_portaudio

    server = JackDummyServer(SAMPLE_RATE, BLOCK, realtime=True)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        reinit_portaudio()


@pytest.mark.parametrize("backend", ["rtmixer", "python"])
def test_only_the_c_callback_keeps_the_device_fed_while_python_holds_the_gil(realtime_jack, backend):
    engine = Engine(Song(tracks=[Track("Pad", program=89)]), SAMPLE_RATE, BLOCK)
    engine.live_note_on(0, 60, 100)
    out = AudioOutput(engine.render_block, SAMPLE_RATE, BLOCK, ahead_blocks=2, backend=backend)
    hold = gil_holder(0.3)
    with out:
        time.sleep(0.3)
        before = out.callbacks
        t0 = time.perf_counter()
        hold()
        held_s = time.perf_counter() - t0
        during = out.callbacks - before  # read at once when the GIL came back
    expected = held_s * SAMPLE_RATE / BLOCK
    if backend == "rtmixer":
        assert during >= 0.8 * expected, (during, expected)  # the callback ran the whole time, in C
    else:
        assert during <= 0.5 * expected, (during, expected)  # a Python callback waits for the GIL


def test_a_gc_storm_and_a_cpu_hog_do_not_starve_the_device(realtime_jack):
    """Cyclic garbage made and collected as fast as a thread can, a pure-Python busy loop beside it:
    the C callback needs neither the GIL nor the collector, and the render thread (real-time priority,
    1 ms switch interval, a frozen start-up heap, the adaptive margin) keeps the ring fed. The server
    runs real-time, as an audio server does: a --no-realtime jackd is itself starved by a busy loop on
    a 2-core machine."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    song = Song(tracks=[Track(f"T{p}", program=p) for p in (19, 48)])
    engine = Engine(song, SAMPLE_RATE, BLOCK)
    out = AudioOutput(engine.render_block, SAMPLE_RATE, BLOCK, ahead_blocks=2)
    stop = threading.Event()
    collections = []

    def storm() -> None:
        while not stop.is_set():
            junk = []
            for _ in range(2000):
                cycle: list = []
                cycle.append(cycle)
                junk.append({"self": cycle})
            del junk
            collections.append(gc.collect())

    def hog() -> None:
        x = 0
        while not stop.is_set():
            x += 1

    freeze_heap()
    try:
        with out:
            for track in range(2):
                for k in range(12):
                    engine.live_note_on(track, 40 + 3 * k + track, 90)
            time.sleep(0.3)
            underflows0, underruns0 = out.underflows, out.underruns
            taken0, delivered0 = out.frames_taken, out.frames_delivered
            threads = [threading.Thread(target=storm, daemon=True), threading.Thread(target=hog, daemon=True)]
            for thread in threads:
                thread.start()
            time.sleep(3.0)
            stop.set()
            for thread in threads:
                thread.join(5)
            underflows, underruns = out.underflows - underflows0, out.underruns - underruns0
            callbacks = out.callbacks
            taken, delivered = out.frames_taken - taken0, out.frames_delivered - delivered0
    finally:
        stop.set()
        gc.unfreeze()
        sys.setswitchinterval(previous)
    assert len(collections) > 10 and sum(collections) > 10_000  # it did storm
    assert engine.active_voices == 24
    assert callbacks * BLOCK / SAMPLE_RATE > 3.0  # the device asked at real-time pace...
    # ...and was answered: PortAudio flags every xrun of the JACK graph, and the dummy driver on a shared
    # virtual machine has some of its own (about one in 3 to 20 s idle; 5 in 3 s once in a CI run, with the
    # rest of the suite's processes winding down beside it). A Python callback under this storm gets 45 to
    # 120 in 3 s (benchmarks/soak.py --backend python shows it too), so 12 still tells the two apart; the
    # count itself is benchmarks/soak.py's to report.
    assert underflows <= 12, underflows
    # The render thread is Python: a busy Python thread beside it takes the GIL from it at every numpy
    # call that lets it go, so its blocks slow down (p99 5 to 16 ms here, against 2 ms without) and the
    # ring deepens with a notice. How much of what it delivered the device then plays (0.70-0.95 on this
    # machine) is a performance figure, measured by benchmarks/soak.py, not asserted here.
    assert taken > 0 and delivered > 0, (taken, delivered, out.notices)
    assert underruns == 0 or any("blocks ahead now" in line for line in out.notices)


def one_slow_block(at_block: int = 40, sleep_s: float = 0.014):
    """A render_block whose block `at_block` takes `sleep_s` longer (14 ms: a 3-block ring, 16 ms, holds)."""
    left = {"blocks": at_block}

    def render(n_frames: int) -> np.ndarray:
        left["blocks"] -= 1
        if left["blocks"] == 0:
            time.sleep(sleep_s)
        return np.full((n_frames, 2), 0.05, np.float32)

    return render


def test_a_slow_block_deepens_the_ring_instead_of_dropping_one(jack_server):
    notices: list[str] = []
    out = AudioOutput(one_slow_block(), SAMPLE_RATE, BLOCK, ahead_blocks=3, on_notice=notices.append)
    with out:
        time.sleep(0.5)
    assert out.ahead_blocks == 4
    assert any("rendering 4 blocks ahead now (21.3 ms)" in line for line in notices), notices
    assert out.render_time_max_s >= 0.014
    assert out.render_time_s(0.5) < 0.005


def test_after_a_calm_spell_the_ring_gives_the_block_back(jack_server):
    notices: list[str] = []
    out = AudioOutput(one_slow_block(), SAMPLE_RATE, BLOCK, ahead_blocks=3, on_notice=notices.append, calm_s=0.4)
    with out:
        deadline = time.perf_counter() + 20
        while not any("calm for" in line for line in notices) and time.perf_counter() < deadline:
            time.sleep(0.05)
    depths = [("calm" in line, int(line.split("rendering ")[1].split()[0])) for line in notices if "rendering" in line]
    first_calm = next((i for i, (calm, _) in enumerate(depths) if calm), None)
    assert first_calm is not None and first_calm > 0, notices  # it deepened, then gave a block back
    deepest = max(depth for _, depth in depths[:first_calm])
    assert depths[first_calm][1] == deepest - 1 >= 3, notices  # one block, never below what was asked for


def virtual_keyboard(client: str) -> rtmidi.MidiOut:
    kbd = rtmidi.MidiOut(rtmidi.API_UNIX_JACK, name=client)
    kbd.open_virtual_port("keys")
    return kbd


@pytest.mark.parametrize("how", ["sigterm", "sigint-from-a-background-job"])
def test_composer_live_writes_its_take_when_stopped(jack_server, tmp_path, how):
    out = tmp_path / "take.mid"
    client = f"stop-kbd-{how[:6]}"
    kbd = virtual_keyboard(client)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-u", "-m", "tui.cli", "live", "--midi-in", client, "--record", str(out)]
    # A shell starts a background job with SIGINT ignored; a service manager stops with SIGTERM.
    disposition = signal.SIG_IGN if how.startswith("sigint") else signal.SIG_DFL
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, disposition),
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"live: MIDI '{client}:keys' (JACK)"), line + proc.stderr.read()
        time.sleep(1.0)
        kbd.send_message([0x90, 62, 90])
        time.sleep(0.3)  # held when the signal comes: the take closes it
        proc.send_signal(signal.SIGTERM if how == "sigterm" else signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        kbd.delete()
    assert proc.returncode == 0, stderr
    assert f"wrote 1 notes to {out}" in stdout
    (note,) = read_midi(out).tracks[0].notes
    assert note.pitch == 62 and note.duration_s > 0


def test_the_ring_restarts_after_it_ran_dry_and_playing_goes_on(jack_server):
    """A block far slower than the ring (64 new voices' wavetables, here a sleep) empties it; the C
    callback then ends the ring's action. The render thread notices, refills, starts it again."""
    slow = {"left": 30}

    def render(n_frames: int) -> np.ndarray:
        slow["left"] -= 1
        if slow["left"] == 0:
            time.sleep(0.05)
        return np.full((n_frames, 2), 0.05, np.float32)

    out = AudioOutput(render, SAMPLE_RATE, BLOCK, ahead_blocks=2)
    with out:
        time.sleep(0.5)
        taken0, delivered0 = out.frames_taken, out.frames_delivered
        time.sleep(0.5)
        taken, delivered = out.frames_taken - taken0, out.frames_delivered - delivered0
    assert out.underruns == 1
    assert any("the ring ran dry" in line for line in out.notices)
    assert taken >= 0.97 * delivered, (taken, delivered)

"""With no JACK server running at all: play says "no audio device" in one line (exit 2), the rest works."""

import os
import subprocess
import sys

import pytest

from composer.files.midi_io import write_midi
from composer.song import Note, Song, Track

NO_SERVER = {"JACK_DEFAULT_SERVER": "composer-no-such-server", "JACK_NO_START_SERVER": "1"}


def composer(*args: str, cwd=None) -> subprocess.CompletedProcess:
    env = dict(os.environ, **NO_SERVER, OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "tui.cli", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture(scope="module")
def no_device():
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sounddevice as sd; print(sum(d['max_output_channels'] > 0 for d in sd.query_devices()))",
        ],
        env=dict(os.environ, **NO_SERVER),
        capture_output=True,
        text=True,
        timeout=60,
    )
    if probe.stdout.strip() != "0":
        pytest.skip("this machine has a real audio device")


@pytest.fixture
def song_file(tmp_path):
    path = tmp_path / "tune.mid"
    write_midi(Song(tracks=[Track(notes=[Note(60, 100, 0.0, 0.5), Note(64, 90, 0.5, 1.0)])]), path)
    return path


def test_play_without_a_device_is_one_line_and_exit_2(no_device, song_file):
    run = composer("play", str(song_file))
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [run.stderr.strip()]
    assert run.stderr.startswith("composer: no audio device (")
    assert "Traceback" not in run.stderr + run.stdout


def test_play_reports_a_bad_file_before_the_device(no_device, tmp_path):
    run = composer("play", str(tmp_path / "missing.mid"))
    assert run.returncode == 2
    assert "missing.mid: no such file" in run.stderr


def test_devices_says_there_is_none_and_exits_0(no_device):
    run = composer("devices")
    assert run.returncode == 0, run.stderr
    assert "no audio device" in run.stdout
    assert "MIDI: none" in run.stdout


def test_live_without_a_device_is_one_line_and_exit_2(no_device, tmp_path):
    run = composer("live", "--record", str(tmp_path / "take.mid"))
    assert run.returncode == 2
    assert run.stderr.startswith("composer: no audio device (")
    assert not (tmp_path / "take.mid").exists()


def test_render_still_works_without_a_device(no_device, song_file, tmp_path):
    if composer("render", "--help").returncode != 0:
        pytest.skip("composer render is not there yet")
    out = tmp_path / "tune.wav"
    run = composer("render", str(song_file), "-o", str(out))
    assert run.returncode == 0, run.stderr
    assert out.stat().st_size > 44

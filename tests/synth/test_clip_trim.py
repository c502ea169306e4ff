"""A trimmed clip (offset_s / length_s): the engine (and so the export) plays only that part of its
samples, each repeat of a loop too; the project keeps the trim, and older projects load untrimmed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from composer.files.project import SCHEMA_VERSION, load_project, save_project
from composer.song import AudioClip, Song, Track
from synth.engine.engine import Engine

SR = 24000


def ramp(n: int = 2000) -> np.ndarray:
    return (np.arange(n, dtype=np.float32) / n * 0.1).astype(np.float32)  # quiet: the limiter leaves it alone


def heard(clip: AudioClip, block: int, n_samples: int) -> np.ndarray:
    engine = Engine(Song(tracks=[Track("T")], clips=[clip]), SR, block)
    engine.play()
    return np.concatenate([engine.render_block(block) for _ in range(n_samples // block + 3)])[:, 0]


@pytest.mark.parametrize("block", [256, 333])
def test_a_trimmed_loop_plays_its_window_each_repeat(block):
    samples = ramp()
    offset, length = 300, 700
    clip = AudioClip(
        samples=samples, sample_rate=SR, start_s=0.01, loop=True, repeats=3, offset_s=offset / SR, length_s=length / SR
    )
    start = int(round(0.01 * SR))
    out = heard(clip, block, start + 3 * length)
    expected = np.tile(samples[offset : offset + length], 3)
    got = out[start : start + expected.size]
    gain = float(np.dot(got, expected) / np.dot(expected, expected))
    assert gain > 0.1 and np.allclose(got, gain * expected, atol=1e-5)
    assert np.abs(out[start + expected.size :]).max() < 1e-6, "it ends after the last trimmed repeat"
    assert np.abs(out[:start]).max() < 1e-6


def test_a_window_past_the_audio_end_plays_what_there_is():
    samples = ramp(1000)
    clip = AudioClip(samples=samples, sample_rate=SR, offset_s=800 / SR, length_s=1.0)
    assert clip.pass_s == pytest.approx(200 / SR)
    out = heard(clip, 256, 1000)
    gain = float(np.dot(out[:200], samples[800:]) / np.dot(samples[800:], samples[800:]))
    assert np.allclose(out[:200], gain * samples[800:], atol=1e-5) and np.abs(out[200:]).max() < 1e-6


def test_the_project_keeps_the_trim_and_the_whole_audio(tmp_path):
    samples = ramp()
    clip = AudioClip(name="loop", samples=samples, sample_rate=SR, offset_s=0.0125, length_s=0.03, prompt="groove")
    path = tmp_path / "song.json"
    save_project(
        Song(tracks=[Track("T")], clips=[clip, AudioClip(name="whole", samples=samples, sample_rate=SR)]), path
    )
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION >= 4
    again, whole = load_project(path).clips
    assert (again.offset_s, again.length_s) == (0.0125, 0.03)
    assert np.array_equal(again.samples, samples), "the samples are saved whole: the trim can be undone"
    assert (whole.offset_s, whole.length_s) == (0.0, None)


def test_a_version_3_project_loads_untrimmed(tmp_path):
    path = tmp_path / "song.json"
    save_project(Song(clips=[AudioClip(name="c", samples=ramp(), sample_rate=SR, loop=True, repeats=2)]), path)
    data = json.loads(path.read_text())
    data["schema_version"] = 3
    for c in data["clips"]:
        del c["offset_s"], c["length_s"]
    path.write_text(json.dumps(data))
    clip = load_project(path).clips[0]
    assert (clip.offset_s, clip.length_s, clip.repeats) == (0.0, None, 2)
    assert clip.duration_s == pytest.approx(2 * 2000 / SR)


@pytest.mark.parametrize(("key", "value"), [("offset_s", -1.0), ("length_s", "long"), ("offset_s", None)])
def test_a_bad_trim_in_a_file_is_one_line(tmp_path, key, value):
    from composer.errors import ComposerError

    path = tmp_path / "song.json"
    save_project(Song(clips=[AudioClip(name="c", samples=ramp(), sample_rate=SR)]), path)
    data = json.loads(path.read_text())
    data["clips"][0][key] = value
    path.write_text(json.dumps(data))
    with pytest.raises(ComposerError, match="clip (offset|length)"):
        load_project(path)

"""Prompted clips in the song and the project file: prompt, seed, steps, guidance and loop kept; old files load."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

from composer.errors import ComposerError
from composer.files.project import SCHEMA_VERSION, load_project, save_project
from composer.history import same, snapshot
from composer.song import AudioClip, Song, Track


def prompted(**changes) -> AudioClip:
    fields = dict(
        name="slow cello melody",
        start_s=2.0,
        gain=0.8,
        prompt="slow cello melody in D minor",
        seed=42,
        steps=12,
        guidance=2.5,
        loop=True,
        samples=np.sin(np.linspace(0, 300, 24000)).astype(np.float32),
        sample_rate=24000,
    )
    fields.update(changes)
    return AudioClip(**fields)


def test_prompted_clip_fields_round_trip(tmp_path):
    song = Song(tracks=[Track(name="Lead")], clips=[prompted(), prompted(loop=False, steps=None, guidance=None)])
    path = tmp_path / "song.json"
    save_project(song, path)
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION >= 4
    assert {k: data["clips"][0][k] for k in ("prompt", "seed", "steps", "guidance", "loop", "repeats")} == {
        "prompt": "slow cello melody in D minor",
        "seed": 42,
        "steps": 12,
        "guidance": 2.5,
        "loop": True,
        "repeats": 1,
    }
    back = load_project(path)
    keys = ("name", "start_s", "gain", "mute", "prompt", "seed", "steps", "guidance", "loop", "repeats", "sample_rate")
    for a, b in zip(song.clips, back.clips, strict=True):
        assert [getattr(a, k) for k in keys] == [getattr(b, k) for k in keys]
        assert np.array_equal(a.samples, b.samples)
        assert b.prompted
    assert back.clips[1].steps is None and back.clips[1].guidance is None and back.clips[1].loop is False
    assert isinstance(back.clips[0].steps, int)


def test_version_1_files_still_load(tmp_path):
    """A file written before steps, guidance and loop existed: its clips take the defaults."""
    sf.write(tmp_path / "rain.wav", np.zeros(480, np.float32), 24000, subtype="FLOAT")
    old = {
        "schema_version": 1,
        "tempo_bpm": 100,
        "tracks": [{"name": "P", "notes": [[60, 80, 0, 1]]}],
        "clips": [{"name": "Rain", "path": "rain.wav", "start_s": 1.0, "prompt": "rain on a roof", "seed": 7}],
    }
    (tmp_path / "old.json").write_text(json.dumps(old))
    song = load_project(tmp_path / "old.json")
    clip = song.clips[0]
    assert (clip.prompt, clip.seed, clip.steps, clip.guidance, clip.loop) == ("rain on a roof", 7, None, None, False)
    assert clip.duration_s == pytest.approx(0.02)


BAD_CLIPS = {
    "steps zero": ({"steps": 0}, "clip steps"),
    "steps fraction": ({"steps": 2.5}, "clip steps"),
    "steps text": ({"steps": "20"}, "clip steps"),
    "steps true": ({"steps": True}, "clip steps"),
    "guidance negative": ({"guidance": -1}, "clip guidance"),
    "guidance text": ({"guidance": "3"}, "clip guidance"),
    "guidance NaN": ({"guidance": float("nan")}, "clip guidance"),
    "loop as text": ({"loop": "yes"}, "clip loop"),
    "loop as number": ({"loop": 1}, "clip loop"),
}


@pytest.mark.parametrize("fields,words", BAD_CLIPS.values(), ids=BAD_CLIPS.keys())
def test_bad_prompted_clip_fields_name_the_file(tmp_path, fields, words):
    data = {"schema_version": 2, "clips": [{"name": "c", "prompt": "cello", "seed": 1, **fields}]}
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ComposerError) as info:
        load_project(path)
    assert info.value.path == str(path) and words in info.value.problem and "\n" not in str(info.value)


def test_undo_snapshots_keep_the_prompted_fields():
    song = Song(clips=[prompted()])
    before = snapshot(song)
    assert same(song, before)
    song.clips[0] = prompted(seed=43)
    assert not same(song, before)
    assert before.clips[0].seed == 42 and before.clips[0].loop

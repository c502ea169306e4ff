"""Bad manifests of the data builds: one ComposerError line naming the file, never a traceback; no file outside
the build touched."""

from __future__ import annotations

import json

import numpy as np
import pytest
from neural_fixtures import write_dataset

from composer.errors import ComposerError
from synth.data import audio_data, prompt_data
from synth.data.audio_dataset import AudioDataset
from synth.data.manifest import read_jsonl
from synth.data.vocoder_data import widen_audio_data

AUDIO = "composer-audio-data/1"
GOOD_SHARD = {"split": "train", "program": 0, "audio": "train/000-000.npy", "notes": "train/000-000.notes.npz"}

BAD_TEXT = {
    "truncated": b'{"format": "composer-audio-data/1", "sample_rate": 24',
    "binary": bytes(range(256)),
    "empty": b"",
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "huge integer": b'{"format": "composer-audio-data/1", "sample_rate": ' + b"9" * 5000 + b"}",
    "a list": b"[1, 2, 3]",
    "other format": b'{"format": "something-else/1"}',
}

BAD_FIELDS = {
    "rate as text": {"sample_rate": "fast"},
    "rate as a list": {"sample_rate": [24000]},
    "rate zero": {"sample_rate": 0},
    "shards a number": {"shards": 5},
    "shard a string": {"shards": ["train/000-000.npy"]},
    "shard without split": {"shards": [{k: v for k, v in GOOD_SHARD.items() if k != "split"}]},
    "shard split unknown": {"shards": [{**GOOD_SHARD, "split": "nope"}]},
    "shard program text": {"shards": [{**GOOD_SHARD, "program": "piano"}]},
    "shard audio absolute": {"shards": [{**GOOD_SHARD, "audio": "/etc/passwd"}]},
    "shard audio climbs out": {"shards": [{**GOOD_SHARD, "audio": "../../victim.npy"}]},
    "shard notes missing": {"shards": [{k: v for k, v in GOOD_SHARD.items() if k != "notes"}]},
    "programs text": {"programs": "all"},
    "programs words": {"programs": ["piano"]},
}


def _one_line(exc: ComposerError, path) -> None:
    assert exc.path == str(path), (exc.path, str(path))
    assert "\n" not in str(exc)


def _readers(folder):
    return {
        "audio_data.read_manifest": lambda: audio_data.read_manifest(folder),
        "AudioDataset": lambda: AudioDataset(folder, "train"),
    }


@pytest.mark.parametrize("case", list(BAD_TEXT))
def test_bad_manifest_text_is_one_line_for_every_reader(tmp_path, case):
    (tmp_path / "manifest.json").write_bytes(BAD_TEXT[case])
    readers = _readers(tmp_path) | {"prompt_data.read_manifest": lambda: prompt_data.read_manifest(tmp_path)}
    for name, read in readers.items():
        with pytest.raises(ComposerError) as info:
            read()
        _one_line(info.value, tmp_path / "manifest.json")
        assert name and "manifest" in str(info.value)


@pytest.mark.parametrize("case", list(BAD_FIELDS))
def test_bad_manifest_fields_are_one_line(tmp_path, case):
    write_dataset(tmp_path / "data")
    path = tmp_path / "data" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest.update(BAD_FIELDS[case])
    path.write_text(json.dumps(manifest))
    readers = _readers(tmp_path / "data")
    if "programs" in case:
        readers.pop("AudioDataset")  # it does not read programs
    for read in readers.values():
        with pytest.raises(ComposerError) as info:
            read()
        _one_line(info.value, path)


@pytest.mark.parametrize(
    ("shard", "content"),
    [
        ("train/000-000.npy", b""),
        ("train/000-000.npy", b"\x93NUMPY garbage"),
        ("train/000-000.notes.npz", b"PK\x03\x04 not a zip"),
        ("train/000-000.npy", None),  # missing
    ],
)
def test_a_bad_shard_file_is_one_line_naming_it(tmp_path, shard, content):
    write_dataset(tmp_path)
    if content is None:
        (tmp_path / shard).unlink()
    else:
        (tmp_path / shard).write_bytes(content)
    with pytest.raises(ComposerError) as info:
        AudioDataset(tmp_path, "train")
    _one_line(info.value, tmp_path / shard)
    entry = audio_data.read_manifest(tmp_path)["shards"][0]
    with pytest.raises(ComposerError) as info:
        audio_data.load_shard(tmp_path, entry)
    _one_line(info.value, tmp_path / shard)


def test_a_notes_file_missing_a_column_is_one_line(tmp_path):
    write_dataset(tmp_path)
    path = tmp_path / "train" / "000-000.notes.npz"
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files if k != "piece_n_samples"}
    np.savez(path, **arrays)
    with pytest.raises(ComposerError) as info:
        AudioDataset(tmp_path, "train")
    _one_line(info.value, path)


def test_widening_a_hostile_build_touches_nothing_outside_it(tmp_path):
    (tmp_path / "a" / "b").mkdir(parents=True)
    victim = tmp_path / "a" / "victim.npy"
    victim.write_bytes(b"the user's")
    write_dataset(tmp_path / "base")
    path = tmp_path / "base" / "manifest.json"
    manifest = json.loads(path.read_text())
    manifest["programs"] = {"0": "piano"}
    manifest["shards"][0]["audio"] = "../../victim.npy"  # out/../../victim.npy is the victim itself
    path.write_text(json.dumps(manifest))
    with pytest.raises(ComposerError, match="outside the build folder") as info:
        widen_audio_data(tmp_path / "base", tmp_path / "a" / "b" / "out", 1, 1, render=lambda notes: np.zeros(10))
    _one_line(info.value, path)
    assert victim.read_bytes() == b"the user's"


def test_a_good_build_still_reads(tmp_path):
    write_dataset(tmp_path)
    assert len(AudioDataset(tmp_path, "train")) == 2
    manifest = audio_data.read_manifest(tmp_path)
    audio, notes = audio_data.load_shard(tmp_path, manifest["shards"][0])
    assert audio.dtype == np.float16 and "pitch" in notes


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (b'{"shard": "a.npz", "index": 0}\n{"shard": \n', "line 2 is not JSON"),
        (b'{"shard": "a.npz", "index": 0}\n[1, 2]\n', "line 2 is not an object"),
        (b'{"index": 0}\n', "line 1 is not an object with shard, index"),
        (b"\xff\xfe", "not UTF-8"),
    ],
)
def test_bad_json_lines_name_the_file_and_the_line(tmp_path, text, words):
    (tmp_path / "clips.jsonl").write_bytes(text)
    with pytest.raises(ComposerError, match=words) as info:
        read_jsonl(tmp_path / "clips.jsonl", ("shard", "index"))
    _one_line(info.value, tmp_path / "clips.jsonl")
    (tmp_path / "ok.jsonl").write_text('{"shard": "a.npz", "index": 0}\n\n{"shard": "b.npz", "index": 1}\n')
    assert [r["index"] for r in read_jsonl(tmp_path / "ok.jsonl", ("shard", "index"))] == [0, 1]

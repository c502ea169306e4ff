"""The audio-data build: shards, notes that match the audio, splits by piece, budgets, rebuilds, the CLI.

Most tests render with a tiny sine synth (no FluidSynth); one builds through FluidSynth when it is there.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from composer.files.midi_io import write_midi
from composer.song import Note, Song, Track
from composer.train.corpus import split_of
from synth.data.audio_data import FORMAT, MIN_PIECE_S, build_audio_data, fit_to_range, load_shard, read_manifest
from synth.data.fluid import fluidsynth_available
from synth.data.material import instrument_range
from tui.cli import main

SR = 24000
TAIL_SAMPLES = 240


def sine_render(notes_by_program):
    """A stand-in for FluidSynth: a sine from each note's onset sample to its end, plus a 10 ms tail."""
    spans = [
        (round(n.start_s * SR), round(n.end_s * SR) + TAIL_SAMPLES, n) for ns in notes_by_program.values() for n in ns
    ]
    audio = np.zeros(max(end for _, end, _ in spans), np.float32)
    for start, end, note in spans:
        t = np.arange(end - start) / SR
        audio[start:end] += (
            0.01 * (1 + note.velocity / 127) * np.sin(2 * np.pi * 440 * 2 ** ((note.pitch - 69) / 12) * t)
        )
    return audio


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Twelve little MIDI 'pieces' standing in for the music21 corpus (parsing those takes seconds)."""
    folder = tmp_path_factory.mktemp("pieces")
    out = []
    for k in range(12):
        notes = [Note(40 + (5 * i + k) % 50, 80, 0.5 * i, 0.5 * i + 0.4) for i in range(40)]
        path = folder / f"piece{k}.mid"
        write_midi(Song(tracks=[Track("p", 0, notes=notes)]), path)
        out.append((str(path), f"test/piece{k}.mid", "other"))
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory, sources):
    out = tmp_path_factory.mktemp("audio")
    calls = []
    summary = build_audio_data(
        out, programs=[73, 42], minutes_per_program=2.0, sources=sources, render=sine_render,
        progress=lambda done, total: calls.append((done, total)),
    )  # fmt: skip
    return out, summary, calls


def test_manifest_lists_every_shard_and_the_minutes(built):
    out, summary, calls = built
    manifest = read_manifest(out)
    assert manifest["format"] == FORMAT and manifest["sample_rate"] == SR
    assert set(manifest["programs"]) == {"73", "42"}
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    listed = sorted([s["audio"] for s in manifest["shards"]] + [s["notes"] for s in manifest["shards"]])
    assert files == sorted(listed + ["manifest.json", "pieces.jsonl"])
    for program in ("73", "42"):
        train_s = manifest["seconds"]["train"][program]
        # 90% of 2 minutes; the last corpus piece and the last material chunk may each overshoot by MIN_PIECE_S
        assert 0.9 * 2 * 60 <= train_s <= 0.9 * 2 * 60 + 2 * MIN_PIECE_S + 1
        assert manifest["seconds"]["valid"][program] > 0 and manifest["seconds"]["test"][program] > 0
    assert calls[-1][0] == pytest.approx(calls[-1][1]) == pytest.approx(2 * 2 * 60)
    assert all(b[0] >= a[0] for a, b in zip(calls, calls[1:], strict=False))


def test_pieces_go_to_the_split_of_their_id_and_mix_corpus_and_material(built):
    out, summary, _ = built
    pieces = [json.loads(line) for line in (out / "pieces.jsonl").read_text().splitlines()]
    assert len(pieces) == summary["pieces"]
    for piece in pieces:
        assert piece["split"] == split_of(piece["piece_id"])
        assert piece["shard"].startswith(f"{piece['split']}/{piece['program']:03d}-")
    kinds = {p["piece_id"].split("/")[2] for p in pieces if p["kind"] == "material" and p["split"] == "train"}
    assert len(kinds) >= 4
    assert any(p["kind"] == "corpus" for p in pieces)
    assert summary["pieces_per_kind"]["corpus"] + summary["pieces_per_kind"]["material"] == len(pieces)


def test_notes_match_the_audio_sample_for_sample(built):
    out, _, _ = built
    manifest = read_manifest(out)
    for entry in manifest["shards"]:
        audio, notes = load_shard(out, entry)
        assert audio.dtype == np.float16 and audio.shape == (entry["n_samples"],)
        assert int(notes["sample_rate"]) == SR
        n = len(notes["pitch"])
        assert all(len(notes[k]) == n for k in ("velocity", "program", "start_s", "end_s", "piece"))
        assert set(notes["program"]) == {entry["program"]}
        low, high = instrument_range(entry["program"])
        assert notes["pitch"].min() >= low and notes["pitch"].max() <= high
        starts, lengths = notes["piece_start_sample"], notes["piece_n_samples"]
        assert starts[0] == 0 and np.all(starts[1:] == starts[:-1] + lengths[:-1]) and lengths.sum() == audio.size
        # Each note lies inside its piece, and sounds from its onset sample on (the sine starts at phase 0,
        # so its second sample is the first one away from zero).
        onsets = np.round(notes["start_s"] * SR).astype(int)
        piece = notes["piece"]
        assert np.all(onsets >= starts[piece]) and np.all(notes["end_s"] * SR <= (starts + lengths)[piece] + 1)
        checked = 0
        for i in range(n):
            before = onsets[i] - 1
            sounding_before = np.any((onsets <= before) & (np.round(notes["end_s"] * SR) + TAIL_SAMPLES > before))
            if not sounding_before and before >= 0:
                assert audio[before] == 0 and audio[onsets[i] + 1] != 0
                checked += 1
        assert checked >= 3


def test_a_rebuild_replaces_the_old_shards(tmp_path, sources):
    build_audio_data(tmp_path, programs=[24, 19], minutes_per_program=0.5, sources=sources, render=sine_render)
    build_audio_data(tmp_path, programs=[19], minutes_per_program=0.5, sources=sources, render=sine_render)
    manifest = read_manifest(tmp_path)
    assert {s["program"] for s in manifest["shards"]} == {19}
    assert not list(tmp_path.rglob("024-*"))


def test_bad_arguments_are_refused_before_anything_is_written(tmp_path, sources):
    from composer.errors import ComposerError

    for kwargs in ({"programs": [128]}, {"programs": []}, {"minutes_per_program": 0}, {"minutes_per_program": 1e9}):
        with pytest.raises(ComposerError):
            build_audio_data(tmp_path / "x", sources=sources, render=sine_render, **{"programs": [0], **kwargs})
    assert not (tmp_path / "x").exists()
    with pytest.raises(ComposerError, match="no such file"):
        read_manifest(tmp_path)


def test_fit_to_range_transposes_then_folds_by_octaves():
    notes = [Note(p, 80, i * 0.1, i * 0.1 + 0.1) for i, p in enumerate([36, 40, 43, 48, 84])]
    fitted, shift = fit_to_range(notes, 60, 96)
    assert all(60 <= n.pitch <= 96 for n in fitted)
    assert shift > 0
    assert [(n.pitch - o.pitch) % 12 for n, o in zip(fitted, notes, strict=True)] == [shift % 12] * len(notes)


@pytest.mark.parametrize(
    "argv,problem",
    [
        (["--programs", "0,abc"], "--programs"),
        (["--programs", "200"], "--programs"),
        (["--minutes-per-program", "-1"], "--minutes-per-program"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, problem):
    out = tmp_path / "audio"
    assert main(["audio-data", "build", "--out", str(out), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and problem in err[0]
    assert not out.exists()


def test_cli_without_fluidsynth_says_why_in_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "fluidsynth", None)  # as if pyfluidsynth were not installed
    out = tmp_path / "audio"
    assert main(["audio-data", "build", "--out", str(out), "--minutes-per-program", "0.1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "FluidSynth is not installed" in err[0] and "make setup-train-audio" in err[0]
    assert not out.exists()


MISSING = fluidsynth_available()


@pytest.mark.skipif(MISSING is not None, reason=f"needs FluidSynth: {MISSING}")
def test_cli_builds_a_tiny_set_through_fluidsynth(tmp_path, capsys):
    out = tmp_path / "audio"
    assert main(["audio-data", "build", "--out", str(out), "--programs", "24", "--minutes-per-program", "0.3"]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    manifest = read_manifest(out)
    train = [s for s in manifest["shards"] if s["split"] == "train"]
    audio, notes = load_shard(out, train[0])
    assert 0.01 < np.abs(audio.astype(np.float32)).max() < 1.0
    onsets = np.round(notes["start_s"] * SR).astype(int)
    first = onsets[0]
    assert np.abs(audio[: max(first - 1, 0)]).max(initial=0) == 0  # silent until the first note starts
    assert np.abs(audio[first : first + 2400]).max() > 1e-3

"""The prompt data: generated parts in range and key, metadata true to the notes, disjoint splits, the shard
format, atomic rebuilds, the CLI.

Pattern, metadata and split tests need no FluidSynth; the builds render through FluidSynth and embed the
captions with the real text encoder, and are skipped, with the reason, where either is missing.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from composer.files.midi_io import write_midi
from composer.song import Note, Song, Track
from synth.data.captions import KEY_NAMES
from synth.data.fluid import fluidsynth_available
from synth.data.patterns import (
    CLOSED_HAT,
    DRUM_STYLES,
    KICK,
    MODES,
    SNARE,
    arpeggio,
    chord_voicings,
    chords,
    groove,
    melody,
    scale_pitches,
)
from synth.data.prompt_data import (
    CAPTIONS_PER_CLIP,
    CLIP_FRAMES,
    CLIP_SAMPLES,
    FAMILIES,
    FORMAT,
    PROGRAMS,
    SPLITS,
    build_prompt_data,
    corpus_clip,
    estimate_key,
    pattern_clip,
    plan_clips,
    read_manifest,
    register_of,
    split_of_source,
)
from tui.cli import main

LENGTH_S = CLIP_SAMPLES / 24000
MISSING = fluidsynth_available()
needs_fluid = pytest.mark.skipif(MISSING is not None, reason=f"needs FluidSynth: {MISSING}")


def encoder_missing() -> str | None:
    try:
        from synth.prompt.text_encoder import TextEncoder

        TextEncoder().encode(["a test"])
    except Exception as exc:  # the packaged weights or the module may be absent
        return f"{type(exc).__name__}: {exc}"
    return None


@pytest.mark.parametrize("make", [melody, chords, arpeggio])
@pytest.mark.parametrize("mode", ["major", "minor"])
@pytest.mark.parametrize("bpm", [60.0, 100.0, 150.0])
def test_pitched_parts_stay_in_range_and_key_and_fill_the_clip(make, mode, bpm):
    for seed in range(10):
        rng = np.random.default_rng(seed)
        key_pc = seed % 12
        low = 40 + 3 * seed
        high = low + 19
        notes = make(rng, key_pc, mode, bpm, low, high, 80, LENGTH_S)
        assert notes
        assert all(low <= n.pitch <= high for n in notes)
        assert all((n.pitch - key_pc) % 12 in MODES[mode] for n in notes)
        assert all(0 <= n.start_s < LENGTH_S and n.end_s > n.start_s and 1 <= n.velocity <= 127 for n in notes)
        assert max(n.start_s for n in notes) > 0.6 * LENGTH_S  # no long silence at the end


def test_chord_voicings_are_diatonic_triads_in_the_window():
    for degree in range(7):
        chord = chord_voicings(2, "minor", 50, 69, degree)
        assert len(chord) == 3 and chord[0] >= 50 and chord[-1] <= 69
        assert all((p - 2) % 12 in MODES["minor"] for p in chord)
        assert all(3 <= b - a <= 4 for a, b in zip(chord, chord[1:], strict=False))  # stacked thirds
    assert chord_voicings(0, "major", 60, 63, 0)  # a window narrower than the chord still gives notes


@pytest.mark.parametrize("style", DRUM_STYLES)
def test_grooves_use_kit_drums_in_time(style):
    rng = np.random.default_rng(0)
    bpm = 120.0
    notes = groove(rng, style, bpm, 90, LENGTH_S)
    pitches = {n.pitch for n in notes}
    assert KICK in pitches and (SNARE in pitches or 39 in pitches)
    assert pitches <= {36, 38, 39, 42, 46, 49, 51}
    step_s = 60 / bpm / 4
    assert all(abs(n.start_s / step_s - round(n.start_s / step_s)) < 0.1 for n in notes)  # on the sixteenth grid
    assert max(n.start_s for n in notes) > 0.8 * LENGTH_S
    assert CLOSED_HAT in pitches or style == "disco"


def test_pattern_clip_metadata_matches_its_notes():
    for seed in range(200):
        rng = np.random.default_rng(seed)
        program = list(PROGRAMS)[seed % len(PROGRAMS)] if seed % 13 else None
        clip = pattern_clip(rng, program)
        meta = clip.meta
        if program is None:
            assert meta.drums and meta.family == "drums" and meta.key is None and meta.register is None
            continue
        family, name, low, high = PROGRAMS[program]
        assert (meta.family, meta.instrument, meta.program) == (family, name, program)
        assert all(low <= n.pitch <= high for n in clip.notes)
        assert meta.register == register_of(clip.notes)
        key_pc = KEY_NAMES.index(meta.key)
        assert all((n.pitch - key_pc) % 12 in MODES[meta.mode] for n in clip.notes)
        low_v, high_v = {"soft": (20, 75), "medium": (45, 105), "loud": (75, 127)}[meta.loudness]
        assert low_v <= np.median([n.velocity for n in clip.notes]) <= high_v


def test_splits_draw_from_disjoint_seeds_families_evenly():
    train = list(plan_clips("train", 1300, 0, [], []))
    judge = list(plan_clips("judge_train", 50, 0, [], []))
    again = list(plan_clips("train", 50, 0, [], []))
    assert [c.notes for c in again] == [c.notes for c in train[:50]]
    assert all(a.notes != b.notes for a, b in zip(train, judge, strict=False))
    counts = {f: sum(c.meta.family == f for c in train) for f in FAMILIES}
    assert min(counts.values()) > 0.5 * 1300 / len(FAMILIES)


def test_estimate_key_finds_the_tonic_of_a_cadence():
    for key_pc in (0, 2, 7, 10):
        for mode in ("major", "minor"):
            notes, t = [], 0.0
            for degree in (0, 3, 4, 0, 0):
                for p in chord_voicings(key_pc, mode, 48, 67, degree):
                    notes.append(Note(p, 80, t, t + 1.0))
                t += 1.0
            notes += [Note(p, 80, t + 0.25 * i, t + 0.25 * i + 0.25) for i, p in enumerate(
                scale_pitches(key_pc, mode, 60, 72))]  # fmt: skip
            assert estimate_key(notes) == (key_pc, mode)


def test_corpus_clip_moves_an_excerpt_into_the_instrument():
    rng = np.random.default_rng(0)
    notes = [Note(60 + (i * 5) % 12, 80, 0.25 * i, 0.25 * i + 0.5) for i in range(80)]
    clip = corpus_clip(rng, 42, notes, 100.0, "test/piece.mid")
    assert clip is not None
    _, _, low, high = PROGRAMS[42]
    assert all(low <= n.pitch <= high for n in clip.notes)
    assert all(0 <= n.start_s < LENGTH_S for n in clip.notes)
    assert 80 <= clip.meta.bpm <= 125 and clip.meta.texture == "melody"
    assert corpus_clip(rng, 42, notes[:3], 100.0, "x") is None  # too few notes for a clip


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Little MIDI files standing in for the music21 corpus, with their ids spread over the splits."""
    folder = tmp_path_factory.mktemp("pieces")
    out = []
    for k in range(40):
        notes = [Note(50 + (7 * i + k) % 20, 80, 0.4 * i, 0.4 * i + 0.35) for i in range(40)]
        path = folder / f"piece{k}.mid"
        write_midi(Song(tracks=[Track("p", 0, notes=notes)]), path)
        out.append((str(path), f"test/piece{k}.mid", "other"))
    return out


def test_corpus_files_belong_to_one_split(sources):
    seen = {split: set() for split in SPLITS}
    for split in SPLITS:
        for clip in plan_clips(split, 120, 0, sources, []):
            if clip.source != "pattern":
                seen[split].add(clip.source)
                assert split_of_source(clip.source) == split
    assert all(seen.values())  # every split got excerpts


def test_bad_requests_are_one_line_exit_2(tmp_path, capsys):
    assert main(["prompt-data", "build", "--out", str(tmp_path / "o"), "--clips-train", "-1"]) == 2
    assert main(["prompt-data", "build", "--out", str(tmp_path / "o"), "--clips-train", "0", "--clips-judge", "0",
                 "--clips-heldout", "0"]) == 2  # fmt: skip
    a_file = tmp_path / "file"
    a_file.write_text("x")
    assert main(["prompt-data", "build", "--out", str(a_file), "--clips-train", "1"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 3 and all(line.startswith("composer: ") for line in err)
    assert not (tmp_path / "o").exists()


@pytest.fixture(scope="module")
def built(tmp_path_factory, sources):
    if MISSING is not None:
        pytest.skip(f"needs FluidSynth: {MISSING}")
    problem = encoder_missing()
    if problem is not None:
        pytest.skip(f"needs the text encoder: {problem}")
    out = tmp_path_factory.mktemp("prompt") / "data"
    calls = []
    counts = {"train": 14, "judge_train": 5, "heldout": 6}
    manifest = build_prompt_data(out, counts, seed=3, sources=sources, progress=lambda d, t: calls.append((d, t)))
    return out, manifest, counts, calls


@needs_fluid
def test_tiny_build_matches_the_format(built):
    out, manifest, counts, calls = built
    assert read_manifest(out) == manifest
    assert manifest["format"] == FORMAT and manifest["splits"] == counts and manifest["clip_frames"] == CLIP_FRAMES
    assert manifest["families"] == list(FAMILIES) and manifest["captions_per_clip"] == CAPTIONS_PER_CLIP
    assert manifest["mel"]["hop_samples"] * CLIP_FRAMES == CLIP_SAMPLES
    assert calls[-1] == (25, 25)
    for split in SPLITS:
        lines = [json.loads(line) for line in (out / split / "clips.jsonl").read_text().splitlines()]
        assert len(lines) == counts[split]
        data = np.load(out / split / "shard-000.npz")
        n = counts[split]
        assert data["mel"].shape == (n, 80, CLIP_FRAMES) and data["mel"].dtype == np.float16
        assert data["text_emb"].shape == (n, CAPTIONS_PER_CLIP, 384) and data["text_emb"].dtype == np.float16
        assert data["family"].dtype == np.int16
        assert ("audio" in data) == (split == "heldout")
        norms = np.linalg.norm(data["text_emb"].astype(np.float32), axis=-1)
        np.testing.assert_allclose(norms, 1.0, atol=1e-2)
        assert np.isfinite(data["mel"]).all() and (data["mel"].astype(np.float32).mean(axis=(1, 2)) > -10.0).all()
        for i, line in enumerate(lines):
            assert line["shard"] == "shard-000.npz" and line["index"] == i
            assert FAMILIES[data["family"][i]] == line["family"]
            assert len(line["captions"]) == CAPTIONS_PER_CLIP
            assert line["drums"] == (line["program"] is None)
    held = np.load(out / "heldout" / "shard-000.npz")
    assert held["audio"].shape == (counts["heldout"], CLIP_SAMPLES) and held["audio"].dtype == np.int16
    assert (np.abs(held["audio"]).max(axis=1) > 300).all()  # every clip sounds


@needs_fluid
def test_a_rebuild_replaces_the_old_build_whole(built, sources):
    out, _, _, _ = built
    (out / "stale.txt").write_text("old")
    manifest = build_prompt_data(out, {"train": 2, "judge_train": 0, "heldout": 1}, seed=4, sources=sources)
    assert not (out / "stale.txt").exists()
    assert read_manifest(out)["splits"] == manifest["splits"] == {"train": 2, "judge_train": 0, "heldout": 1}
    assert not list(out.parent.glob(".data.*"))  # no temporary folder left beside it


@needs_fluid
def test_cli_builds(tmp_path, monkeypatch, capsys):
    problem = encoder_missing()
    if problem is not None:
        pytest.skip(f"needs the text encoder: {problem}")
    monkeypatch.setattr(sys, "argv", ["composer"])
    out = tmp_path / "p"
    args = [
        "prompt-data",
        "build",
        "--out",
        str(out),
        "--clips-train",
        "2",
        "--clips-judge",
        "1",
        "--clips-heldout",
        "1",
    ]
    assert main(args) == 0
    assert read_manifest(out)["splits"] == {"train": 2, "judge_train": 1, "heldout": 1}
    assert f"wrote {out}" in capsys.readouterr().out


@needs_fluid
def test_drum_kit_renders_on_its_own_channel():
    from synth.data.fluid import DRUMS, FluidRenderer

    with FluidRenderer(24000) as fluid:
        kick = fluid.render({DRUMS: [Note(36, 110, 0.0, 0.1)]})
        late = fluid.render({DRUMS: [Note(36, 110, 0.2371, 0.3371)]})
        piano = fluid.render({0: [Note(36, 110, 0.0, 0.1)]})
        both = fluid.render({DRUMS: [Note(36, 110, 0.0, 0.1)], 0: [Note(36, 110, 0.0, 0.1)]})
    assert np.abs(kick).max() > 0.05
    n = min(len(kick), len(piano))
    assert np.abs(kick[:n] - piano[:n]).max() > 0.05  # a drum, not the piano's C2
    np.testing.assert_allclose(late[round(0.2371 * 24000) :][: len(kick)], kick, atol=1e-6)  # sample-exact
    mixed = np.zeros(max(len(kick), len(piano)), np.float32)
    mixed[: len(kick)] += kick
    mixed[: len(piano)] += piano
    np.testing.assert_allclose(both, mixed, atol=1e-6)

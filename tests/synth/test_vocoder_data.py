"""The widened vocoder build: the base shards linked, generated parts of the other families and drums added."""

from __future__ import annotations

import numpy as np
import pytest
from test_audio_data import sine_render

from composer.errors import ComposerError
from synth.data.audio_data import build_audio_data, read_manifest
from synth.data.audio_dataset import AudioDataset
from synth.data.prompt_data import PROGRAMS
from synth.data.vocoder_data import DRUM_LABEL, DRUMS, widen_audio_data


def drum_aware_render(notes_by_program):
    """sine_render, with the kit's key checked: drums come as DRUMS, never as a GM program."""
    assert all(p == DRUMS or 0 <= p <= 127 for p in notes_by_program)
    return sine_render({0: [n for ns in notes_by_program.values() for n in ns]})


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    out = tmp_path_factory.mktemp("base")
    material_only: list = []  # no corpus pieces: the generated material fills each program's minutes
    build_audio_data(out, programs=[0, 73], minutes_per_program=0.5, sources=material_only, render=sine_render)
    return out


def test_widen_links_the_base_and_adds_every_missing_family_and_drums(tmp_path, base):
    calls = []
    summary = widen_audio_data(
        base, tmp_path / "wide", pieces_per_program=1, drum_pieces=2, clips_per_piece=1, render=drum_aware_render,
        progress=lambda done, total: calls.append((done, total)),
    )  # fmt: skip
    wanted = [p for p in PROGRAMS if p not in (0, 73)] + [DRUM_LABEL]
    assert summary["added_programs"] == wanted and summary["added_pieces"] == len(wanted) + 1
    assert calls[-1] == (len(wanted) + 1, len(wanted) + 1)
    manifest = read_manifest(tmp_path / "wide")
    base_shards = read_manifest(base)["shards"]
    assert manifest["shards"][: len(base_shards)] == base_shards  # the base's, linked, not copied
    first = tmp_path / "wide" / base_shards[0]["audio"]
    assert first.stat().st_ino == (base / base_shards[0]["audio"]).stat().st_ino
    train = AudioDataset(tmp_path / "wide", "train")
    assert {p.program for p in train.pieces} == {0, 73, *wanted}
    context, target = train.vocoder_batch(np.random.default_rng(0), 4, 8, 256)
    assert context.shape[0] == target.shape[0] == 4 and np.isfinite(context.numpy()).all()
    valid = AudioDataset(tmp_path / "wide", "valid")
    assert {p.program for p in valid.pieces} <= {0, 73}  # valid and test stay the base's


def test_widen_refuses_to_write_into_its_base(base):
    with pytest.raises(ComposerError, match="must differ"):
        widen_audio_data(base, base, render=drum_aware_render)

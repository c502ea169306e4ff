"""benchmarks/prompt_quality.py's texture figures: judged with a texture judge, "not judged" without one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench_loader import load_benchmark
from judge_fixtures import FAMILIES, save_tiny_benchmark_models, write_prompt_data

from synth.prompt.prompt_audio import MODELS_ENV

CLIP_FRAMES = 160
TINY = {"channels": (4, 8, 8, 8), "feature_dim": 8}


pq = load_benchmark("prompt_quality")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return save_tiny_benchmark_models(tmp_path_factory.mktemp("models"), CLIP_FRAMES, texture=True)


def base_argv(data: Path, models: dict, tmp_path: Path) -> list[str]:
    argv = ["--data", str(data), "--clips", "6", "--steps", "2", "--batch-size", "4", "--pictures", "0"]
    return argv + ["--out", str(tmp_path / "p"), "--diffusion", str(models["diffusion"]),
                   "--vocoder", str(models["vocoder"]), "--judge", str(models["judge"])]  # fmt: skip


def test_texture_is_judged_on_every_take(tmp_path, capsys, models):
    data = write_prompt_data(tmp_path / "prompt", {"heldout": 8}, clip_frames=CLIP_FRAMES)
    assert pq.main([*base_argv(data, models, tmp_path), "--texture-judge", str(models["texture"])]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(result["texture_accuracy"]) == {"real", "vocoded", "guided", "unguided"}
    chosen = pq.pick_clips(8, 6, seed=0)
    grooves = sum(FAMILIES[i % 3] == "drums" for i in chosen)  # the fixture's drums are grooves, the rest melodies
    for name, texture in ((n, r["texture"]) for n, r in result["results"].items()):
        every = texture["all"]
        assert every["n"] == 6 and 0 <= every["texture_accuracy"] <= 1, name
        assert result["texture_accuracy"][name]["all"] == every["texture_accuracy"]
        assert sum(sum(row.values()) for row in every["confusion"].values()) == 6
        assert sum(every["confusion"].get("groove", {}).values()) == grooves
        assert texture["named"] == {"n": 0} and result["texture_accuracy"][name]["named"] is None  # no texture words
    assert result["weights"]["texture_judge_step"] == 2


def test_without_a_texture_judge_texture_is_not_judged(tmp_path, capsys, models, monkeypatch):
    data = write_prompt_data(tmp_path / "prompt", {"heldout": 8}, clip_frames=CLIP_FRAMES)
    monkeypatch.setenv(MODELS_ENV, str(tmp_path / "no-models"))  # where the default texture judge would be
    assert pq.main(base_argv(data, models, tmp_path)) == 0
    captured = capsys.readouterr()
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert result["texture_accuracy"].startswith("not judged") and "texture_judge" in result["texture_accuracy"]
    assert "texture" not in result["results"]["guided"] and result["weights"]["texture_judge_step"] is None
    assert "texture not judged" in captured.err


def test_a_family_judge_is_refused_as_the_texture_judge(tmp_path, capsys, models):
    data = write_prompt_data(tmp_path / "prompt", {"heldout": 4}, clip_frames=CLIP_FRAMES)
    argv = base_argv(data, models, tmp_path)
    assert pq.main([*argv, "--texture-judge", str(models["judge"])]) == 2
    assert "expected a texture judge" in capsys.readouterr().err
    assert pq.main([*argv, "--texture-judge", str(tmp_path / "missing.safetensors")]) == 2


def test_texture_words_of_captions():
    assert pq.names_texture("soft cello melody at 72 BPM", "melody") and pq.names_texture("a bassline", "melody")
    assert pq.names_texture("organ chords, quick", "chords") and pq.names_texture("piano broken chords", "arpeggio")
    assert not pq.names_texture("piano broken chords", "chords") and not pq.names_texture("solo organ in E", "chords")
    assert pq.names_texture("91 BPM funk drum pattern", "groove") and not pq.names_texture(
        "90 beats per minute", "groove"
    )

"""`composer train judge --target texture`: trains, saves and loads with its classes; the family judge is as before."""

from __future__ import annotations

import json

import numpy as np
import pytest
from judge_fixtures import FAMILIES, write_prompt_data

from composer.errors import ComposerError
from composer.model.checkpoint import read_metadata
from synth.prompt.judge import DEFAULT_JUDGE_PATH, Judge, JudgeConfig, load_judge, save_judge
from synth.train.judge_eval import TEXTURES, accuracy_report, class_labels, read_split, texture_labels
from tui.cli import main

TINY = ["--channels", "4,8,8,8", "--feature-dim", "8", "--batch-size", "8", "--crop-frames", "128"]


def test_texture_target_trains_saves_and_loads_with_its_classes(tmp_path, capsys):
    # Judge clips in one build, the heldout split in another (other seed), as the shipped texture judge's are.
    data = write_prompt_data(tmp_path / "judge", {"judge_train": 30}, seed=1)
    heldout = write_prompt_data(tmp_path / "prompt", {"heldout": 9}, seed=2)
    out, export = tmp_path / "run", tmp_path / "models" / "texture_judge" / "model.safetensors"
    argv = ["train", "judge", "--target", "texture", "--data", str(data), "--heldout-data", str(heldout)]
    argv += ["--out", str(out), "--steps", "60", "--eval-every", "20", "--warmup-steps", "5", "--lr", "3e-3"]
    assert main([*argv, *TINY, "--threads", "1", "--export", str(export)]) == 0
    lines = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    start, end = lines[0], lines[-1]
    assert start["target"] == "texture" and start["model"]["families"] == list(TEXTURES)
    assert end["target"] == "texture" and end["heldout"]["n"] == 9
    # The fixture's drums are grooves and its bass and pipe melodies: noise bursts against tones.
    assert end["heldout"]["texture_accuracy"] >= 0.8 and set(end["heldout"]["per_texture"]) == {"melody", "groove"}
    confusion = end["heldout"]["confusion"]
    assert sum(sum(row.values()) for row in confusion.values()) == 9 and sum(confusion["groove"].values()) == 3
    assert "family_accuracy" not in end["heldout"] and "drums_vs_pitched_accuracy" not in end["heldout"]
    judge, extra = load_judge(export, target="texture")
    assert judge.cfg.target == "texture" and judge.cfg.classes == TEXTURES and judge.cfg.channels == (4, 8, 8, 8)
    assert extra["heldout"] == end["heldout"]
    assert json.loads(read_metadata(export)["config"])["target"] == "texture"
    with pytest.raises(ComposerError, match="a texture judge, expected a family judge"):
        load_judge(export, target="family")
    card = (export.parent / "README.md").read_text()
    assert card.startswith("# texture_judge") and "--target texture" in card and f"--heldout-data {heldout}" in card
    assert f"texture accuracy: {end['heldout']['texture_accuracy']}" in card and "confusion" in card
    assert "held-out (9 clips) texture accuracy" in capsys.readouterr().out


def test_a_family_judge_loads_as_before(tmp_path):
    judge = Judge(JudgeConfig(families=FAMILIES, channels=(4, 8, 8, 8), feature_dim=8))
    path = tmp_path / "judge.safetensors"
    save_judge(judge, path, extra={"step": 1})
    for target in (None, "family"):
        loaded, extra = load_judge(path, target=target)
        assert loaded.cfg.target == "family" and loaded.cfg.families == FAMILIES and extra == {"step": 1}
    with pytest.raises(ComposerError, match="a family judge, expected a texture judge"):
        load_judge(path, target="texture")
    with pytest.raises(ValueError, match="target"):
        JudgeConfig(families=FAMILIES, target="timbre")


@pytest.mark.skipif(not DEFAULT_JUDGE_PATH.is_file(), reason="no shipped family judge")
def test_the_shipped_family_judge_has_no_target_field_and_loads_as_a_family_judge():
    assert "target" not in json.loads(read_metadata(DEFAULT_JUDGE_PATH)["config"])  # written before there were targets
    judge, extra = load_judge(DEFAULT_JUDGE_PATH, target="family")
    assert judge.cfg.target == "family" and len(judge.cfg.families) == 13 and judge.cfg.families[-1] == "drums"
    assert judge.cfg.feature_dim == 128 and "family_accuracy" in extra["heldout"]


def test_texture_labels_come_from_clips_jsonl(tmp_path):
    data = write_prompt_data(tmp_path / "prompt", {"heldout": 6})
    split = read_split(data, "heldout", ("mel", "family"))
    labels = class_labels(split, "texture", TEXTURES)
    expected = [TEXTURES.index("groove" if FAMILIES[f] == "drums" else "melody") for f in split.arrays["family"]]
    assert labels.tolist() == expected
    assert (class_labels(split, "family", FAMILIES) == split.arrays["family"]).all()
    with pytest.raises(ComposerError, match="texture"):
        texture_labels([{"texture": "drone"}])


def test_texture_accuracy_report_and_confusion():
    labels = np.array([0, 0, 2, 2, 3])
    predicted = np.array([0, 2, 2, 2, 1])
    report = accuracy_report(predicted, labels, TEXTURES, target="texture", confusion=True)
    assert report["texture_accuracy"] == 0.6 and report["per_texture"] == {"melody": 0.5, "chords": 1.0, "groove": 0.0}
    assert report["balanced_texture_accuracy"] == 0.5
    assert report["confusion"]["melody"] == {"melody": 1, "arpeggio": 0, "chords": 1, "groove": 0}
    assert report["confusion"]["groove"]["arpeggio"] == 1 and "arpeggio" not in report["confusion"]

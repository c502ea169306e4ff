"""The `composer train <kind>` options: one shared block whose defaults are the trainers'; the export keeps a card."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

import pytest

from composer.train.train import TrainConfig
from synth.train.train_audio import AudioTrainConfig
from synth.train.train_diffusion import DiffusionTrainConfig
from synth.train.train_judge import JudgeTrainConfig
from tui.cli import build_parser
from tui.train_options import command_line, export_best, run_config

CONFIGS = {
    "transformer": TrainConfig,
    "vocoder": AudioTrainConfig,
    "renderer": AudioTrainConfig,
    "diffusion": DiffusionTrainConfig,
    "judge": JudgeTrainConfig,
}


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_every_kind_has_the_run_options_with_the_trainers_defaults(kind):
    args = build_parser().parse_args(["train", kind])
    config = CONFIGS[kind](**run_config(args))
    defaults = {f.name: f.default for f in fields(CONFIGS[kind])}
    for name in ("data_dir", "steps", "max_minutes", "batch_size", "lr", "warmup_steps", "eval_every", "seed"):
        assert getattr(config, name) == defaults[name], name
    if kind != "renderer":  # the renderer's runs go to runs/renderer; AudioTrainConfig's default is the vocoder's
        assert config.out_dir == defaults["out_dir"]
    assert args.device == "auto" == config.device and args.resume is False and args.export is None


def test_device_is_a_choice(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "judge", "--device", "tpu"])
    assert "--device" in capsys.readouterr().err


def export_args(tmp_path: Path) -> argparse.Namespace:
    out = tmp_path / "run"
    out.mkdir()
    (out / "log.jsonl").write_text('{"step": 1}\n')
    return argparse.Namespace(out=str(out), export=tmp_path / "models" / "toy" / "model.safetensors")


def test_export_writes_weights_log_and_a_card_where_there_is_none(tmp_path, capsys):
    args = export_args(tmp_path)
    export_best(args, lambda path: path.write_bytes(b"weights"), card=lambda: "# toy\n")
    folder = args.export.parent
    assert args.export.read_bytes() == b"weights" and (folder / "README.md").read_text() == "# toy\n"
    assert (folder / "train_log.jsonl").read_text() == '{"step": 1}\n'
    assert "exported" in capsys.readouterr().out


def test_export_leaves_a_card_alone(tmp_path, capsys):
    args = export_args(tmp_path)
    folder = args.export.parent
    folder.mkdir(parents=True)
    (folder / "README.md").write_text("hand-written\n")
    export_best(args, lambda path: path.write_bytes(b"weights"), card=lambda: "generated\n")
    assert (folder / "README.md").read_text() == "hand-written\n" and args.export.read_bytes() == b"weights"
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "left as it is" in printed[0]
    assert sorted(p.name for p in folder.iterdir()) == ["README.md", "model.safetensors", "train_log.jsonl"]


def test_command_line_reproduces_the_run():
    args = build_parser().parse_args(["train", "vocoder", "--steps", "4", "--resume", "--export", "m/v.safetensors"])
    line = command_line(args)
    assert line.startswith("composer train vocoder ") and "--steps 4" in line and "--export m/v.safetensors" in line
    assert "--resume" not in line and "--device auto" in line


@pytest.mark.parametrize(
    ("extra", "flag", "why"),
    [
        (["--style-alpha", "1.5"], "--style-alpha", "must be in [0, 1]"),
        (["--init", "no/such/model.safetensors"], "no/such/model.safetensors", ""),
    ],
)
def test_transformer_fine_tune_options_refuse_bad_values_in_one_line(tmp_path, extra, flag, why):
    from composer.errors import ComposerError

    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "train.npy").write_bytes(b"")  # refused before the data is read
    args = build_parser().parse_args(
        ["train", "transformer", "--data", str(tmp_path / "data"), "--out", str(tmp_path / "run"), *extra]
    )
    with pytest.raises(ComposerError) as caught:
        args.run(args)
    assert flag in str(caught.value) and why in str(caught.value)
    assert not (tmp_path / "run").exists()  # refused before any work

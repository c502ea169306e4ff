"""`composer train vocoder|renderer`: a few steps on a tiny synthetic audio-data build."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from neural_fixtures import write_dataset

from synth.data.audio_dataset import AudioDataset
from synth.instruments.neural.mel import LogMel
from synth.instruments.neural.neural_checkpoint import load_neural
from synth.instruments.neural.renderer import Renderer
from synth.instruments.neural.vocoder import Vocoder
from tui.cli import main

TINY = ["--channels", "16", "--hidden", "32", "--blocks", "1", "--batch-size", "2", "--segment-frames", "8"]


@pytest.mark.parametrize("kind,model_cls", [("vocoder", Vocoder), ("renderer", Renderer)])
def test_a_few_steps_log_checkpoint_and_export(tmp_path, capsys, kind, model_cls):
    data = write_dataset(tmp_path / "audio")
    out, export = tmp_path / "run", tmp_path / "models" / kind / "model.safetensors"
    argv = ["train", kind, "--data", str(data), "--out", str(out), "--steps", "4", "--eval-every", "2", *TINY]
    assert main([*argv, "--warmup-steps", "2", "--export", str(export)]) == 0
    lines = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    assert lines[0]["event"] == "start" and lines[0]["valid_is_train"] is False
    assert [e["step"] for e in lines if "valid_loss" in e] == [2, 4]
    assert all(np.isfinite(e["loss"]) for e in lines if "loss" in e)
    assert lines[-1]["event"] == "end" and lines[-1]["step"] == 4
    model, extra = load_neural(export, kind)
    assert isinstance(model, model_cls) and model.cfg.channels == 16 and extra["step"] in (2, 4)
    assert (export.parent / "train_log.jsonl").exists()
    card = (export.parent / "README.md").read_text()
    assert f"composer train {kind} " in card and "--steps 4" in card and "best validation loss" in card
    assert "exported" in capsys.readouterr().out
    # Resume carries on from the last checkpoint (windows drawn by a worker process this time); the export
    # replaces the weights and leaves the model card there (here the one written above, edited) as it is.
    (export.parent / "README.md").write_text("# hand-written\n")
    assert main([*argv, "--steps", "6", "--resume", "--workers", "1", "--export", str(export)]) == 0
    ends = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines() if '"end"' in line]
    assert ends[-1]["step"] == 6
    assert (export.parent / "README.md").read_text() == "# hand-written\n"
    assert "left as it is" in capsys.readouterr().out
    assert load_neural(export, kind)[1]["step"] in (4, 6)


def test_windows_match_the_whole_piece(tmp_path):
    data = AudioDataset(write_dataset(tmp_path / "audio"), "train")
    rng = np.random.default_rng(1)
    batch = data.renderer_batch(rng, 3, 16)
    assert batch["pitch"].shape == (3, 16, 16) and batch["log_mel"].shape == (3, 80, 16)
    # A window's causal log-mel equals the same frames of the whole piece's.
    piece = data.pieces[0]
    whole = LogMel()(torch.from_numpy(np.asarray(piece.audio, np.float32))[None])[0]
    context = torch.from_numpy(data._context(piece, 20, 16))[None]
    window = LogMel()(context)[0, :, 3:19]
    torch.testing.assert_close(window, whole[:, 20:36], atol=1e-4, rtol=1e-4)
    context, target = data.vocoder_batch(rng, 2, 8, latency_samples=256)
    assert context.shape == (2, 8 * 256 + 768) and target.shape == (2, 8 * 256)


def test_bad_data_folder_is_one_line(tmp_path, capsys):
    assert main(["train", "vocoder", "--data", str(tmp_path), "--steps", "1"]) == 2
    assert "manifest.json" in capsys.readouterr().err


def test_the_onset_weight_counts_the_attacks_more():
    from synth.instruments.neural.note_features import features_from_notes
    from synth.train.train_audio import onset_frames, renderer_loss

    pitch, notes, track = features_from_notes([(60, 100, 0.0, 1.0)], 40, 16, 24000, 256)  # frames of 10.7 ms
    onset = onset_frames(torch.from_numpy(notes)[None])[0]
    assert onset[:9].all() and not onset[10:].any()  # the note's first 0.1 s

    class Fixed(torch.nn.Module):  # "predicts" an error of 1 on the attack frames, 0 elsewhere
        def forward(self, pitch, notes, track, program):
            return onset_frames(notes).float()[:, None, :].expand(-1, 80, -1)

    batch = {"pitch": torch.from_numpy(pitch)[None], "notes": torch.from_numpy(notes)[None],
             "track": torch.from_numpy(track)[None], "program": torch.zeros(1, dtype=torch.long),
             "log_mel": torch.zeros(1, 80, 40)}  # fmt: skip
    share = onset.float().mean().item()
    assert renderer_loss(Fixed(), batch) == pytest.approx(share)
    assert renderer_loss(Fixed(), batch, onset_weight=3.0) == pytest.approx(4 * share / (1 + 3 * share))


def test_a_bad_onset_weight_exits_2(tmp_path, capsys):
    data = write_dataset(tmp_path / "audio")
    assert main(["train", "renderer", "--data", str(data), "--onset-weight", "-1", *TINY]) == 2
    err = capsys.readouterr().err
    assert "--onset-weight" in err and len(err.strip().splitlines()) == 1

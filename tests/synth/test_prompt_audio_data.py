"""`composer audio-data from-prompt`: the prompt data's clips as a vocoder-only build, and fine-tuning from it.

The prompt data is a real tiny build (FluidSynth and the text encoder; skipped, with the reason, where either
is missing) with every split's audio kept; the vocoder trains on the result from a model file (`--init`).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from composer.errors import ComposerError
from composer.files.midi_io import write_midi
from composer.song import Note, Song, Track
from synth.data.audio_dataset import AudioDataset
from synth.data.fluid import fluidsynth_available
from synth.data.prompt_audio_data import INT16_FULL_SCALE, audio_data_from_prompt
from synth.data.prompt_data import build_prompt_data
from synth.instruments.neural.neural_checkpoint import load_neural, save_neural
from synth.instruments.neural.vocoder import Vocoder, VocoderConfig
from synth.train.judge_eval import read_split
from tui.cli import main

MISSING = fluidsynth_available()
TINY = ["--batch-size", "2", "--segment-frames", "8", "--warmup-steps", "1"]


@pytest.fixture(scope="module")
def prompt_data(tmp_path_factory):
    if MISSING is not None:
        pytest.skip(f"needs FluidSynth: {MISSING}")
    try:
        from synth.prompt.text_encoder import TextEncoder

        TextEncoder().encode(["a test"])
    except Exception as exc:  # the packaged weights or the module may be absent
        pytest.skip(f"needs the text encoder: {type(exc).__name__}: {exc}")
    folder = tmp_path_factory.mktemp("pieces")
    sources = []
    for k in range(12):
        notes = [Note(50 + (7 * i + k) % 20, 80, 0.4 * i, 0.4 * i + 0.35) for i in range(20)]
        write_midi(Song(tracks=[Track("p", 0, notes=notes)]), folder / f"piece{k}.mid")
        sources.append((str(folder / f"piece{k}.mid"), f"test/piece{k}.mid", "other"))
    out = tmp_path_factory.mktemp("prompt") / "data"
    build_prompt_data(out, {"train": 8, "judge_train": 0, "heldout": 1}, seed=2, sources=sources, keep_audio=True)
    return out


def test_the_clips_become_train_and_valid_pieces_for_the_vocoder_only(prompt_data, tmp_path):
    summary = audio_data_from_prompt(prompt_data, tmp_path / "audio", valid_clips=2, seed=1)
    assert summary["clips"] == {"train": 6, "valid": 2} and summary["vocoder_only"] is True
    train, valid = AudioDataset(tmp_path / "audio", "train"), AudioDataset(tmp_path / "audio", "valid")
    assert len(train) == 6 and len(valid) == 2 and train.vocoder_only
    clips = read_split(prompt_data, "train", keys=("audio",)).arrays["audio"]
    # every clip lands once, sample for sample (float16 of int16 / 32768)
    got = sorted(np.asarray(p.audio, np.float32).tobytes() for p in train.pieces + valid.pieces)
    want = sorted(
        (c.astype(np.float32) / INT16_FULL_SCALE).astype(np.float16).astype(np.float32).tobytes() for c in clips
    )
    assert got == want
    context, target = train.vocoder_batch(np.random.default_rng(0), 3, 8, 256)
    assert context.shape[0] == target.shape[0] == 3 and target.abs().max() > 0
    lines = [json.loads(line) for line in (tmp_path / "audio" / "pieces.jsonl").read_text().splitlines()]
    assert len(lines) == 8 and all(line["n_notes"] == 0 for line in lines)


def test_the_renderer_refuses_a_build_without_notes(prompt_data, tmp_path, capsys):
    audio_data_from_prompt(prompt_data, tmp_path / "audio", valid_clips=2)
    argv = ["train", "renderer", "--data", str(tmp_path / "audio"), "--out", str(tmp_path / "run"), "--steps", "1"]
    assert main([*argv, "--channels", "16", "--hidden", "32", "--blocks", "1", *TINY]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "vocoder-only" in err[0]


def test_the_vocoder_fine_tunes_from_a_model_file(prompt_data, tmp_path, capsys):
    audio_data_from_prompt(prompt_data, tmp_path / "audio", valid_clips=2)
    torch.manual_seed(0)
    start = Vocoder(VocoderConfig(channels=16, hidden=32, n_blocks=1))
    save_neural(start, tmp_path / "start.safetensors")
    out, export = tmp_path / "run", tmp_path / "tuned.safetensors"
    argv = ["train", "vocoder", "--data", str(tmp_path / "audio"), "--out", str(out), "--eval-every", "1", *TINY]
    # the size options are the model file's: 64 channels asked, 16 trained
    assert main([*argv, "--steps", "2", "--channels", "64", "--init", str(tmp_path / "start.safetensors"),
                 "--lr", "1e-9", "--export", str(export)]) == 0  # fmt: skip
    tuned, _ = load_neural(export, "vocoder")
    assert tuned.cfg.channels == 16
    for name, value in start.state_dict().items():  # a learning rate of 1e-9 leaves the start's weights in place
        torch.testing.assert_close(tuned.state_dict()[name], value, atol=1e-6, rtol=0)
    capsys.readouterr()
    assert main([*argv, "--steps", "1", "--init", str(tmp_path / "missing.safetensors")]) == 2
    assert "no model file here (--init)" in capsys.readouterr().err


def test_a_prompt_build_without_train_audio_is_one_line(prompt_data, tmp_path, capsys):
    plain = tmp_path / "plain"
    build_prompt_data(plain, {"train": 2, "judge_train": 0, "heldout": 1}, seed=5, sources=[])
    assert main(["audio-data", "from-prompt", "--prompt", str(plain), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("composer: ") and "audio" in err[0]
    with pytest.raises(ComposerError):
        audio_data_from_prompt(plain, plain)

"""Hostile or damaged safetensors files: one ComposerError naming the file, never a traceback or a memory blow-up."""

from __future__ import annotations

import json
import resource
import time

import pytest
import torch
from safetensors.torch import load_file, save_file

from composer.errors import ComposerError
from composer.model.checkpoint import load_tensors, load_transformer, save_transformer
from composer.model.model import MusicTransformer, TransformerConfig

CFG = TransformerConfig(n_layer=1, n_head=2, d_model=32, d_ff=64, max_len=64)


@pytest.fixture
def weights(tmp_path):
    path = tmp_path / "model.safetensors"
    torch.manual_seed(0)
    save_transformer(MusicTransformer(CFG).eval(), path)
    return path


def _rewrite(path, config=None, extra=None, tensors=None):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        meta = f.metadata()
    state = load_file(str(path))
    if config is not None:
        meta["config"] = json.dumps({**json.loads(meta["config"]), **config})
    if extra is not None:
        meta["extra"] = extra
    save_file({**state, **(tensors or {})}, str(path), metadata=meta)


def _refused(path, words: str) -> None:
    with pytest.raises(ComposerError, match=words) as info:
        load_transformer(path)
    assert info.value.path == str(path) and "\n" not in str(info.value)


def test_a_config_with_absurd_sizes_is_refused_before_it_allocates(weights):
    _rewrite(weights, config={"d_model": 2**20 - 4, "d_ff": 2**20, "vocab_size": 2**20, "max_len": 2**20})
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    _refused(weights, "makes a model of more than")
    assert time.monotonic() - started < 10
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before) / 1024
    assert grown_mb < 500  # not the terabytes the config asks for


@pytest.mark.parametrize(
    ("config", "words"),
    [
        ({"n_head": 0}, "bad music-transformer config"),  # ZeroDivisionError in the config's own check
        ({"d_model": 2.5}, "not a whole number"),
        ({"n_layer": True}, "not a whole number"),
        ({"max_len": -3}, "not a whole number"),
        ({"vocab_size": 10**7}, "not a whole number"),
        ({"dropout": "lots"}, "not a number"),
        ({"relative": 1}, "not true or false"),
    ],
)
def test_config_values_of_the_wrong_kind_are_one_line(weights, config, words):
    _rewrite(weights, config=config)
    _refused(weights, words)


def test_extra_must_be_an_object(weights):
    _rewrite(weights, extra="[1, 2]")
    _refused(weights, "extra is list")


@pytest.mark.parametrize(
    ("value", "words"),
    [(float("nan"), "not numbers"), (float("inf"), "not numbers"), (3e38, "corrupt weights")],
)
def test_weights_that_are_not_numbers_or_absurd_are_refused(weights, value, words):
    state = load_file(str(weights))
    name = "tok_emb.weight"
    bad = state[name].clone()
    bad[0, 0] = value
    _rewrite(weights, tensors={name: bad})
    _refused(weights, words)


def test_a_float_weight_stored_as_integers_is_refused(weights):
    state = load_file(str(weights))
    _rewrite(weights, tensors={"tok_emb.weight": state["tok_emb.weight"].to(torch.int32)})
    _refused(weights, "stored as I32")


def test_truncated_files_and_load_tensors_name_the_file(weights):
    data = weights.read_bytes()
    for cut in (0, 5, 9, len(data) // 2):
        weights.write_bytes(data[:cut])
        _refused(weights, "not a safetensors model file")
        with pytest.raises(ComposerError, match="not a safetensors model file"):
            load_tensors(weights, "opt.")


def test_a_directory_is_refused(tmp_path):
    (tmp_path / "model.safetensors").mkdir()
    _refused(tmp_path / "model.safetensors", "is a directory")


def test_good_weights_still_load(weights):
    model, extra = load_transformer(weights)
    assert isinstance(model, MusicTransformer) and extra == {}

"""Captions from clip metadata: varied, true to the metadata, deterministic, held-out phrasings disjoint."""

from __future__ import annotations

import re

import numpy as np
import pytest

from synth.data.captions import (
    FAST_FROM_BPM,
    HELD_OUT_TEMPLATES,
    KEY_NAMES,
    SLOW_BELOW_BPM,
    TRAIN_TEMPLATES,
    ClipMeta,
    captions,
    tempo_word,
    usable_templates,
)

CELLO = ClipMeta(42, "strings", "cello", 70.0, "D", "minor", "low", "soft", "melody")
ORGAN = ClipMeta(16, "organ", "organ", 128.0, "Eb", "major", "middle", "loud", "chords")
DRUMS = ClipMeta(None, "drums", "drums", 140.0, None, None, None, "medium", "groove", "funk")


def random_metas(n: int, seed: int = 0) -> list[ClipMeta]:
    rng = np.random.default_rng(seed)
    names = [(0, "piano", "piano"), (42, "strings", "cello"), (73, "pipe", "flute"), (33, "bass", "electric bass")]

    def draw(options: list[str]) -> str:
        return options[int(rng.integers(len(options)))]

    out = []
    for _ in range(n):
        bpm = float(rng.integers(56, 160))
        loudness = draw(["soft", "medium", "loud"])
        if rng.random() < 0.2:
            style = draw(["rock", "funk"])
            out.append(ClipMeta(None, "drums", "drums", bpm, None, None, None, loudness, "groove", style))
            continue
        program, family, name = names[int(rng.integers(len(names)))]
        key, mode, register = draw(list(KEY_NAMES)), draw(["major", "minor"]), draw(["low", "middle", "high"])
        texture = draw(["melody", "chords", "arpeggio"])
        out.append(ClipMeta(program, family, name, bpm, key, mode, register, loudness, texture))
    return out


def test_template_sets_are_disjoint_and_drums_have_enough():
    assert not set(TRAIN_TEMPLATES) & set(HELD_OUT_TEMPLATES)
    for held_out in (False, True):
        assert len(usable_templates(DRUMS, held_out)) >= 4  # K = 4 different phrasings for a drum clip too


def test_same_rng_same_captions_and_k_different_phrasings():
    a = captions(CELLO, np.random.default_rng(5), k=4)
    b = captions(CELLO, np.random.default_rng(5), k=4)
    assert a == b and len(a) == 4
    assert len(set(a)) == 4
    assert captions(CELLO, np.random.default_rng(6), k=4) != a


@pytest.mark.parametrize("held_out", [False, True])
def test_captions_say_what_the_clip_is(held_out):
    rng = np.random.default_rng(0)
    for meta in random_metas(300):
        for text in captions(meta, rng, k=4, held_out=held_out):
            assert "None" not in text and "{" not in text and "  " not in text
            assert not re.search(r"\ba [aeiou]", text), text
            who = "drum" if meta.drums else meta.instrument
            assert who in text or meta.family in text, (text, meta)
            if meta.key is not None and meta.key in text.split():
                assert f"{meta.key} {meta.mode}" in text
            if meta.drums:
                assert not any(f" {k} major" in text or f" {k} minor" in text for k in KEY_NAMES)
            words = set(re.findall(r"[a-z-]+", text))
            if words & {"slow", "unhurried", "slow-paced"}:
                assert meta.bpm < SLOW_BELOW_BPM
            if words & {"fast", "quick", "up-tempo"}:
                assert meta.bpm >= FAST_FROM_BPM
            if "soft" in words or "quiet" in words:
                assert meta.loudness == "soft"
            numbers = re.findall(r"\b(\d+) (?:BPM|bpm|beats)", text)
            assert all(int(n) == round(meta.bpm) for n in numbers)


def test_examples_read_like_prompts():
    rng = np.random.default_rng(1)
    seen = {c for _ in range(200) for c in captions(CELLO, rng, k=4)}
    assert "slow cello melody in D minor" in seen
    assert "cello melody" in seen
    organ = {c for _ in range(200) for c in captions(ORGAN, rng, k=4)}
    assert any(c.startswith("a loud organ playing chords, 128 BPM") for c in organ)
    drums = {c for _ in range(200) for c in captions(DRUMS, rng, k=4)}
    assert "fast drum groove" in drums


def test_captions_vary_across_clips():
    rng = np.random.default_rng(2)
    texts = [c for meta in random_metas(500, seed=3) for c in captions(meta, rng, k=4)]
    assert len(set(texts)) > 0.8 * len(texts)
    short = [t for t in texts if len(t.split()) <= 3]
    long = [t for t in texts if len(t.split()) >= 8]
    assert len(short) > 0.05 * len(texts) and len(long) > 0.1 * len(texts)


def test_held_out_captions_never_appear_in_training_captions():
    metas = random_metas(400, seed=4)
    rng = np.random.default_rng(0)
    train = {c for meta in metas for _ in range(5) for c in captions(meta, rng, k=4)}
    held = {c for meta in metas for _ in range(5) for c in captions(meta, rng, k=4, held_out=True)}
    assert len(held) > 1000
    assert not train & held


def test_tempo_words():
    assert tempo_word(60) == "slow" and tempo_word(100) == "moderate" and tempo_word(140) == "fast"
    assert tempo_word(SLOW_BELOW_BPM) == "moderate" and tempo_word(FAST_FROM_BPM) == "fast"

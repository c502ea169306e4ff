"""The prompt text encoder: our BERT forward on the packaged MiniLM weights equals sentence-transformers."""

from __future__ import annotations

import numpy as np
import pytest

from composer.errors import ComposerError
from synth.prompt.text_encoder import TEXT_DIM, TextEncoder

PROMPTS = [
    "slow cello melody in D minor",
    "fast drum groove",
    "soft organ chords at 70 BPM, a longer sentence so that the batch needs padding",
]


@pytest.fixture(scope="module")
def encoder() -> TextEncoder:
    return TextEncoder()


def test_unit_vectors_of_the_right_width(encoder: TextEncoder) -> None:
    emb = encoder.encode(PROMPTS)
    assert emb.shape == (3, TEXT_DIM) and emb.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_batching_and_padding_do_not_change_an_embedding(encoder: TextEncoder) -> None:
    together = encoder.encode(PROMPTS, batch_size=3)
    alone = np.concatenate([encoder.encode([p]) for p in PROMPTS])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_paraphrases_are_closer_than_other_instruments(encoder: TextEncoder) -> None:
    cello, cello_again, drums = encoder.encode(["slow cello melody", "a slow melody on the cello", "fast drum groove"])
    assert cello @ cello_again > cello @ drums + 0.1


@pytest.mark.slow
def test_same_numbers_as_sentence_transformers(encoder: TextEncoder) -> None:
    st = pytest.importorskip("sentence_transformers")
    from synth.prompt.text_encoder import model_dir

    reference = st.SentenceTransformer(str(model_dir()), device="cpu").encode(PROMPTS, normalize_embeddings=True)
    np.testing.assert_allclose(encoder.encode(PROMPTS), reference, atol=1e-5)


def test_a_missing_model_folder_is_one_clear_error(tmp_path) -> None:
    with pytest.raises(ComposerError, match="cannot load the text encoder"):
        TextEncoder(tmp_path).encode(["anything"])

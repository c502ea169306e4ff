"""Infilling examples (composer.train.fim), the FUTURE token in older model files, and infill reading the future."""

import numpy as np
import pytest
import torch

from composer.model.checkpoint import load_transformer, save_model
from composer.model.infill import infill
from composer.model.model import MusicTransformer, TransformerConfig
from composer.model.sample import SampleOptions, token_mask
from composer.song import Note
from composer.tokens import (
    BOS,
    FUTURE,
    TIME_SHIFT_OFFSET,
    VELOCITY_OFFSET,
    VOCAB_SIZE,
    describe,
    encode,
    note_off,
    note_on,
    time_shift,
    velocity_to_bin,
)
from composer.train.fim import fim_example, instants, without_orphan_offs


def melody(n: int = 40, step_s: float = 0.25) -> list[Note]:
    return [Note(60 + (i * 5) % 12, 80, i * step_s, i * step_s + 0.2) for i in range(n)]


def steps_of(ids) -> int:
    return sum(t - TIME_SHIFT_OFFSET + 1 for t in ids if TIME_SHIFT_OFFSET <= t < VELOCITY_OFFSET)


def test_future_is_a_token_of_its_own_that_is_never_sampled():
    assert FUTURE == VOCAB_SIZE - 1 and describe(FUTURE) == "FUTURE"
    assert not token_mask(None)[FUTURE]


def test_orphan_offs_are_dropped_from_what_follows():
    ids = [note_off(60), note_on(62), time_shift(10), note_off(62), note_off(64)]
    assert without_orphan_offs(ids) == [note_on(62), time_shift(10), note_off(62)]


def test_instants_and_their_times():
    ids = np.array([note_on(60), time_shift(10), note_off(60), note_on(62), time_shift(5), time_shift(5), note_on(64)])
    index, steps = instants(ids)
    assert index.tolist() == [0, 2, 6] and steps.tolist() == [0, 10, 20]


def test_an_example_is_future_then_the_stream_with_the_gap_last():
    window = np.array(encode(melody()), dtype=np.int64)
    rng = np.random.default_rng(0)
    made = 0
    for _ in range(50):
        example = fim_example(window, rng, room=200)
        if example is None:
            continue
        made += 1
        ids = example.tolist()
        assert ids[0] == FUTURE and len(ids) <= 200
        bos = ids.index(BOS)
        shifts = []
        for t in ids[1:bos]:
            if not TIME_SHIFT_OFFSET <= t < VELOCITY_OFFSET:
                break
            shifts.append(t)
        gap_steps = steps_of(shifts)
        assert 50 <= gap_steps <= 800
        stream = ids[bos + 1 :]  # before the gap, then the gap: a contiguous stretch of the window
        text = ",".join(map(str, window.tolist()))
        assert ",".join(map(str, stream)) in text
        following = ids[1 + len(shifts) : bos]
        assert ",".join(map(str, following[:8])) in text  # what follows is the window's own tokens
    assert made > 25


def test_a_window_too_short_for_a_gap_gives_none():
    window = np.array(encode(melody(3)), dtype=np.int64)
    assert all(fim_example(window, np.random.default_rng(s), room=200) is None for s in range(10))


def test_a_file_from_before_the_future_token_loads_with_a_zero_row(tmp_path):
    torch.manual_seed(0)
    old = MusicTransformer(TransformerConfig(vocab_size=VOCAB_SIZE - 1, max_len=32, n_layer=1, n_head=2, d_model=16))
    path = tmp_path / "old.safetensors"
    save_model(old, path, "music-transformer", skip=("head.weight",))
    model, _ = load_transformer(path)
    assert model.cfg.vocab_size == VOCAB_SIZE and not model.cfg.fim
    assert model.head.weight is model.tok_emb.weight and float(model.tok_emb.weight[FUTURE].detach().abs().sum()) == 0
    ids = torch.tensor([[note_on(60), time_shift(10), note_off(60)]])
    with torch.no_grad():
        assert torch.allclose(model(ids)[0][..., : VOCAB_SIZE - 1], old.eval()(ids)[0], atol=1e-6)


class Spy(MusicTransformer):
    """Remembers every sequence it is run on."""

    def __init__(self, cfg):
        super().__init__(cfg)
        self.seen: list[list[int]] = []

    def forward(self, ids, cache=None):
        self.seen.append(ids[0].tolist())
        return super().forward(ids, cache)


@pytest.mark.parametrize("fim", [False, True])
def test_infill_reads_what_follows_only_with_a_model_trained_for_it(fim):
    torch.manual_seed(0)
    model = Spy(TransformerConfig(max_len=256, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0, fim=fim)).eval()
    notes = melody(40)
    result = infill(model, notes, 3.0, 5.0, SampleOptions(seed=1), candidates=2)
    assert all(3.0 <= n.start_s < 5.0 for n in result.notes)
    primed = [ids for ids in model.seen if len(ids) > 1]
    assert any(FUTURE in ids for ids in primed) == fim
    if fim:
        first = next(ids for ids in primed if FUTURE in ids)
        assert first[1] == FUTURE and first[2:4] == [time_shift(100)] * 2  # the gap's 2 s
        assert first[4:6] == [VELOCITY_OFFSET + velocity_to_bin(80), note_on(64)]  # then the note at 5.0 s

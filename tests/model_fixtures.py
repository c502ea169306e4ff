"""A transformer whose next-token logits are fixed whatever it reads: tests steer sampling exactly with it."""

from __future__ import annotations

import torch

from composer.model.checkpoint import save_transformer
from composer.model.model import MusicTransformer, TransformerConfig
from composer.tokens import NOTE_OFF_OFFSET, NOTE_ON_OFFSET, TIME_SHIFT_OFFSET, VOCAB_SIZE


def fixed_model(path, note_on: float, note_off: float = -1.0, shift: float = 0.0) -> str:
    """Saved at `path`. Logits: `note_on` / `note_off` for pitches 60-71, `shift` for a 1 s TIME_SHIFT, -30 for
    the rest."""
    cfg = TransformerConfig(vocab_size=VOCAB_SIZE, max_len=64, n_layer=1, n_head=2, d_model=16, d_ff=32, dropout=0.0)
    model = MusicTransformer(cfg)
    with torch.no_grad():
        model.ln_f.weight.zero_()
        model.ln_f.bias.zero_()
        model.ln_f.bias[0] = 1.0
        column = model.tok_emb.weight[:, 0]  # the head is tied: these are the logits
        column.fill_(-30.0)
        column[NOTE_ON_OFFSET + 60 : NOTE_ON_OFFSET + 72] = note_on
        column[NOTE_OFF_OFFSET + 60 : NOTE_OFF_OFFSET + 72] = note_off
        column[TIME_SHIFT_OFFSET + 99] = shift
    save_transformer(model, path)
    return str(path)

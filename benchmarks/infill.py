"""Infilling by sample-and-rerank against plain continuation, on held-out pieces (issues 8, 16).

A model trained on infilling examples (cfg.fim) reads what follows the gap before it writes each candidate
(`reads_what_follows` in the JSON); `--left-to-right` runs such a model without it.

Takes the first `--pieces` pieces of the corpus's test split that last at
least 3 gaps + the suffix window, decodes them (composer.tokens.decode) and
cuts a gap of `--gap-seconds` from the middle. Per piece, under the piece's
own style, `composer.model.infill.infill` samples `--candidates` fills (piece n
gets seed 1000+n, its candidate i seed 1000+n+i); candidate 0 alone is what
K=1 gives (plain continuation of the prefix, the same notes as
composer.model.sample.stream), the reranked choice is K=8. With a model whose
context is shorter than prefix + fill + window, later_nll cannot see the fill
and comes out equal for all three.

(a) Likelihoods, nats per token, token-weighted over pieces:
    middle_nll_given_prefix   the true middle given the prefix (plain continuation's view of the truth)
    middle_nll_given_prefix_and_what_follows   the same with the infilling head first (a cfg.fim model;
                              else null): how much reading what follows helps the model write the truth
    suffix_nll.k1/.k8/.truth  the following passage (its first `--suffix-seconds`, at most max_len/4
                              tokens, the window the rerank scores) given prefix + fill, the fill being
                              candidate 0, the reranked choice, or the true middle
    later_nll.*               the next `--suffix-seconds` window given prefix + fill + the first window:
                              a window the rerank never looked at
    suffix_nll.k8 is the quantity the rerank maximizes over the candidates, so it is biased low by
    construction; later_nll is not.

(b) The seam, per piece then averaged:
    pc_jaccard          pitch classes sounding in the fill's last second vs the suffix's first second
                        (|A & B| / |A | B|; pieces where both are empty are left out)
    interval_semitones  |last fill onset's pitch - first suffix onset's pitch| (highest pitch at a tied
                        onset; pieces with an empty fill are left out)
    notes_per_s         density of the fill; empty_share: fills with no note at all

    python benchmarks/infill.py [--model PATH] [--data data/corpus] [--pieces 20] [--gap-seconds 4]

Ends with one JSON line of all figures, CPU threads and torch version.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

from composer.errors import ComposerError
from composer.model.constrained import (
    context_ids,
    encode_after,
    last_velocity_bin,
    log_likelihood,
    to_steps,
    tokens_steps,
)
from composer.model.infill import in_gap, infill, suffix_notes
from composer.model.sample import DEFAULT_MODEL_PATH, SampleOptions, load_model
from composer.song import Note
from composer.tokens import DEFAULT_MAX_NOTE_S, STEP_S, STYLE_OFFSET, STYLES, decode, encode, shift_tokens
from composer.train.dataset import TokenCorpus
from composer.train.fim import future_head

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_common import run_or_fail  # noqa: E402

FIRST_SEED = 1000
SEAM_S = 1.0
CONDITIONS = ("k1", "k8", "truth")
SEAM_FIELDS = ("pc_jaccard", "interval_semitones", "notes_per_s")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL_PATH)
    p.add_argument("--data", type=Path, default=Path("data/corpus"))
    p.add_argument("--pieces", type=int, default=20)
    p.add_argument("--gap-seconds", type=float, default=4.0)
    p.add_argument("--suffix-seconds", type=float, default=4.0)
    p.add_argument("--candidates", type=int, default=8)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--top-p", type=float, default=0.95)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--left-to-right", action="store_true", help="an infilling-trained model without what follows (an ablation)"
    )
    args = p.parse_args(argv)
    if not 1 <= args.pieces <= 1000:
        raise ComposerError("--pieces", f"must be 1..1000, got {args.pieces}")
    if not 0.1 <= args.gap_seconds <= 60 or not 0.1 <= args.suffix_seconds <= 60:
        raise ComposerError("--gap-seconds/--suffix-seconds", "must be in [0.1, 60]")
    if not 2 <= args.candidates <= 64:
        raise ComposerError("--candidates", f"must be 2..64 (K=1 is candidate 0), got {args.candidates}")
    return args


def sequence_nll(model, context: list[int], target: list[int]) -> tuple[float, int]:
    """(-log p(target | context) in nats, len(target)), in chunks that fit the model's window."""
    chunk = model.cfg.max_len // 2
    total = 0.0
    for i in range(0, len(target), chunk):
        total -= log_likelihood(model, context + target[:i], target[i : i + chunk])
    return total, len(target)


def gap_tokens(notes: list[Note], start_s: float, end_s: float) -> list[int]:
    """The true middle in the candidates' view: notes starting in the gap, cut at its end, to its end."""
    inside = [Note(n.pitch, n.velocity, n.start_s - start_s, min(n.end_s, end_s) - start_s)
              for n in notes if in_gap(n, start_s, end_s)]  # fmt: skip
    ids = encode(inside)
    return ids + shift_tokens(to_steps(end_s) - to_steps(start_s) - tokens_steps(ids))


def seam(fill: list[Note], after: list[Note], end_s: float, gap_s: float) -> dict[str, float | None]:
    """Seam figures of one fill (absolute seconds) against the suffix (seconds from end_s)."""
    last = [n for n in fill if n.end_s > end_s - SEAM_S]
    first = [n for n in after if n.start_s < SEAM_S]
    a, b = {n.pitch % 12 for n in last}, {n.pitch % 12 for n in first}
    jaccard = len(a & b) / len(a | b) if a | b else None
    interval = None
    if fill and after:
        last_note = max(fill, key=lambda n: (round(n.start_s / STEP_S), n.pitch))
        first_note = min(after, key=lambda n: (round(n.start_s / STEP_S), -n.pitch))
        interval = abs(last_note.pitch - first_note.pitch)
    return {"pc_jaccard": jaccard, "interval_semitones": interval, "notes_per_s": len(fill) / gap_s}


def mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return round(sum(kept) / len(kept), 4) if kept else None


def run(args: argparse.Namespace) -> dict:
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    model = load_model(args.model)
    if args.left_to_right:
        model.cfg = replace(model.cfg, fim=False)
    corpus = TokenCorpus(args.data, "test")
    gap_s, suffix_s = args.gap_seconds, args.suffix_seconds
    max_suffix = model.cfg.max_len // 4
    nll = {f"{kind}.{c}": [0.0, 0] for kind in ("suffix", "later") for c in CONDITIONS}
    nll |= {"middle": [0.0, 0], "middle_both": [0.0, 0]}
    seams: dict[str, list[dict]] = {c: [] for c in CONDITIONS}
    used = 0
    for i in range(len(corpus)):
        if used == args.pieces:
            break
        notes = decode(corpus.piece(i).astype(int).tolist())
        duration_s = max((n.end_s for n in notes), default=0.0)
        start_s = round((duration_s / 2 - gap_s / 2) / STEP_S) * STEP_S
        end_s = start_s + gap_s
        if duration_s < 3 * gap_s + suffix_s or not any(in_gap(n, start_s, end_s) for n in notes):
            continue
        style = STYLES[int(corpus.index.styles[i]) - STYLE_OFFSET]
        options = SampleOptions(style=style, seed=FIRST_SEED + used, temperature=args.temperature, top_p=args.top_p)
        result = infill(model, notes, start_s, end_s, options, args.candidates, suffix_s)
        context = context_ids(model, style, result.prefix)
        kept = [n for n in notes if not in_gap(n, start_s, end_s)]
        after = suffix_notes(kept, end_s, suffix_s)
        later = suffix_notes(kept, end_s + suffix_s, suffix_s)
        truth = gap_tokens(notes, start_s, end_s)
        middle = sequence_nll(model, context, truth)
        nll["middle"] = [nll["middle"][0] + middle[0], nll["middle"][1] + middle[1]]
        if model.cfg.fim:  # the true middle as an infilling model sees it: what follows first
            steps = to_steps(end_s) - to_steps(start_s)
            head = future_head(steps, encode(after, DEFAULT_MAX_NOTE_S))
            both = sequence_nll(model, context_ids(model, style, result.prefix, head), truth)
            nll["middle_both"] = [nll["middle_both"][0] + both[0], nll["middle_both"][1] + both[1]]
        true_fill = [n for n in notes if in_gap(n, start_s, end_s)]
        fills = {
            "k1": (result.candidates[0].tokens, result.candidates[0].notes),
            "k8": (result.candidates[result.best].tokens, result.notes),
            "truth": (truth, [Note(n.pitch, n.velocity, n.start_s, min(n.end_s, end_s)) for n in true_fill]),
        }
        for condition, (tokens, fill_notes) in fills.items():
            stream_ids = result.prefix + tokens
            first_ids = encode_after(after, last_velocity_bin(stream_ids), DEFAULT_MAX_NOTE_S)
            first_window = first_ids + shift_tokens(to_steps(suffix_s) - tokens_steps(first_ids))
            later_ids = encode_after(later, last_velocity_bin(stream_ids + first_window), DEFAULT_MAX_NOTE_S)
            scored = {
                "suffix": (context[:2] + stream_ids, first_ids[:max_suffix]),
                "later": (context[:2] + stream_ids + first_window, later_ids[:max_suffix]),
            }
            for kind, (ctx, target) in scored.items():
                value, count = sequence_nll(model, ctx, target)
                key = f"{kind}.{condition}"
                nll[key] = [nll[key][0] + value, nll[key][1] + count]
            seams[condition].append(seam(fill_notes, after, end_s, gap_s))
        used += 1
        print(f"infill: piece {used}/{args.pieces} ({corpus.piece_ids[i]})", file=sys.stderr)
    if used == 0:
        raise ComposerError(args.data, f"no test piece lasts {3 * gap_s + suffix_s:g} s with notes in its middle")

    def per_token(key: str) -> float | None:
        total, count = nll[key]
        return round(total / count, 4) if count else None

    return {
        "benchmark": "infill",
        "model": str(args.model),
        "pieces": used,
        "gap_s": gap_s,
        "suffix_s": suffix_s,
        "candidates": args.candidates,
        "reads_what_follows": model.cfg.fim,
        "temperature": args.temperature,
        "top_p": args.top_p,
        "middle_nll_given_prefix": per_token("middle"),
        "middle_nll_given_prefix_and_what_follows": per_token("middle_both"),
        "suffix_nll": {c: per_token(f"suffix.{c}") for c in CONDITIONS},
        "later_nll": {c: per_token(f"later.{c}") for c in CONDITIONS},
        "seam": {
            c: {
                field: mean([s[field] for s in seams[c]])
                for field in ("pc_jaccard", "interval_semitones", "notes_per_s")
            }
            | {"empty_share": round(sum(s["notes_per_s"] == 0 for s in seams[c]) / used, 4)}
            for c in CONDITIONS
        },
        "seconds": round(time.perf_counter() - started, 1),
        "cpu_threads": args.threads,
        "device": "cpu",
        "torch": torch.__version__,
    }


def main(argv: list[str] | None = None) -> int:
    return run_or_fail("infill", lambda: run(parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

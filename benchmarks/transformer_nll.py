"""Validation and test NLL (nats/token) of transformer checkpoints on the built corpus.

    python benchmarks/transformer_nll.py [--model PATH ...] [--data data/corpus] [--max-tokens N]
                                         [--step-tokens N] [--per-style-tokens N]

Windows are the non-overlapping, unaugmented crops of composer.train.dataset
(style token first), the same for every model. Full passes are fp32.
`--step-tokens N` also scores the first N valid tokens one at a time through
the decode step that generation uses (composer.model.step.StepCache), with its
weight-only int8 matrices and in fp32, on the same windows: the held-out cost
of the int8 step (issue 16's limit: +0.02 nats/token). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from composer.model.checkpoint import load_transformer
from composer.model.sample import DEFAULT_MODEL_PATH
from composer.model.step import StepCache
from composer.tokens import STYLE_OFFSET, STYLES
from composer.train.dataset import TokenCorpus
from composer.train.train import evaluate_nll


@torch.no_grad()
def step_nll(model, windows: list, int8: bool) -> float:
    """Mean NLL of each window's tokens after the first, fed one id at a time through the decode step."""
    total, count = 0.0, 0
    for window in windows:
        ids = [int(t) for t in window]
        cache = StepCache(model, int8=int8)
        logits = cache.extend(ids[:1])  # the first id's full pass, as sampling primes the cache
        for i, target in enumerate(ids[1:], start=1):
            total -= float(F.log_softmax(logits.float(), dim=-1)[target])
            count += 1
            if i < len(ids) - 1:
                logits = cache.step(ids[i])
    return total / max(count, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", nargs="+", type=Path, default=[DEFAULT_MODEL_PATH])
    parser.add_argument("--data", type=Path, default=Path("data/corpus"))
    parser.add_argument("--max-tokens", type=int, default=300_000, help="per split (the whole split if larger)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--step-tokens", type=int, default=0, help="valid tokens scored through the decode step")
    parser.add_argument(
        "--per-style-tokens", type=int, default=0, help="also the test NLL of each style's first N tokens"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    result: dict = {"benchmark": "transformer_nll", "models": {}}
    for path in args.model:
        model, extra = load_transformer(path)
        figures = {"relative": model.cfg.relative, "params": model.num_params(), "train_step": extra.get("step")}
        for split in ("valid", "test"):
            windows = TokenCorpus(args.data, split).eval_windows(model.cfg.max_len, args.max_tokens)
            figures[f"{split}_nll"] = round(evaluate_nll(model, windows, torch.device("cpu")), 4)
            figures[f"{split}_tokens"] = int(sum(len(w) - 1 for w in windows))
        if args.per_style_tokens > 0:
            test = TokenCorpus(args.data, "test")
            for style_id in sorted(set(test.index.styles.tolist())):
                name = STYLES[style_id - STYLE_OFFSET]
                pieces = [i for i in range(len(test)) if test.index.styles[i] == style_id]
                windows = test.windows_over(model.cfg.max_len, args.per_style_tokens, pieces)
                figures[f"test_nll_{name}"] = round(evaluate_nll(model, windows, torch.device("cpu")), 4)
                figures[f"test_tokens_{name}"] = int(sum(len(w) - 1 for w in windows))
        if args.step_tokens > 0:
            windows = TokenCorpus(args.data, "valid").eval_windows(model.cfg.max_len, args.step_tokens)
            figures["step_tokens"] = int(sum(len(w) - 1 for w in windows))
            figures["step_fp32_full_pass_nll"] = round(evaluate_nll(model, windows, torch.device("cpu")), 4)
            for int8 in (False, True):
                figures[f"step_{'int8' if int8 else 'fp32'}_nll"] = round(step_nll(model, windows, int8), 4)
        result["models"][str(path)] = figures
    result["seconds"] = round(time.perf_counter() - start, 1)
    result |= {"cpu_threads": args.threads, "torch": torch.__version__}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

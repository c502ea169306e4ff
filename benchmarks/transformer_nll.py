"""Validation and test NLL (nats/token) of transformer checkpoints on the built corpus.

    python benchmarks/transformer_nll.py [--model PATH ...] [--data data/corpus] [--max-tokens N]

Windows are the non-overlapping, unaugmented crops of composer.train.dataset
(style token first), the same for every model. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from composer.model.checkpoint import load_transformer
from composer.model.sample import DEFAULT_MODEL_PATH
from composer.train.dataset import TokenCorpus
from composer.train.train import evaluate_nll


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", nargs="+", type=Path, default=[DEFAULT_MODEL_PATH])
    parser.add_argument("--data", type=Path, default=Path("data/corpus"))
    parser.add_argument("--max-tokens", type=int, default=300_000, help="per split (the whole split if larger)")
    parser.add_argument("--threads", type=int, default=2)
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
        result["models"][str(path)] = figures
    result["seconds"] = round(time.perf_counter() - start, 1)
    result |= {"cpu_threads": args.threads, "torch": torch.__version__}
    print(json.dumps(result))


if __name__ == "__main__":
    main()

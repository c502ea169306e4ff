"""Generation speed of the shipped transformer: KV cache vs recomputing every step.

torch threads = 2 (--threads). For 512 and 1024 generated tokens: tokens/s with
the KV cache (the fused step of composer/model/step.py, int8 on CPU;
sliding-window re-prime past the context) and with the whole window
recomputed each step. The cached figure is the median of --repeats runs, by
the wall clock and by this thread's CPU time (the CPU figure holds on a busy
machine where the wall clock waits for a core; with more than one thread it
counts this thread only). Goal: >= 1000 tokens/s cached and >= 20x the
uncached speed at 1024 tokens. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from composer.model.context import TokenContext
from composer.model.sample import SampleOptions, load_model, sample_next, token_mask
from composer.tokens import BOS, style_token


@torch.no_grad()
def cached_tokens_per_s(model, n_tokens: int) -> tuple[float, float]:
    """(by the wall clock, by this thread's CPU time)."""
    options, allowed, gen = SampleOptions(seed=0), token_mask(None), torch.Generator().manual_seed(0)
    start, start_cpu = time.perf_counter(), time.thread_time()
    ctx = TokenContext(model, [style_token("folk"), BOS])
    logits = ctx.logits
    for _ in range(n_tokens):
        logits = ctx.push(sample_next(logits, options, allowed, gen))
    return n_tokens / (time.perf_counter() - start), n_tokens / (time.thread_time() - start_cpu)


@torch.no_grad()
def uncached_tokens_per_s(model, n_tokens: int) -> float:
    options, allowed, gen = SampleOptions(seed=0), token_mask(None), torch.Generator().manual_seed(0)
    tokens = [style_token("folk"), BOS]
    max_len = model.cfg.max_len
    start = time.perf_counter()
    for _ in range(n_tokens):
        window = [tokens[0], *tokens[-(max_len - 1) :]] if len(tokens) > max_len else tokens
        logits, _ = model(torch.tensor([window]))
        tokens.append(sample_next(logits[0, -1], options, allowed, gen))
    return n_tokens / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="cached runs per length; the median is reported")
    parser.add_argument("--cached-only", action="store_true", help="skip the (slow) uncached runs")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    cached_tokens_per_s(model, 32)  # warm-up
    result = {"benchmark": "generation_speed"}
    for n in (512, 1024):
        runs = [cached_tokens_per_s(model, n) for _ in range(max(args.repeats, 1))]
        cached = statistics.median(wall for wall, _ in runs)
        result[f"cached_tok_s_{n}"] = round(cached, 1)
        result[f"cached_cpu_tok_s_{n}"] = round(statistics.median(cpu for _, cpu in runs), 1)
        if not args.cached_only:
            uncached = uncached_tokens_per_s(model, n)
            result[f"uncached_tok_s_{n}"] = round(uncached, 1)
            result[f"speedup_{n}"] = round(cached / uncached, 1)
    result["goal_cached_tok_s"] = 1000
    result["goal_speedup_1024"] = 20
    result["met"] = result["cached_tok_s_1024"] >= 1000 and result.get("speedup_1024", 0) >= 20
    result |= {"context": model.cfg.max_len, "params": model.num_params(), "cpu_threads": args.threads}
    result |= {"repeats": args.repeats, "uncached_run": not args.cached_only}
    result["int8_step"] = bool(getattr(model, "decode_int8", False))  # composer/model/step.py
    result["torch"] = torch.__version__
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""What the benchmarks share: the machine facts of their JSON line, and the one-line error of a bad input.

    result = {"benchmark": "infill", ..., **machine_facts()}       # cpu_threads, device, torch
    sys.exit(run_or_fail("infill", lambda: run(parse_args(argv))))  # prints the JSON line, or one error line

A benchmark script imports this with its own folder on sys.path (they run as
`python benchmarks/NAME.py`, and the tests load them by file path).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable

from composer.errors import ComposerError


def machine_facts(device: str = "cpu") -> dict:
    """The facts every result carries: torch's CPU threads, the device measured, torch's version."""
    import torch

    return {"cpu_threads": torch.get_num_threads(), "device": device, "torch": torch.__version__}


def run_or_fail(name: str, run: Callable[[], dict]) -> int:
    """Run; print its result as one JSON line and return 0, or the ComposerError as `name: problem`, 2."""
    try:
        result = run()
    except ComposerError as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(result))
    return 0

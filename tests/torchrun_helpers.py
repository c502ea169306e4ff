"""`composer train <kind>` under torchrun: two gloo ranks on the CPU, one thread each."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def torchrun_train(kind: str, out: Path, *options: str, timeout: int = 150) -> tuple[dict, dict]:
    """Run `composer train kind --out out *options --device cpu --threads 1` on 2 ranks; (start, end) log lines.

    Ranks that stop at different steps wait for each other for ever (gloo's own timeout is 30 minutes): the
    subprocess timeout fails the test sooner."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "tui.cli"]
    cmd += ["train", kind, "--out", str(out), *options, "--device", "cpu", "--threads", "1"]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    log = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [e for e in log if e.get("event") == "start"][-1], [e for e in log if e.get("event") == "end"][-1]


def assert_ranks_agree(start: dict, end: dict) -> None:
    """Two ranks, which ended at the same step with the same learning rate and the same weights."""
    assert start["world"] == 2
    assert len(end["rank_steps"]) == 2 and end["rank_steps"][0] == end["rank_steps"][1] == end["step"]
    assert end["rank_lrs"][0] == end["rank_lrs"][1]
    assert end["rank_checksums"][0] == end["rank_checksums"][1]

"""Peak memory of relative attention at L=2048: skewing vs the naive O(L^2*D) form.

Each variant runs in a fresh subprocess; peak resident memory (ru_maxrss)
above the process's baseline is reported. Ends with one JSON line.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys

import torch

L, H, D_HEAD = 2048, 4, 64


def measure(variant: str) -> None:
    torch.manual_seed(0)
    q = torch.randn(1, H, L, D_HEAD)
    rel_emb = torch.randn(H, L, D_HEAD)
    base_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with torch.no_grad():
        if variant == "skew":
            from composer.model.model import skew

            rel = skew(torch.einsum("bhqd,hkd->bhqk", q, rel_emb))  # (1, H, L, L)
        else:
            distance = torch.arange(L).view(1, L) - torch.arange(L).view(L, 1)  # (L, L): j - i
            index = (distance + L - 1).clamp(0, L - 1)
            r = rel_emb[:, index]  # (H, L, L, D_HEAD): the O(L^2 * D) tensor
            rel = torch.einsum("bhid,hijd->bhij", q, r)
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"variant": variant, "peak_mb": (peak_kb - base_kb) / 1024, "shape": list(rel.shape)}))


def main() -> None:
    if len(sys.argv) > 1:
        measure(sys.argv[1])
        return
    results = {}
    for variant in ("skew", "naive"):
        out = subprocess.run([sys.executable, __file__, variant], capture_output=True, text=True, check=True)
        results[variant] = json.loads(out.stdout.strip().splitlines()[-1])["peak_mb"]
    print(
        json.dumps(
            {
                "benchmark": "attention_memory",
                "length": L,
                "heads": H,
                "d_head": D_HEAD,
                "skew_peak_mb": round(results["skew"], 1),
                "naive_peak_mb": round(results["naive"], 1),
                "ratio": round(results["naive"] / max(results["skew"], 1e-9), 1),
                "cpu_threads": torch.get_num_threads(),
                "torch": torch.__version__,
            }
        )
    )


if __name__ == "__main__":
    main()

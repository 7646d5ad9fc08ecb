"""Per-kernel GPU times of the fused op's forward and forward+backward, from
torch.profiler: shows where a slow case spends its time (our kernels vs sort,
copies, fills) before anyone guesses.

    python -m bench.profile [--case 256x3x224x224-bf16-cl-mixup]
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from . import needs
from .suites.fused_mix import CUDA_CASES, PROVIDERS, setup


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", action="append", help="case id(s); default: all")
    parser.add_argument("--rows", type=int, default=8)
    args = parser.parse_args()
    needs.cuda_or_exit("bench.profile", "profiles the CUDA kernels")
    for case in CUDA_CASES:
        if args.case and case.id not in args.case:
            continue
        inputs = setup(case, "cuda")
        for provider in ("fused", "fused_fwd_bwd"):
            fn = PROVIDERS[provider](inputs)
            for _ in range(5):
                fn()
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(10):
                    fn()
                torch.cuda.synchronize()
            print(f"\n### {case.id} / {provider} (10 calls)")
            print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=args.rows, max_name_column_width=70))


if __name__ == "__main__":
    main()

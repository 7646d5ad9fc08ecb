"""Our kernels and inductor's, side by side, for ncu.

Runs ``mixup_ext.fused_mix`` and ``torch.compile`` of the one-line formula
(bench/suites/fused_mix_uint8.py's ``_formula``) on the same inputs, warms
both up (compilation and autotuning included), then brackets one call of each
per case with cudaProfilerStart/Stop, so that

    TORCH_LOGS=output_code ncu --profile-from-start off --clock-control none \\
        --section SpeedOfLight --section Occupancy --section WarpStateStats \\
        python -m bench.side_by_side

profiles exactly those kernels, and the log holds inductor's generated code
to read beside ours (the dev log). Beside them, per case, torch's
own ``x.to(out_dtype)``: the same bytes read and written with no mixing.
The ``plain-*`` cases are the plain mix (x's dtype out, 1000-class targets,
bench/suites/fused_mix.py's formula), with ``x * 1`` as the bytes alone.
(The fp32 ``x.clone()`` that the goals are ratios to is a copy engine
transfer, not a kernel, so ncu has nothing to show for it.) Needs CUDA.
"""

from __future__ import annotations

import argparse

import torch

import mixup_ext

from .case_data import CUDA_CASES, NUM_CLASSES, SMOOTHING
from .case_data import setup as plain_setup
from .suites.fused_mix import _eager_formula
from .suites.fused_mix_uint8 import BIG, MEAN, STD, Case, _formula, setup

CASES = {
    "nchw-bf16": Case(BIG, torch.bfloat16, False, False),
    "cl-bf16": Case(BIG, torch.bfloat16, True, False),
    "nchw-fp32": Case(BIG, torch.float32, False, False),
    "nchw-bf16-cutmix": Case(BIG, torch.bfloat16, False, True),
    "small-bf16": Case((128, 3, 32, 32), torch.bfloat16, False, False),
}
# The plain mix's blends, from the fused_mix suite's cases.
PLAIN_CASES = {
    "plain-fp32": CUDA_CASES[0],
    "plain-bf16-cl": CUDA_CASES[2],
    "plain-small-fp32": CUDA_CASES[4],
    "plain-features": CUDA_CASES[5],
}


def _uint8_calls(case):
    """(ours, inductor's, the bytes alone) for a uint8 case."""
    a = setup(case, "cuda")
    compiled = torch.compile(_formula, dynamic=False)
    return (
        lambda: mixup_ext.fused_mix(
            a["x"], a["target"], a["index"], a["lam"], a["box"], 1000, 0.1, mean=MEAN, std=STD, out_dtype=case.out_dtype
        ),
        lambda: compiled(a["x"], a["index"], a["lam"], a["box"], a["mean"], a["std"], case.out_dtype),
        lambda: a["x"].to(case.out_dtype),
    )


def _plain_calls(case):
    """(ours, inductor's, the bytes alone) for a plain-mix case."""
    assert not case.cutmix, "the plain cases are blends"
    a = plain_setup(case, "cuda")
    args = (a["x"], a["target"], a["index"], a["lam"], None, NUM_CLASSES, SMOOTHING)
    compiled = torch.compile(_eager_formula, fullgraph=True, dynamic=False)
    return (lambda: mixup_ext.fused_mix(*args), lambda: compiled(*args), lambda: a["x"] * 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.side_by_side", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join([*CASES, *PLAIN_CASES])}"
    )
    args = parser.parse_args(argv)
    calls = []
    for name in args.cases.split(","):
        ours, inductor, bytes_alone = (
            _plain_calls(PLAIN_CASES[name]) if name in PLAIN_CASES else _uint8_calls(CASES[name])
        )
        for _ in range(3):  # compilation and autotuning, outside the profiled calls
            ours()
            inductor()
        calls += [(f"{name} fused_mix", ours), (f"{name} inductor", inductor), (f"{name} bytes alone", bytes_alone)]
    torch.cuda.synchronize()
    cudart = torch.cuda.cudart()
    for label, call in calls:
        print(f"== profiling: {label}", flush=True)
        cudart.cudaProfilerStart()
        call()
        torch.cuda.synchronize()
        cudart.cudaProfilerStop()


if __name__ == "__main__":
    main()

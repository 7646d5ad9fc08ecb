"""Our uint8 kernel and inductor's, side by side, for ncu (issue 23).

Runs ``mixup_ext.fused_mix`` and ``torch.compile`` of the one-line formula
(bench/suites/fused_mix_uint8.py's ``_formula``) on the same inputs, warms
both up (compilation and autotuning included), then brackets one call of each
per case with cudaProfilerStart/Stop, so that

    TORCH_LOGS=output_code ncu --profile-from-start off --clock-control none \\
        --section SpeedOfLight --section Occupancy --section WarpStateStats \\
        python -m bench.side_by_side

profiles exactly those kernels, and the log holds inductor's generated code
to read beside ours (bench/NOTES.md, issue 23). Beside them, per case, torch's
own ``x.to(out_dtype)``: the same bytes read and written with no mixing.
(The fp32 ``x.clone()`` that the goals are ratios to is a copy engine
transfer, not a kernel, so ncu has nothing to show for it.) Needs CUDA.
"""

from __future__ import annotations

import argparse

import torch

import mixup_ext

from .suites.fused_mix_uint8 import BIG, MEAN, STD, Case, _formula, setup

CASES = {
    "nchw-bf16": Case(BIG, torch.bfloat16, False, False),
    "cl-bf16": Case(BIG, torch.bfloat16, True, False),
    "nchw-fp32": Case(BIG, torch.float32, False, False),
    "nchw-bf16-cutmix": Case(BIG, torch.bfloat16, False, True),
}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.side_by_side", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    args = parser.parse_args(argv)
    calls = []
    for name in args.cases.split(","):
        case = CASES[name]
        a = setup(case, "cuda")
        compiled = torch.compile(_formula, dynamic=False)

        def ours(a=a, case=case):
            return mixup_ext.fused_mix(a["x"], a["target"], a["index"], a["lam"], a["box"], 1000, 0.1,
                                       mean=MEAN, std=STD, out_dtype=case.out_dtype)

        def inductor(a=a, case=case, compiled=compiled):
            return compiled(a["x"], a["index"], a["lam"], a["box"], a["mean"], a["std"], case.out_dtype)

        def bytes_alone(a=a, case=case):
            return a["x"].to(case.out_dtype)

        for _ in range(3):
            ours()
            inductor()
        calls += [(f"{name} fused_mix", ours), (f"{name} inductor", inductor), (f"{name} x.to(out_dtype)", bytes_alone)]
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

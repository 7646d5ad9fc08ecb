"""Block-shape sweep for the CUDA row kernels: builds the fused-mix kernels
once per (threads per block, 16-byte packs per thread and row) and times the
forward and the backward op on every CUDA case, as ratios to x.clone() in the
same process.

    python -m bench.tune                          # the default sweep
    python -m bench.tune --shapes 256x2,128x4 --json tune.json

The shape is a compile-time constant (MIXUP_EXT_THREADS / MIXUP_EXT_UNROLL in
csrc/cuda/fused_mix_kernel.cu), so each variant is its own build, loaded in
its own process (one process cannot hold two copies of the `mixup` library).
The builds run in parallel; the timings run one at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import needs

DEFAULT_SHAPES = "256x4,256x2,256x1,128x4,128x2,512x1"
BUILD_ROOT = Path(os.environ.get("MIXUP_EXT_TUNE_DIR", "/tmp/mixup_ext_tune"))


def _load(shape: str, verbose: bool = False) -> None:
    """Builds (or reuses) and loads the variant: only the fused-mix sources."""
    import importlib.util

    import torch.utils.cpp_extension as ext

    # By path, as setup.py does: importing the mixup_ext package would load
    # its own build of the library.
    spec = importlib.util.spec_from_file_location("_mixup_ext_build", Path(__file__).parent.parent / "mixup_ext" / "_build.py")
    _build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(_build)

    threads, unroll = shape.split("x")
    csrc = _build.csrc_dir()
    build_dir = BUILD_ROOT / shape
    build_dir.mkdir(parents=True, exist_ok=True)
    ext.load(
        name=f"mixup_tune_{threads}x{unroll}",
        sources=[str(csrc / "mixup.cpp"), str(csrc / "fused_mix_plan.cpp"), str(csrc / "cuda" / "fused_mix_kernel.cu")],
        extra_cflags=_build.CXX_FLAGS,
        extra_cuda_cflags=_build.NVCC_FLAGS + [f"-DMIXUP_EXT_THREADS={threads}", f"-DMIXUP_EXT_UNROLL={unroll}"],
        build_directory=str(build_dir),
        is_python_module=False,
        verbose=verbose,
    )


def _time_variant(shape: str) -> list[dict]:
    import torch
    from triton.testing import do_bench

    from .case_data import CUDA_CASES, NUM_CLASSES, SMOOTHING, setup

    _load(shape)
    rows = []
    for case in CUDA_CASES:
        a = setup(case, "cuda")
        clone = do_bench(lambda: a["x"].clone(), warmup=25, rep=100, return_mode="median")
        forward = do_bench(
            lambda: torch.ops.mixup.fused_mix(a["x"], a["target"], a["index"], a["lam"], a["box"], NUM_CLASSES, SMOOTHING),
            warmup=25, rep=100, return_mode="median",
        )
        backward = do_bench(
            lambda: torch.ops.mixup._fused_mix_backward(a["grad"], a["index"], a["lam"], a["box"], 1.0),
            warmup=25, rep=100, return_mode="median",
        )
        rows.append(dict(shape=shape, case=case.id, clone_ms=clone, forward=forward / clone, backward=backward / clone))
        del a
        torch.cuda.empty_cache()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapes", default=DEFAULT_SHAPES, help="comma-separated THREADSxUNROLL")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # build (and time) one shape in this process
    parser.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.worker:
        if args.build_only:
            _load(args.worker)
        else:
            print(json.dumps(_time_variant(args.worker)))
        return

    needs.cuda_or_exit("bench.tune", "times block shapes of the CUDA kernels")
    needs.nvcc_or_exit("bench.tune")
    shapes = args.shapes.split(",")
    env = dict(os.environ, MAX_JOBS=str(max(1, (os.cpu_count() or 4) // len(shapes))))
    cmd = lambda shape, *extra: [sys.executable, "-m", "bench.tune", "--worker", shape, *extra]  # noqa: E731
    with ThreadPoolExecutor(len(shapes)) as pool:
        builds = list(pool.map(lambda s: subprocess.run(cmd(s, "--build-only"), env=env, capture_output=True, text=True), shapes))
    for shape, build in zip(shapes, builds):
        if build.returncode != 0:
            sys.exit(f"build of {shape} failed:\n{build.stderr[-3000:]}")

    rows = []
    for shape in shapes:
        result = subprocess.run(cmd(shape), capture_output=True, text=True, check=True)
        rows += json.loads(result.stdout.strip().splitlines()[-1])

    cases = list(dict.fromkeys(r["case"] for r in rows))
    print("Ratios to x.clone() (same process); forward op / backward op alone.\n")
    print("| threads x unroll | " + " | ".join(cases) + " |")
    print("|---|" + "---:|" * len(cases))
    for shape in shapes:
        cells = [f"{r['forward']:.2f} / {r['backward']:.2f}" for c in cases for r in rows if r["shape"] == shape and r["case"] == c]
        print(f"| {shape} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

"""Block-shape sweep for the CUDA row kernels: builds the fused-mix kernels
once per (threads per block, 16-byte packs per thread and row) and times the
forward and the backward op on every CUDA case, as ratios to x.clone() in the
same process.

    python -m bench.tune                          # the default sweep
    python -m bench.tune --shapes 256x2,128x4 --json tune.json
    python -m bench.tune --shapes 128x2,compile   # beside torch.compile's uint8 kernels
    python -m bench.tune --shapes 128x2,bytes     # beside x.to(out_dtype): the uint8 cases' bytes, no mixing
    python -m bench.tune --shapes 128x2,128x2+CHUNKS=4   # another compile-time setting of the kernels
    python -m bench.tune --shapes 128x2,128x2@old/csrc   # beside another tree's kernels (git worktree add old REV)

The shape is a compile-time constant (csrc/cuda/fused_mix_tuning.h: kThreads,
kUnroll, and +NAME=VALUE for the others), so each variant is its own build,
from a copy of csrc/ whose tuning header this tool rewrites, loaded in its own
process (one process cannot hold two copies of the `mixup` library).
The builds run in parallel; the timings run one at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from . import needs

DEFAULT_SHAPES = "256x4,256x2,256x1,128x4,128x2,512x1,compile"
# Shapes that build nothing: torch.compile's uint8 kernels, and torch's own x.to(out_dtype).
PSEUDO_SHAPES = ("compile", "bytes")
BUILD_ROOT = Path(os.environ.get("MIXUP_EXT_TUNE_DIR", "/tmp/mixup_ext_tune"))


TUNING_HEADER = "cuda/fused_mix_tuning.h"


def tuning_header(text: str, settings: dict[str, str]) -> str:
    """``csrc/cuda/fused_mix_tuning.h`` with each ``NAME=VALUE`` setting
    (``THREADS``, ``UNROLL``, ``CHUNKS``, ``SMALL_TILE_PERCENT``, ...) given to
    its constant (``kThreads``, ``kUnroll``, ``kChunks``,
    ``kSmallTilePercent``, ...); a name it does not declare is refused."""
    for name, value in settings.items():
        constant = "k" + "".join(part.capitalize() for part in name.lower().split("_"))
        match = re.search(rf"(inline constexpr (\w+) {constant} = )[^;]+;", text)
        if match is None:
            raise SystemExit(f"bench.tune: no setting {name}: {TUNING_HEADER} declares no {constant}")
        if match.group(2) == "bool":
            value = "false" if value in ("0", "false") else "true"
        text = text[: match.start()] + match.group(1) + value + ";" + text[match.end() :]
    return text


def _load(shape: str, verbose: bool = False) -> None:
    """Builds (or reuses) and loads the variant: the fused-mix sources of a
    copy of csrc/ whose tuning header carries the variant's settings."""
    import torch.utils.cpp_extension as ext

    _build = needs.build_module()
    variant = shape
    shape, _, other_csrc = shape.partition("@")  # @DIR: that tree's csrc/ instead of this one's
    block, *extra = shape.split("+")
    threads, unroll = block.split("x")
    settings = dict(THREADS=threads, UNROLL=unroll, **dict(setting.split("=", 1) for setting in extra))
    build_name = "mixup_tune_" + "".join(ch if ch.isalnum() else "_" for ch in variant)  # one directory a variant
    build_dir = BUILD_ROOT / build_name
    csrc = build_dir / "csrc"
    shutil.copytree(Path(other_csrc).resolve() if other_csrc else _build.csrc_dir(), csrc, dirs_exist_ok=True)
    header = csrc / TUNING_HEADER
    # A tree from before the tuning header (older commits) reads -D macros instead.
    macros = [] if header.exists() else [f"-DMIXUP_EXT_{name}={value}" for name, value in settings.items()]
    if header.exists():
        tuned = tuning_header(header.read_text(), settings)
        header.write_text(tuned)
    ext.load(
        name=build_name,
        # The schemas (mixup.cpp, with the host ops it defines), the plan and
        # what it calls, and the kernels.
        sources=[
            str(csrc / name)
            for name in (
                "mixup.cpp",
                "cpu/isa.cpp",
                "messages.cpp",
                "value_checks.cpp",
                "row_tile.cpp",
                "fused_mix_plan.cpp",
                "cuda/fused_mix_kernel.cu",
            )
            if (csrc / name).exists()
        ],
        extra_include_paths=[str(csrc)],
        extra_cflags=_build.CXX_FLAGS,
        extra_cuda_cflags=_build.NVCC_FLAGS + macros,
        build_directory=str(build_dir),
        is_python_module=False,
        verbose=verbose,
    )


def _bench(fn) -> float:
    from triton.testing import do_bench

    return do_bench(fn, warmup=25, rep=100, return_mode="median")


def _time_variant(shape: str) -> list[dict]:
    """Forward and backward op of every case, and the uint8 forward, as
    ratios to x.clone() (an fp32 clone for uint8, as the goals are written).
    The pseudo-shape ``compile`` loads no build and times torch.compile of
    the uint8 formula instead: the peer every uint8 figure names; ``bytes``
    times torch's own ``x.to(out_dtype)``, the same bytes with no mixing."""
    import torch

    from .case_data import CUDA_CASES, NUM_CLASSES, SMOOTHING, UINT8_CUDA_CASES, setup, uint8_formula, uint8_setup

    compiled, bytes_alone = (shape == pseudo for pseudo in PSEUDO_SHAPES)
    if shape not in PSEUDO_SHAPES:
        _load(shape)
    rows = []
    for case in [] if shape in PSEUDO_SHAPES else CUDA_CASES:
        a = setup(case, "cuda")
        clone = _bench(lambda: a["x"].clone())
        forward = _bench(
            lambda: torch.ops.mixup.fused_mix(
                a["x"], a["target"], a["index"], a["lam"], a["box"], NUM_CLASSES, SMOOTHING
            )
        )
        backward = _bench(lambda: torch.ops.mixup._fused_mix_backward(a["grad"], a["index"], a["lam"], a["box"], 1.0))
        rows.append(dict(shape=shape, case=case.id, clone_ms=clone, forward=forward / clone, backward=backward / clone))
        a = None  # the case's tensors go before the next case's are made
        torch.cuda.empty_cache()
    for case in UINT8_CUDA_CASES:
        a = uint8_setup(case, "cuda")
        x_float = a["x"].float()
        clone = _bench(x_float.clone)
        if bytes_alone:
            call = lambda: a["x"].to(case.out_dtype)  # noqa: E731
        elif compiled:
            formula = torch.compile(uint8_formula, dynamic=False)
            call = lambda: formula(a["x"], a["index"], a["lam"], a["box"], a["mean"], a["std"], case.out_dtype)  # noqa: E731
        else:
            call = lambda: torch.ops.mixup.fused_mix(  # noqa: E731
                a["x"],
                None,
                a["index"],
                a["lam"],
                a["box"],
                0,
                0.0,
                a["mean"].flatten(),
                a["std"].flatten(),
                case.out_dtype,
            )
        rows.append(dict(shape=shape, case=case.id, clone_ms=clone, forward=_bench(call) / clone, backward=None))
        a = x_float = None  # the case's tensors go before the next case's are made
        torch.cuda.empty_cache()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--shapes",
        default=DEFAULT_SHAPES,
        help="comma-separated THREADSxUNROLL[+NAME=VALUE...][@CSRC] (each a -DMIXUP_EXT_NAME=VALUE "
        "of csrc/cuda/fused_mix_device.cuh; @CSRC builds another tree's csrc/), or a pseudo-shape: "
        "compile (torch.compile of the uint8 formula) or bytes (x.to(out_dtype))",
    )
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
    builds_needed = [s for s in shapes if s not in PSEUDO_SHAPES]
    env = dict(os.environ, MAX_JOBS=str(max(1, (os.cpu_count() or 4) // max(1, len(builds_needed)))))
    cmd = lambda shape, *extra: [sys.executable, "-m", "bench.tune", "--worker", shape, *extra]  # noqa: E731
    with ThreadPoolExecutor(max(1, len(builds_needed))) as pool:
        builds = list(
            pool.map(
                lambda s: subprocess.run(cmd(s, "--build-only"), env=env, capture_output=True, text=True), builds_needed
            )
        )
    for shape, build in zip(builds_needed, builds):
        if build.returncode != 0:
            sys.exit(f"build of {shape} failed:\n{build.stderr[-3000:]}")

    rows = []
    for shape in shapes:
        result = subprocess.run(cmd(shape), capture_output=True, text=True, check=True)
        rows += json.loads(result.stdout.strip().splitlines()[-1])

    cases = list(dict.fromkeys(r["case"] for r in rows))
    print("Ratios to x.clone() (same process; an fp32 clone for uint8 cases); forward op / backward op alone.\n")
    print("| threads x unroll | " + " | ".join(cases) + " |")
    print("|---|" + "---:|" * len(cases))
    for shape in shapes:
        by_case = {r["case"]: r for r in rows if r["shape"] == shape}
        cells = [
            "-"
            if c not in by_case
            else f"{by_case[c]['forward']:.2f}"
            + ("" if by_case[c]["backward"] is None else f" / {by_case[c]['backward']:.2f}")
            for c in cases
        ]
        print(f"| {shape} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()

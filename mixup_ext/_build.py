"""What to compile, and how: shared by ``setup.py`` (ahead of time) and the JIT
loader (``mixup_ext._loader``), so both build the same library.

This module imports nothing but the standard library at import time, so
``setup.py`` can load it by path before the package is importable.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Compiled kernels come from one folder per backend, as in torchvision's csrc/ops.
#: cpu/isa/ holds the vector loops built once per instruction set (csrc/cpu/isa.h).
CPU_SOURCE_GLOBS = ("*.cpp", "cpu/*.cpp", "autograd/*.cpp", "cpu/isa/*.cpp")
CUDA_SOURCE_GLOBS = ("cuda/*.cu",)

#: Default GPU targets for ahead-of-time builds: Ampere and Hopper. Override
#: with TORCH_CUDA_ARCH_LIST as usual.
DEFAULT_CUDA_ARCH_LIST = "8.0;9.0"

# No -std= here: torch.utils.cpp_extension picks the C++ standard its headers
# were built for (C++20 since torch 2.10). Forcing another one changes class
# layouts between this library and libtorch, and the first exception thrown
# across the boundary crashes the process.
# -fopenmp: at::parallel_for is ATen/ParallelOpenMP.h's inline `#pragma omp
# parallel`, compiled into these sources; without the flag every CPU kernel
# runs on one thread (torch links the same libgomp).
# -Wno-unknown-pragmas, -Wno-psabi: torch's at::vec headers (csrc/cpu/isa/)
# carry CUDA-style `#pragma unroll`s, and pass vectors by value, which GCC
# notes as an ABI change of GCC 4.6 under C++17 (torch 2.11); GCC 12 cannot
# silence either from the source with `#pragma GCC diagnostic`.
CXX_FLAGS = ["-O3", "-fopenmp", "-Wno-unknown-pragmas", "-Wno-psabi"]
NVCC_FLAGS = ["-O3", "-lineinfo"]


#: MIXUP_EXT_SANITIZE=1 builds the CPU kernels with AddressSanitizer and
#: UndefinedBehaviorSanitizer (a test build: .ci/sanitize_cpu runs the kernel
#: tests against it). UBSan findings abort instead of printing and going on.
SANITIZE_FLAGS = [
    "-O1",
    "-g",
    "-fno-omit-frame-pointer",
    "-fsanitize=address,undefined",
    "-fno-sanitize-recover=undefined",
]


def sanitize() -> bool:
    return os.environ.get("MIXUP_EXT_SANITIZE") == "1"


def cxx_flags() -> list[str]:
    return CXX_FLAGS + (SANITIZE_FLAGS if sanitize() else [])


def link_flags() -> list[str]:
    return ["-fopenmp"] + (["-fsanitize=address,undefined"] if sanitize() else [])


def repo_root() -> Path:
    return Path(__file__).resolve().parent.parent


#: Where a wheel or an sdist install carries the C++/CUDA sources, inside the
#: package (setup.py copies csrc/ there), so an installed copy can JIT-build.
PACKAGED_CSRC = Path(__file__).resolve().parent / "csrc"


def contract_dir() -> Path:
    """This package's own csrc/: the copy an installed package carries, else
    the checkout's. The contract files (csrc/*.def) are read from here, never
    from $MIXUP_EXT_CSRC, which only says what to compile: the reference
    backend must find them even when no sources can be built."""
    return PACKAGED_CSRC if PACKAGED_CSRC.is_dir() else repo_root() / "csrc"


def csrc_dir() -> Path:
    """The C++/CUDA sources to compile: $MIXUP_EXT_CSRC, else this package's
    own (``contract_dir``)."""
    if os.environ.get("MIXUP_EXT_CSRC"):
        return Path(os.environ["MIXUP_EXT_CSRC"])
    return contract_dir()


def sources(csrc: Path, with_cuda: bool) -> list[str]:
    globs = CPU_SOURCE_GLOBS + (CUDA_SOURCE_GLOBS if with_cuda else ())
    found = sorted(str(p) for pattern in globs for p in csrc.glob(pattern))
    if not found:
        raise FileNotFoundError(f"mixup_ext: no C++ sources under {csrc}")
    return found


def cuda_toolkit_usable() -> bool:
    """True when torch was built with CUDA and a CUDA toolkit (nvcc) is present.

    Decided from the toolchain, never from torch.cuda.is_available(): a build
    machine without a GPU must still produce CUDA kernels.
    """
    import torch
    from torch.utils.cpp_extension import CUDA_HOME

    if os.environ.get("MIXUP_EXT_FORCE_CPU") == "1" or sanitize():  # the sanitizers are host-side
        return False
    return torch.version.cuda is not None and CUDA_HOME is not None

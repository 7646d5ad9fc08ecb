"""The CPU loss rows per instruction set (csrc/cpu/isa.h): the process uses
the set torch's own kernels use, every set torch can be asked for passes the
loss tests, and the AVX units hand no inline function to baseline code."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch.utils import cpp_extension

import mixup_ext
from mixup_ext import _build

# torch.backends.cpu.get_cpu_capability()'s names, and ours.
TORCH_TO_OURS = {"AVX512": "avx512", "AVX2": "avx2"}
ORDER = ["default", "avx2", "avx512"]
X86_GCC = platform.machine() in ("x86_64", "AMD64") and shutil.which("g++") is not None

compiled_only = pytest.mark.skipif(mixup_ext.backend() == "reference", reason="the reference backend has no CPU loops")


@compiled_only
def test_process_uses_torchs_choice():
    expected = TORCH_TO_OURS.get(torch.backends.cpu.get_cpu_capability(), "default") if X86_GCC else "default"
    assert torch.ops.mixup._cpu_vector_isa() == expected


def _available():
    best = TORCH_TO_OURS.get(torch.backends.cpu.get_cpu_capability(), "default") if X86_GCC else "default"
    return ORDER[: ORDER.index(best) + 1]


@compiled_only
@pytest.mark.slow
@pytest.mark.parametrize("isa", ORDER)
def test_loss_tests_pass_on_each_instruction_set(isa):
    """ATEN_CPU_CAPABILITY picks torch's kernels and ours alike; the CPU loss
    tests then run on that set's loops. Deselected: CUDA, and torch.compile,
    whose generated C++ does not build under ATEN_CPU_CAPABILITY=default
    (torch 2.13: "tmp_acc0_vec was not declared")."""
    if isa not in _available():
        pytest.skip(f"this CPU (torch: {torch.backends.cpu.get_cpu_capability()}) cannot run {isa}")
    env = {**os.environ, "ATEN_CPU_CAPABILITY": isa}
    check = subprocess.run([sys.executable, "-c", "import mixup_ext, torch; print(torch.ops.mixup._cpu_vector_isa())"],
                           env=env, capture_output=True, text=True, timeout=300)
    assert check.stdout.strip() == isa, check.stderr[-2000:]
    tests = Path(__file__).parent
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "-k", "cpu and not slow and not compile",
         str(tests / "test_mixup_cross_entropy.py"), str(tests / "test_mixup_binary_cross_entropy.py")],
        env=env, capture_output=True, text=True, timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.skipif(not X86_GCC, reason="the AVX units are built by GCC on x86-64 only")
@pytest.mark.parametrize("unit", ["mixup_loss_rows_avx2.cpp", "mixup_loss_rows_avx512.cpp"])
def test_avx_units_define_no_weak_symbols(unit, tmp_path):
    """A weak (inline) function an AVX unit emits could be the copy the
    linker keeps for baseline callers too, and crash a CPU without AVX. The
    loops sit in an anonymous namespace, so only the table is exported."""
    source = _build.csrc_dir() / "cpu" / "isa" / unit
    obj = tmp_path / "unit.o"
    includes = [f"-I{p}" for p in cpp_extension.include_paths()] + [f"-I{_build.csrc_dir()}"]
    compiled = subprocess.run(["g++", "-std=c++20", "-fPIC", "-c", str(source), "-o", str(obj), *_build.CXX_FLAGS,
                               *includes], capture_output=True, text=True, timeout=600)
    assert compiled.returncode == 0, compiled.stderr[-4000:]
    symbols = subprocess.run(["nm", "-C", "--defined-only", str(obj)], capture_output=True, text=True, check=True)
    weak = [line for line in symbols.stdout.splitlines() if line.split(" ")[1:2] and line.split(" ")[1] in "WVu"]
    assert not weak, "\n".join(weak[:20])
    exported = [line for line in symbols.stdout.splitlines() if line.split(" ")[1:2] and line.split(" ")[1] in "TDR"]
    assert all("kLossRowTable" in line for line in exported), exported

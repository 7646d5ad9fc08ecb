"""The CPU loss rows per instruction set (csrc/cpu/isa.h): the process uses
the set torch's own kernels use. The loss tests themselves run once per set
in CI (.ci/sanitize_cpu: ``-m isa`` under each ATEN_CPU_CAPABILITY), where
this test, marked ``isa`` too, checks that the variable reached our choice;
.ci/check_isa_units checks that the AVX units export no inline code."""

from __future__ import annotations

import platform
import shutil

import pytest
import torch

import mixup_ext

# torch.backends.cpu.get_cpu_capability()'s names, and ours.
TORCH_TO_OURS = {"AVX512": "avx512", "AVX2": "avx2"}
X86_GCC = platform.machine() in ("x86_64", "AMD64") and shutil.which("g++") is not None


@pytest.mark.isa
@pytest.mark.skipif(mixup_ext.backend() == "reference", reason="the reference backend has no CPU loops")
def test_process_uses_torchs_choice():
    expected = TORCH_TO_OURS.get(torch.backends.cpu.get_cpu_capability(), "default") if X86_GCC else "default"
    assert torch.ops.mixup._cpu_vector_isa() == expected

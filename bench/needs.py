"""What a benchmark tool needs, checked before it measures anything: a tool
that would crash after minutes of timing, or deep inside CUDA, says what is
missing and what to run instead."""

from __future__ import annotations

import importlib
import importlib.util
import types
from pathlib import Path

import torch

from tests.peers import timm_bce_module, timm_mixup_module, timm_naflex_mixup_module  # noqa: F401  (the suites' peers)


def cuda_or_exit(tool: str, purpose: str) -> None:
    if not torch.cuda.is_available():
        raise SystemExit(
            f"{tool} {purpose}, so it needs a CUDA GPU, and this machine has none "
            f"(torch {torch.__version__}). On a CPU, run: python -m bench --device cpu"
        )


def build_module() -> types.ModuleType:
    """mixup_ext/_build.py (the build's flags and sources), loaded by path:
    importing the mixup_ext package would load, or JIT-compile, its own build
    of the library, which a tool that builds variants must not do."""
    spec = importlib.util.spec_from_file_location(
        "_mixup_ext_build", Path(__file__).parent.parent / "mixup_ext" / "_build.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nvcc_or_exit(tool: str) -> None:
    if not build_module().cuda_toolkit_usable():
        raise SystemExit(
            f"{tool} compiles CUDA variants of the kernels, so it needs a CUDA build of torch and nvcc (CUDA_HOME)"
        )


def device_or_exit(tool: str, device: str) -> None:
    if torch.device(device).type == "cuda":
        cuda_or_exit(f"{tool} --device {device}", "times CUDA kernels")


def matplotlib_or_exit(flag: str) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise SystemExit(
            f"{flag} needs matplotlib, which is not installed (checked before measuring, so no run is lost): "
            'pip install matplotlib, or pip install --no-build-isolation -e ".[bench]"'
        ) from None

"""What a benchmark tool needs, checked before it measures anything: a tool
that would crash after minutes of timing, or deep inside CUDA, says what is
missing and what to run instead."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os

import torch


def cuda_or_exit(tool: str, purpose: str) -> None:
    if not torch.cuda.is_available():
        raise SystemExit(
            f"{tool} {purpose}, so it needs a CUDA GPU, and this machine has none "
            f"(torch {torch.__version__}). On a CPU, run: python -m bench --device cpu"
        )


def nvcc_or_exit(tool: str) -> None:
    from mixup_ext import _build

    if not _build.cuda_toolkit_usable():
        raise SystemExit(f"{tool} compiles CUDA variants of the kernels, so it needs a CUDA build of torch and nvcc (CUDA_HOME)")


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


@functools.cache
def timm_file_module(dotted: str):
    """One module of timm's own source (``"data.mixup"``,
    ``"loss.binary_cross_entropy"``), however timm is installed, or None.

    ``pip install --no-deps timm`` (the README's test command on CPU machines)
    leaves timm's package __init__ unable to import torchvision, but
    timm/data/mixup.py and timm/loss/binary_cross_entropy.py need only numpy
    and torch, so the file is loaded by path. Shared by the parity tests and
    the benchmarks.
    """
    try:
        return importlib.import_module(f"timm.{dotted}")
    except ImportError:
        pass
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], *dotted.split(".")) + ".py"
    if not os.path.exists(path):
        return None
    file_spec = importlib.util.spec_from_file_location("_timm_" + dotted.replace(".", "_"), path)
    module = importlib.util.module_from_spec(file_spec)
    file_spec.loader.exec_module(module)
    return module


def timm_mixup_module():
    """timm's ``timm/data/mixup.py`` (Mixup, mixup_target), or None."""
    return timm_file_module("data.mixup")


def timm_bce_module():
    """timm's ``timm/loss/binary_cross_entropy.py`` (BinaryCrossEntropy), or None."""
    return timm_file_module("loss.binary_cross_entropy")

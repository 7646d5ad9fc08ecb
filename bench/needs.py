"""What a benchmark tool needs, checked before it measures anything: a tool
that would crash after minutes of timing, or deep inside CUDA, says what is
missing and what to run instead."""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
import types
from pathlib import Path

import torch


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
    spec = importlib.util.spec_from_file_location("_mixup_ext_build",
                                                  Path(__file__).parent.parent / "mixup_ext" / "_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def nvcc_or_exit(tool: str) -> None:
    if not build_module().cuda_toolkit_usable():
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
    ``"data.naflex_mixup"``, ``"loss.binary_cross_entropy"``), however timm is
    installed, or None.

    ``pip install --no-deps timm`` (the README's test command on CPU machines)
    leaves timm's package __init__ unable to import torchvision, but these
    files need only numpy and torch, so they are loaded from timm's folders
    as submodules of a stand-in package (``_timm_data`` for timm/data), where
    their relative imports (``from .mixup import mixup_target``) resolve to
    the same files. Shared by the parity tests and the benchmarks.
    """
    try:
        return importlib.import_module(f"timm.{dotted}")
    except ImportError:
        pass
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        return None
    *folders, name = dotted.split(".")
    folder = os.path.join(list(spec.submodule_search_locations)[0], *folders)
    if not os.path.exists(os.path.join(folder, name + ".py")):
        return None
    package = "_timm_" + "_".join(folders)
    if package not in sys.modules:
        shell = types.ModuleType(package)
        shell.__path__ = [folder]
        sys.modules[package] = shell
    return importlib.import_module(f"{package}.{name}")


def timm_mixup_module():
    """timm's ``timm/data/mixup.py`` (Mixup, mixup_target), or None."""
    return timm_file_module("data.mixup")


def timm_naflex_mixup_module():
    """timm's ``timm/data/naflex_mixup.py`` (NaFlexMixup, timm >= 1.0.16), or None."""
    return timm_file_module("data.naflex_mixup")


def timm_bce_module():
    """timm's ``timm/loss/binary_cross_entropy.py`` (BinaryCrossEntropy), or None."""
    return timm_file_module("loss.binary_cross_entropy")

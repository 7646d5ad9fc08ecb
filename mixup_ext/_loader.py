"""Loads the `mixup` operator library, exactly once per process.

Order: the ahead-of-time build from setup.py (``mixup_ext/_C*.so``); else a
JIT build of ``csrc/`` with ``torch.utils.cpp_extension.load``; else the pure
PyTorch reference, with one warning that says why. ``MIXUP_EXT_BACKEND=aot``,
``jit`` or ``reference`` forces one and turns its failure into an error.

Never load two compiled copies: each runs ``TORCH_LIBRARY(mixup, ...)``, and a
second definition of the namespace aborts the import.
"""

from __future__ import annotations

import importlib.util
import os
import warnings

import torch

from . import _build, _registrations

BACKENDS = ("aot", "jit", "reference")
ENV_VAR = "MIXUP_EXT_BACKEND"

_backend: str | None = None


def backend() -> str:
    """The backend in use: ``"aot"``, ``"jit"`` or ``"reference"``."""
    if _backend is None:
        raise RuntimeError("mixup_ext: no backend loaded yet (import mixup_ext first)")
    return _backend


def _load_aot() -> None:
    spec = importlib.util.find_spec("mixup_ext._C")
    if spec is None or spec.origin is None:
        raise ImportError(
            "no ahead-of-time build (mixup_ext/_C*.so) found; build it with "
            "`pip install --no-build-isolation -e .`"
        )
    try:
        torch.ops.load_library(spec.origin)
    except OSError as e:  # most often: built against another torch
        raise ImportError(
            f"could not load {spec.origin} ({e}); it was probably built against another torch "
            f"than {torch.__version__}: rebuild with `pip install --no-build-isolation -e .`"
        ) from e


def _load_jit() -> None:
    from torch.utils.cpp_extension import load

    with_cuda = _build.cuda_toolkit_usable()
    csrc = _build.csrc_dir()
    load(
        name="mixup_ext_jit_cuda" if with_cuda else "mixup_ext_jit_cpu",
        sources=_build.sources(csrc, with_cuda),
        extra_include_paths=[str(csrc)],
        extra_cflags=_build.CXX_FLAGS,
        extra_cuda_cflags=_build.NVCC_FLAGS,
        with_cuda=with_cuda,
        is_python_module=False,
        verbose=os.environ.get("MIXUP_EXT_VERBOSE") == "1",
    )


def load() -> str:
    """Loads a backend (once) and registers the Python-side kernels."""
    global _backend
    if _backend is not None:
        return _backend
    forced = os.environ.get(ENV_VAR, "").strip().lower() or None
    if forced is not None and forced not in BACKENDS:
        raise ValueError(f"{ENV_VAR} must be one of {', '.join(BACKENDS)}, got {forced!r}")

    loaders = {"aot": _load_aot, "jit": _load_jit}
    failures = []
    for name in (forced,) if forced else BACKENDS:
        if name == "reference":
            _registrations.register_reference()
            if not forced:
                warnings.warn(
                    "mixup_ext: no compiled kernels could be loaded, so the pure-PyTorch reference is "
                    "in use (same results, several times slower). Why: " + "; ".join(failures)
                    + f". Build with `pip install --no-build-isolation -e .`, or set {ENV_VAR}=reference "
                    "to choose it and silence this warning.",
                    RuntimeWarning,
                    stacklevel=3,
                )
            break
        try:
            loaders[name]()
        except Exception as e:  # noqa: BLE001 -- any build or load failure moves to the next backend
            if forced:
                raise ImportError(f"mixup_ext: {ENV_VAR}={name} failed: {e}") from e
            failures.append(f"{name}: {e}")
            continue
        _registrations.register_compiled()
        break
    _backend = name
    return name

"""Loads the `mixup` operator library, exactly once per process.

Order: the ahead-of-time build from setup.py (``mixup_ext/_C*.so``); else a
JIT build of ``csrc/`` with ``torch.utils.cpp_extension.load``; else the pure
PyTorch reference, with one warning that says why. ``MIXUP_EXT_BACKEND=aot``,
``jit`` or ``reference`` forces one and turns its failure into an error.

Never load two compiled copies: each runs ``TORCH_LIBRARY(mixup, ...)``, and a
second definition of the namespace aborts the import.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import sys
import warnings
from pathlib import Path

import torch

from . import _build, _registrations

BACKENDS = ("aot", "jit", "reference")
# What a backend that cannot load raises; anything else is a bug and propagates.
_LOAD_FAILURES = (ImportError, OSError, RuntimeError)
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
            "no ahead-of-time build (mixup_ext/_C*.so) found; build it with `pip install --no-build-isolation -e .`"
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
    name = "mixup_ext_jit_cuda" if with_cuda else "mixup_ext_jit_cpu"
    sources = _build.sources(csrc, with_cuda)
    _announce_jit_build(name, sources, csrc, with_cuda)
    with _exclusive_build(name):
        load(
            name=name,
            sources=sources,
            extra_include_paths=[str(csrc)],
            extra_cflags=_build.CXX_FLAGS,
            extra_ldflags=_build.link_flags(),
            extra_cuda_cflags=_build.NVCC_FLAGS,
            with_cuda=with_cuda,
            is_python_module=False,
            verbose=os.environ.get("MIXUP_EXT_VERBOSE") == "1",
        )


@contextlib.contextmanager
def _exclusive_build(name: str):
    """Makes torch's build lock harmless when a build dies.

    torch.utils.cpp_extension marks a build in progress with a ``lock`` file
    in the build directory and waits, silently and without end, for it to go
    away; a build killed mid-way (Ctrl-C, a timeout, the OOM killer) leaves it
    behind, and every later import hangs. Around torch's lock this holds an
    OS file lock (flock), which the kernel releases when its process dies.
    So whoever holds the flock knows that no live mixup_ext build owns torch's
    lock file, and removes a leftover one, saying so; a second process waits
    for the first, and says that too."""
    try:
        import fcntl
    except ImportError:  # no flock (Windows): torch's lock alone, as before
        yield
        return
    from torch.utils.cpp_extension import _get_build_directory

    build_dir = Path(_get_build_directory(name, verbose=False))
    with open(build_dir / "mixup_ext.flock", "a") as held:
        try:
            fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(
                f"mixup_ext: another process is JIT-building into {build_dir}; waiting for it to finish",
                file=sys.stderr,
                flush=True,
            )
            fcntl.flock(held, fcntl.LOCK_EX)
        stale = build_dir / "lock"
        if stale.exists():
            print(
                f"mixup_ext: removed {stale}, left by a JIT build that was interrupted (no live build holds it)",
                file=sys.stderr,
                flush=True,
            )
            stale.unlink(missing_ok=True)
        try:
            yield
        finally:
            fcntl.flock(held, fcntl.LOCK_UN)


def _announce_jit_build(name: str, sources: list[str], csrc: Path, with_cuda: bool) -> None:
    """One line on stderr before a JIT build that will compile, so a silent
    minute is never a mystery: what, roughly how long, and where it caches.
    (A cached, up-to-date build loads in a second and prints nothing.)"""
    from torch.utils.cpp_extension import _get_build_directory

    cache = Path(_get_build_directory(name, verbose=False))
    built = cache / f"{name}.so"
    watched = [Path(s) for s in sources] + [p for pattern in ("*.h", "*.def") for p in csrc.rglob(pattern)]
    if built.exists() and all(p.stat().st_mtime <= built.stat().st_mtime for p in watched):
        return
    what = "CPU and CUDA" if with_cuda else "CPU"
    minutes = "2-5 minutes" if with_cuda else "about a minute"
    print(
        f"mixup_ext: JIT-compiling the {what} kernels from {csrc} ({len(sources)} files, {minutes} on a few "
        f"cores, once); cached in {cache}. Set MIXUP_EXT_VERBOSE=1 to see the compiler.",
        file=sys.stderr,
        flush=True,
    )


def _shadowed_install() -> Path | None:
    """An installed mixup_ext with compiled kernels that the imported one hides.

    Run from a checkout after `pip install .`, Python imports the checkout's
    mixup_ext/ (first on sys.path: the current folder), which has no _C
    library, and the installed copy is never seen."""
    here = Path(__file__).resolve().parent
    for entry in sys.path:
        candidate = Path(entry or ".").resolve() / "mixup_ext"
        if candidate != here and candidate.is_dir() and any(candidate.glob("_C*.so")):
            return candidate
    return None


def _warn_if_shadowing() -> None:
    installed = _shadowed_install()
    if installed is not None:
        warnings.warn(
            f"mixup_ext: imported from {Path(__file__).resolve().parent}, which has no compiled library and hides "
            f"the installed copy at {installed}; falling back to a JIT build of this checkout. Run from "
            "another folder to use the installed copy, or build this one in place with "
            "`pip install --no-build-isolation -e .`.",
            RuntimeWarning,
            stacklevel=4,
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
        if name == "jit" and not forced:
            _warn_if_shadowing()
        if name == "reference":
            _registrations.register_reference()
            if not forced:
                warnings.warn(
                    "mixup_ext: no compiled kernels could be loaded, so the pure-PyTorch reference is "
                    "in use (same results, several times slower). Why: "
                    + "; ".join(failures)
                    + f". Build with `pip install --no-build-isolation -e .`, or set {ENV_VAR}=reference "
                    "to choose it and silence this warning.",
                    RuntimeWarning,
                    stacklevel=3,
                )
            break
        try:
            loaders[name]()
        except _LOAD_FAILURES as e:
            # A missing or stale library (ImportError, OSError), or a JIT build
            # that failed (cpp_extension raises RuntimeError, a missing
            # compiler OSError): the next backend, with the reason kept.
            if forced:
                raise ImportError(f"mixup_ext: {ENV_VAR}={name} failed: {e}") from e
            failures.append(f"{name}: {e}")
            continue
        _registrations.register_compiled()
        break
    _backend = name
    return name

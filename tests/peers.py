"""The peers' own code, as the parity tests and the benchmarks load it.

timm is often installed here with ``pip install --no-deps`` (the README's
test command on CPU machines), which leaves its package ``__init__`` unable
to import torchvision; the files compared against need only numpy and torch,
so they are loaded by path. The benchmarks import these from here: the tests
own the peers, and depend on nothing of the bench.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import os
import sys
import types


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

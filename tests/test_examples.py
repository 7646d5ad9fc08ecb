"""The examples run as written (in CI, on the CPU): each is started as its
own process, as a user would, and must finish and print its last line."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
pytestmark = pytest.mark.slow  # each example is a process of its own


def run_example(name: str, *args: str) -> str:
    result = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


@pytest.mark.parametrize("workers", ["0", "2"])
def test_uint8_loader_example_trains_from_uint8_batches(workers):
    out = run_example("uint8_loader.py", "--steps", "6", "--batch", "16", "--workers", workers, "--device", DEVICE)
    assert "torch.bfloat16" in out  # the model saw the normalised bf16 batch
    assert "6 steps in" in out


def test_train_step_example_learns_through_the_librarys_sampler():
    out = run_example("train_step.py", "--steps", "150", "--device", DEVICE)
    losses = [float(v) for v in re.findall(r"mixed-target loss (\S+)", out)]
    assert len(losses) == 3 and all(math.isfinite(v) for v in losses), out
    accuracy = re.search(r"held-out accuracy (\S+)% after 150 steps", out)
    assert accuracy, out
    assert float(accuracy.group(1)) > 15.0, f"no better than chance (10 classes): {out}"


def test_naflex_train_example_runs_timms_naflex_loader_with_our_mixup():
    """timm's real NaFlex path (create_naflex_loader, naflexvit) with
    NaFlexMixup swapped in. It needs timm's full import, which needs
    torchvision's compiled ops: on the CPU machines here they do not load, so
    this runs where they do (the GPU machine)."""
    pytest.importorskip("torchvision.transforms.v2")
    pytest.importorskip("timm.data", exc_type=ImportError)
    out = run_example("naflex_train.py", "--steps", "4")
    assert re.search(r"^4 steps in \S+ s", out, flags=re.M), out

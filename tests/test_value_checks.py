"""Bad values of the small arguments: lam outside [0, 1] or NaN is refused
on the CPU, always, in the same words by the compiled op and the reference;
on a GPU only with value checks on (mixup_ext.set_value_checks), which copy
the values to the host at one sync per call."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys

import pytest
import torch

import mixup_ext
from mixup_ext import reference

from .helpers import refused_alike, requires_cuda

pytestmark = pytest.mark.cpu_kernels

BAD_LAMS = [(1.5, "got 1.5 at position 2"), (-0.25, "got -0.25 at position 2"), (float("nan"), "got nan at position 2")]


@contextlib.contextmanager
def value_checks(enabled: bool):
    previous = mixup_ext.set_value_checks(enabled)
    try:
        yield
    finally:
        mixup_ext.set_value_checks(previous)


def _batch(device):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 6, 5, generator=g).to(device)
    return x, torch.tensor([1, 0, 3, 2], device=device), torch.tensor([0, 1, 2, 1], device=device)


def _lam(bad, device, dim=1):
    lam = torch.tensor([0.25, 1.0, bad, 0.0], device=device)
    return lam if dim == 1 else lam[2]


@pytest.mark.parametrize("bad, words", BAD_LAMS)
def test_fused_mix_refuses_lam_outside_the_unit_interval(bad, words):
    x, index, target = _batch("cpu")
    lam = _lam(bad, "cpu")
    refused_alike(
        f"mixup::fused_mix: lam must be in \\[0, 1\\], {words}",
        lambda: torch.ops.mixup.fused_mix(x, target, index, lam, None, 4, 0.1),
        lambda: reference.fused_mix_op(x, target, index, lam, None, 4, 0.1),
        unchanged=(x,),
    )


def test_a_0d_lam_is_named_without_a_position():
    x, index, target = _batch("cpu")
    with pytest.raises(ValueError, match=r"lam must be in \[0, 1\], got 1.5$"):
        torch.ops.mixup.fused_mix(x, target, index, _lam(1.5, "cpu", dim=0), None, 4, 0.0)


def test_the_backward_op_refuses_it_too():
    x, index, _ = _batch("cpu")
    lam = _lam(2.0, "cpu")
    refused_alike(
        r"mixup::_fused_mix_backward: lam must be in \[0, 1\], got 2.0 at position 2",
        lambda: torch.ops.mixup._fused_mix_backward(x, index, lam, None, 1.0),
        lambda: reference._fused_mix_backward(x, index, lam, None, 1.0),
    )


@pytest.mark.parametrize("loss", ["mixup_cross_entropy", "mixup_binary_cross_entropy"])
@pytest.mark.parametrize("bad, words", BAD_LAMS)
def test_the_losses_refuse_it(loss, bad, words):
    logits = torch.randn(4, 5)
    y_a, y_b = torch.tensor([0, 1, 2, 3]), torch.tensor([4, 3, 2, 1])
    lam = _lam(bad, "cpu")
    extra = (None, None, True) if "binary" in loss else ()
    refused_alike(
        f"mixup::{loss}: lam must be in \\[0, 1\\], {words}",
        lambda: getattr(torch.ops.mixup, loss)(logits, y_a, y_b, lam, 0.0, *extra),
        lambda: getattr(reference, loss)(logits, y_a, y_b, lam, 0.0, *extra),
    )
    # The public wrapper, as a user calls it (timm's loss over class ids).
    with pytest.raises(ValueError, match="lam must be in"):
        getattr(mixup_ext, loss)(logits, y_a, y_b, lam)


def test_the_edges_of_the_interval_are_fine():
    x, index, target = _batch("cpu")
    for lam in (torch.tensor([0.0, 1.0, 0.0, 1.0]), torch.tensor(1.0, dtype=torch.float64)):
        out, mixed = torch.ops.mixup.fused_mix(x, target, index, lam, None, 4, 0.0)
        assert torch.isfinite(out).all() and torch.allclose(mixed.sum(1), torch.ones(4))


def test_set_value_checks_returns_the_previous_setting_and_takes_bools_only():
    start = mixup_ext.set_value_checks(True)
    try:
        assert mixup_ext.set_value_checks(False) is True
        assert mixup_ext.set_value_checks(False) is False
        with pytest.raises(ValueError, match="enabled must be a bool, got 1"):
            mixup_ext.set_value_checks(1)
    finally:
        mixup_ext.set_value_checks(start)


@pytest.mark.slow
def test_the_environment_turns_value_checks_on_from_the_start():
    code = "import mixup_ext; print(mixup_ext.set_value_checks(False))"
    env = {**os.environ, "MIXUP_EXT_CHECK_VALUES": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


@requires_cuda
def test_on_cuda_the_hot_path_reads_no_values_and_value_checks_refuse_like_the_cpu():
    x, index, target = _batch("cuda")
    lam = _lam(1.5, "cuda")
    with value_checks(False):
        out, mixed = torch.ops.mixup.fused_mix(x, target, index, lam, None, 4, 0.0)  # mixes as given, no sync
        torch.cuda.synchronize()
    with value_checks(True):
        with pytest.raises(ValueError, match=r"mixup::fused_mix: lam must be in \[0, 1\], got 1.5 at position 2"):
            torch.ops.mixup.fused_mix(x, target, index, lam, None, 4, 0.0)
        with pytest.raises(ValueError, match=r"index values must be in \[0, B\) = \[0, 4\), found 7 at position 1"):
            torch.ops.mixup.fused_mix(
                x, target, torch.tensor([0, 7, 2, 3], device="cuda"), lam.clamp(0, 1), None, 4, 0.0
            )
        with pytest.raises(ValueError, match="mixup_cross_entropy: lam must be in"):
            mixup_ext.mixup_cross_entropy(torch.randn(4, 5, device="cuda"), target, target, lam)
        with pytest.raises(ValueError, match=r"y_a class ids must be in \[0, C\) = \[0, 5\), found 9"):
            mixup_ext.mixup_cross_entropy(torch.randn(4, 5, device="cuda"), target + 9, target, lam.clamp(0, 1))

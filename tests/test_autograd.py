"""Gradients of the fused op: gradcheck in float64, the backward op against
the reference's autograd and against its own reference, determinism, and the
Manifold Mixup formula lam * g + (1 - lam) * P^T g."""

from __future__ import annotations

import pytest
import torch

import mixup_ext
from mixup_ext import reference

from .helpers import (
    DEVICES,
    FLOAT_DTYPES,
    LAYOUTS,
    acc_dtype,
    assert_close,
    index_of,
    lam_of,
    poisoned_outputs,
    randn,
    random_boxes,
    with_layout,
)

pytestmark = [
    pytest.mark.cpu_kernels,
    pytest.mark.usefixtures("cuda_tile"),
]  # .ci/sanitize_cpu selects by these (pyproject.toml: markers)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("index_kind", ["permutation", "repeats", "all_same"])
@pytest.mark.parametrize("box_mode", ["none", "batch", "per_sample"])
@pytest.mark.parametrize("soft", [False, True], ids=["labels", "soft"])
def test_gradcheck_float64(device, index_kind, box_mode, soft):
    batch, height, width = 5, 4, 3
    x = randn((batch, 2, height, width), torch.float64, device).requires_grad_()
    if soft:
        target = torch.rand(batch, 6, dtype=torch.float64, device=device, requires_grad=True)
    else:
        target = torch.randint(0, 6, (batch,), device=device)
    index = index_of(index_kind, batch, device)
    lam = lam_of("per_sample", batch, torch.float64, device)
    box = {
        "none": None,
        "batch": torch.tensor([1, 3, 0, 2], device=device),
        "per_sample": random_boxes(batch, height, width, device),
    }[box_mode]

    def mix(x, target):
        out, mixed = mixup_ext.fused_mix(x, target, index, lam, box, 6, 0.1)
        return (out, mixed) if soft else out

    assert torch.autograd.gradcheck(mix, (x, target), check_undefined_grad=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("box_mode", ["none", "per_sample"])
def test_gradgradcheck_float64(device, box_mode):
    """Double backward (e.g. a gradient penalty through a mixed batch)."""
    batch, height, width = 4, 3, 5
    x = randn((batch, 2, height, width), torch.float64, device).requires_grad_()
    soft = torch.rand(batch, 3, dtype=torch.float64, device=device, requires_grad=True)
    index = index_of("repeats", batch, device)
    lam = lam_of("per_sample", batch, torch.float64, device)
    box = random_boxes(batch, height, width, device) if box_mode == "per_sample" else None
    assert torch.autograd.gradgradcheck(lambda x, t: mixup_ext.fused_mix(x, t, index, lam, box, 3, 0.2), (x, soft))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "strided_w", "unaligned"])
@pytest.mark.parametrize("index_kind", ["permutation", "repeats"])
def test_backward_matches_reference_autograd(device, dtype, layout, index_kind):
    batch, height, width = 7, 9, 6
    base = randn((batch, 3, height, width), dtype, device)
    index = index_of(index_kind, batch, device)
    lam = lam_of("per_sample", batch, acc_dtype(dtype), device)
    box = random_boxes(batch, height, width, device)
    soft = torch.rand(batch, 5, dtype=torch.float64).softmax(-1).to(device=device, dtype=dtype)
    grad_out = randn((batch, 3, height, width), dtype, device, seed=7)
    grad_mixed = randn((batch, 5), dtype, device, seed=8)

    def grads(fn):
        x = with_layout(base, layout).requires_grad_()
        t = soft.clone().requires_grad_()
        out, mixed = fn(x, t, index, lam, box, 5, 0.1)
        torch.autograd.backward((out, mixed), (grad_out, grad_mixed))
        return x.grad, t.grad

    with poisoned_outputs():
        gx, gt = grads(mixup_ext.fused_mix)
    rx, rt = grads(reference.fused_mix)
    # The reference sums in x's dtype through index_add; ours sums in float32
    # and rounds once, so half/bfloat16 may differ by a couple of ulps.
    scale = 4.0 if dtype in (torch.float16, torch.bfloat16) else 1.0
    assert_close(gx, rx, scale=scale)
    assert_close(gt, rt, scale=scale)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("box_mode", ["none", "batch", "per_sample"])
def test_backward_op_matches_reference(device, dtype, layout, box_mode):
    batch, height, width = 6, 7, 5
    grad = with_layout(randn((batch, 2, height, width), dtype, device), layout)
    index = index_of("repeats", batch, device)
    lam = lam_of("per_sample", batch, acc_dtype(dtype), device)
    box = {
        "none": None,
        "batch": torch.tensor([0, 5, 1, 4], device=device),
        "per_sample": random_boxes(batch, height, width, device),
    }[box_mode]
    with poisoned_outputs():
        got = torch.ops.mixup._fused_mix_backward(grad, index, lam, box, 0.9)
    expected = reference._fused_mix_backward(grad, index, lam, box, 0.9)
    assert_close(got, expected, scale=2.0)
    assert got.stride() == expected.stride()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("index_kind", ["permutation", "repeats", "all_same"])
def test_backward_is_bitwise_deterministic(device, index_kind):
    batch = 64
    grad = randn((batch, 3, 17, 19), torch.float32, device)
    index = index_of(index_kind, batch, device)
    lam = lam_of("per_sample", batch, torch.float32, device)
    box = random_boxes(batch, 17, 19, device)
    first = torch.ops.mixup._fused_mix_backward(grad, index, lam, box, 1.0)
    for _ in range(5):
        assert torch.equal(torch.ops.mixup._fused_mix_backward(grad, index, lam, box, 1.0), first)


@pytest.mark.parametrize("device", DEVICES)
def test_manifold_mixup_gradient_formula(device):
    """Mixing a hidden state: d/dh = lam * g + (1 - lam) * P^T g, for a permutation P."""
    batch, features = 8, 33
    weight = randn((features, features), torch.float64, device).requires_grad_()
    inputs = randn((batch, features), torch.float64, device, seed=3)
    hidden = inputs @ weight  # a non-leaf: timm's in-place mix would break here
    hidden.retain_grad()
    index = index_of("permutation", batch, device)
    lam = torch.tensor(0.37, dtype=torch.float64, device=device)
    out, _ = mixup_ext.fused_mix(hidden, torch.zeros(batch, dtype=torch.int64, device=device), index, lam, None, 2)
    g = randn((batch, features), torch.float64, device, seed=4)
    out.backward(g)
    permutation = torch.zeros(batch, batch, dtype=torch.float64, device=device)
    permutation[torch.arange(batch, device=device), index] = 1.0  # (P h)[i] = h[index[i]]
    torch.testing.assert_close(hidden.grad, lam * g + (1 - lam) * permutation.t() @ g)
    assert weight.grad is not None


@pytest.mark.parametrize("device", DEVICES)
def test_only_x_and_soft_targets_get_gradients(device):
    x = randn((4, 3), torch.float32, device).requires_grad_()
    lam = torch.full((4,), 0.3, device=device, requires_grad=True)
    out, mixed = mixup_ext.fused_mix(
        x, torch.tensor([0, 1, 0, 1], device=device), index_of("flip", 4, device), lam, None, 2
    )
    assert out.requires_grad and not mixed.requires_grad, "mixed class ids carry no gradient"
    out.sum().backward()
    assert x.grad is not None and lam.grad is None


@pytest.mark.parametrize("device", DEVICES)
def test_no_grad_input_means_no_graph(device):
    x = randn((4, 3), torch.float32, device)
    out, mixed = mixup_ext.fused_mix(
        x, torch.tensor([0, 1, 0, 1], device=device), index_of("flip", 4, device), 0.5, None, 2
    )
    assert not out.requires_grad and not mixed.requires_grad

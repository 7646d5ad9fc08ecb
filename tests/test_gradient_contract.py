"""Every op either has a correct gradient or refuses one clearly: never the
silent None that a custom op without an Autograd kernel of its own gives
(torch's fallback only warns, once, and leaves ``.grad`` None).

Two layers: the dispatcher must list an Autograd kernel for every op that
takes tensors, which catches an op added later without one; and every op has
an entry in ``CONTRACT`` below, which says what a tensor that needs a
gradient gets from it and is checked by calling the op. A new op fails
``test_every_op_states_its_gradient_contract`` until it gets an entry."""

from __future__ import annotations

import pytest
import torch

import mixup_ext
from mixup_ext import _contract

from .helpers import DEVICES

pytestmark = pytest.mark.cpu_kernels

ops = torch.ops.mixup
compiled = mixup_ext.backend() != "reference"


def _f64(*shape, device="cpu", seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, dtype=torch.float64, generator=g).to(device).requires_grad_()


def _mix_args(device):
    index = torch.tensor([2, 0, 1, 3], device=device)
    lam = torch.tensor([0.3, 0.7, 1.0, 0.45], dtype=torch.float64, device=device)
    box = torch.tensor([[1, 3, 0, 4], [-1, -1, -1, -1], [0, 5, 2, 3], [2, 2, 1, 1]], device=device)
    return index, lam, box


def _loss_args(device):
    y_a = torch.tensor([0, 4, 2, 1], device=device)
    return y_a, y_a.roll(1), torch.tensor([0.3, 0.7, 1.0, 0.0], dtype=torch.float64, device=device)


def _naflex_args():
    shapes = [(5, 7), (6, 4), (3, 3), (7, 7), (4, 5)]
    images = [_f64(2, h, w, seed=k) for k, (h, w) in enumerate(shapes)]
    pairs = torch.tensor([[0, 1], [3, 2]])
    lam = torch.tensor([0.3, 0.8], dtype=torch.float64)
    box = torch.tensor([[2, 2, 0, 1, 2, 2], [-1] * 6])  # a paste with different corners, and a blend
    return images, pairs, lam, box


# -- the ops with a gradient: gradcheck and gradgradcheck ------------------------------------------------------------


def _fused_mix(device):
    index, lam, box = _mix_args(device)
    return (lambda x, t: ops.fused_mix(x, t, index, lam, box, 6, 0.1)), (
        _f64(4, 3, 5, 6, device=device),
        _f64(4, 6, device=device, seed=1),
    )


def _fused_mix_backward(device):
    index, lam, box = _mix_args(device)
    std = torch.tensor([0.5, 2.0, 1.5], dtype=torch.float64, device=device)
    return (lambda g: ops._fused_mix_backward(g, index, lam, box, 1.0, std)), (_f64(4, 3, 5, 6, device=device),)


def _mixup_cross_entropy(device):
    y_a, y_b, lam = _loss_args(device)
    return (lambda z: ops.mixup_cross_entropy(z, y_a, y_b, lam, 0.1, "mean")[0]), (_f64(4, 5, device=device),)


def _mixup_binary_cross_entropy(device):
    y_a, y_b, lam = _loss_args(device)
    return (lambda z: ops.mixup_binary_cross_entropy(z, y_a, y_b, lam, 0.1, None, None, True, "none")), (
        _f64(4, 5, device=device),
    )


def _naflex_mix(device):
    images, pairs, lam, box = _naflex_args()
    return (lambda *xs: ops.naflex_mix([x.to(device) for x in xs], pairs, lam, box)), tuple(images)


# -- the ops that refuse: a node that raises on backward, or a refusal at the call ----------------------------------


def _loss_internals(name, device):
    y_a, y_b, lam = _loss_args(device)
    z = _f64(4, 5, device=device)
    bce = "binary" in name
    extra = (0.1, None, None, True) if bce else (0.1,)
    if name.endswith("_with_grad"):
        return lambda: getattr(ops, name)(z, y_a, y_b, lam, *extra, "sum")
    grad_loss = torch.ones((), dtype=torch.float64, device=device)
    if bce:
        return lambda: getattr(ops, name)(grad_loss, z, y_a, y_b, lam, *extra, "sum")
    shifted_lse = ops.mixup_cross_entropy(z.detach(), y_a, y_b, lam, 0.1, "sum")[1]
    return lambda: getattr(ops, name)(grad_loss, z, y_a, y_b, lam, shifted_lse, 0.1, "sum")


def _sample_mix_params(device):
    uniforms = torch.rand(5, 8, dtype=torch.float64, device=device, requires_grad=True)
    gammas = torch.rand(4, 5, dtype=torch.float64, device=device, requires_grad=True) + 0.1
    return lambda: ops._sample_mix_params(uniforms, gammas, None, 8, 8, 1.0, 0.5, True, True, None, True, True)


GRADIENT = {
    "fused_mix": _fused_mix,
    "_fused_mix_backward": _fused_mix_backward,
    "mixup_cross_entropy": _mixup_cross_entropy,
    "mixup_binary_cross_entropy": _mixup_binary_cross_entropy,
    "naflex_mix": _naflex_mix,
}
#: Internal ops whose outputs carry a node that raises when a backward reaches it.
NO_DERIVATIVE = {
    "_sample_mix_params": _sample_mix_params,
    "_mixup_cross_entropy_backward": lambda device: _loss_internals("_mixup_cross_entropy_backward", device),
    "_mixup_binary_cross_entropy_backward": lambda device: _loss_internals(
        "_mixup_binary_cross_entropy_backward", device
    ),
    "_mixup_cross_entropy_with_grad": lambda device: _loss_internals("_mixup_cross_entropy_with_grad", device),
    "_mixup_binary_cross_entropy_with_grad": lambda device: _loss_internals(
        "_mixup_binary_cross_entropy_with_grad", device
    ),
}
#: What the remaining ops do, each checked in its own test below.
OTHER = {
    "draw_mix_params": "draws: no gradient by contract (its outputs never require grad)",
    "naflex_mix_": "in place: refuses images that require grad, at the call",
    "_mixup_cross_entropy_apply_grad_output": "in place on a gradient, inside the loss's backward: no derivative",
    "_mixup_binary_cross_entropy_apply_grad_output": "likewise",
    "_cpu_vector_isa": "no tensors",
    "_set_value_checks": "no tensors",
    "_set_cuda_tile": "no tensors",
}
CONTRACT = {**GRADIENT, **NO_DERIVATIVE, **OTHER}
LOSSES = ("mixup_cross_entropy", "mixup_binary_cross_entropy")


def test_every_op_states_its_gradient_contract():
    assert set(CONTRACT) == set(_contract.SCHEMAS), (
        "every op of csrc/mixup_schemas.def needs an entry in CONTRACT (and a kernel under the Autograd key): "
        f"missing {sorted(set(_contract.SCHEMAS) - set(CONTRACT))}, "
        f"unknown {sorted(set(CONTRACT) - set(_contract.SCHEMAS))}"
    )


@pytest.mark.skipif(not compiled, reason="the reference backend's ops are CompositeImplicitAutograd")
@pytest.mark.parametrize("name", sorted(_contract.SCHEMAS))
def test_every_op_with_tensors_has_an_autograd_kernel(name):
    op = _contract.SCHEMAS[name]
    if "Tensor" not in op.schema:
        return
    assert torch._C._dispatch_has_kernel_for_dispatch_key(op.qualified_name, "Autograd"), (
        f"{op.qualified_name} has no kernel under Autograd: torch's fallback would leave its gradient silently None"
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(GRADIENT))
def test_gradient_is_correct(name, device):
    fn, inputs = GRADIENT[name](device)
    assert torch.autograd.gradcheck(fn, inputs)
    # The compiled losses refuse a second derivative (tested below).
    if not (compiled and name in LOSSES):
        assert torch.autograd.gradgradcheck(fn, inputs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(GRADIENT))
def test_every_input_gets_its_gradient(name, device):
    """The failure mode this file exists for: a .grad left None after backward."""
    fn, inputs = GRADIENT[name](device)
    out = fn(*inputs)
    outs = out if isinstance(out, (list, tuple)) else [out]
    sum((o.float() * (k + 1)).sum() for k, o in enumerate(outs) if o.requires_grad).backward()
    assert all(x.grad is not None and torch.isfinite(x.grad).all() for x in inputs)


@pytest.mark.skipif(not compiled, reason="the reference's internal ops are differentiable PyTorch")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", sorted(NO_DERIVATIVE))
def test_ops_without_a_derivative_raise_on_backward(name, device):
    out = NO_DERIVATIVE[name](device)()
    outs = [o for o in (out if isinstance(out, (list, tuple)) else [out]) if o.is_floating_point()]
    assert outs and all(o.requires_grad for o in outs)
    with pytest.raises(RuntimeError, match=f"(?i)not implemented.*{name}|{name}.*not implemented"):
        sum(o.sum() for o in outs).backward()


@pytest.mark.skipif(not compiled, reason="the reference's internal ops are differentiable PyTorch")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("loss", LOSSES)
def test_a_second_derivative_through_a_loss_is_refused_not_dropped(loss, device):
    fn, (z,) = GRADIENT[loss](device)
    (grad,) = torch.autograd.grad(fn(z).sum(), z, create_graph=True)
    with pytest.raises(RuntimeError, match="(?i)not implemented"):
        grad.square().sum().backward()


@pytest.mark.parametrize("device", DEVICES)
def test_draws_have_no_gradient_by_contract(device):
    x = _f64(4, 3, 8, 8, device=device)
    outs = ops.draw_mix_params(x, "elem", "flip", 0.8, 1.0, 1.0, 0.5, None, True, False)
    assert not any(o.requires_grad for o in outs)


def test_in_place_naflex_refuses_images_that_need_a_gradient():
    images, pairs, lam, box = _naflex_args()
    before = [img.detach().clone() for img in images]
    with pytest.raises(ValueError, match="naflex_mix_: images must not require grad"):
        ops.naflex_mix_(images, pairs, lam, box)
    assert all(torch.equal(a, b) for a, b in zip(images, before))
    with torch.no_grad():
        ops.naflex_mix_(images, pairs, lam, box)  # no gradient asked: mixes


def test_naflex_gradient_matches_the_reference_autograd():
    images, pairs, lam, box = _naflex_args()
    grads = [torch.randn(img.shape, dtype=torch.float64) for img in images]
    ours = torch.autograd.grad(ops.naflex_mix(images, pairs, lam, box), images, grads)
    ref = torch.autograd.grad(mixup_ext.reference.naflex_mix(images, pairs, lam, box), images, grads)
    for a, b in zip(ours, ref):
        torch.testing.assert_close(a, b)

"""The fused mixed cross-entropy against its formula,
lam * F.cross_entropy(z, a, label_smoothing=eps) + (1 - lam) * F.cross_entropy(z, b, ...),
in float64, over shapes, dtypes, weights, smoothing and reductions; gradients;
validation; opcheck and compile; the Mixup index form; and, on CUDA, memory."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from mixup_ext import MixupCrossEntropy, mixup_cross_entropy

from .helpers import (
    DEVICES,
    FLOAT_DTYPES,
    mixup_targets_both_forms,
    peak_extra_cuda_bytes,
    refused_alike,
    requires_cuda,
    trips_device_assert,
)

pytestmark = [pytest.mark.cpu_kernels, pytest.mark.isa]  # .ci/sanitize_cpu selects by these (pyproject.toml: markers)

SHAPES = [(1, 2), (7, 10), (64, 1000), (5, 4097)]
# Loss tolerances: rows sum C terms, so reduced-precision logits round more.
LOSS_TOL = {torch.float64: 1e-10, torch.float32: 1e-5, torch.float16: 1e-3, torch.bfloat16: 1e-3}


def formula(z, a, b, lam, eps, reduction):
    z = z.double()
    lam = lam.double().expand(z.shape[0])
    rows = lam * F.cross_entropy(z, a, reduction="none", label_smoothing=eps) + (1 - lam) * F.cross_entropy(
        z, b, reduction="none", label_smoothing=eps
    )
    return {"mean": rows.mean(), "sum": rows.sum(), "none": rows}[reduction]


def make(shape, dtype, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = (3 * torch.randn(shape, generator=g, dtype=torch.float64)).to(device=device, dtype=dtype)
    a = torch.randint(0, shape[1], (shape[0],), generator=g).to(device)
    b = torch.randint(0, shape[1], (shape[0],), generator=g).to(device)
    return z, a, b


def lam_for(kind, batch, device):
    g = torch.Generator().manual_seed(5)
    if kind == "scalar":
        return torch.rand((), generator=g, dtype=torch.float64).float().to(device)
    return torch.rand((batch,), generator=g, dtype=torch.float64).float().to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("lam_kind", ["scalar", "per_sample"])
@pytest.mark.parametrize("eps", [0.0, 0.1])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_matches_formula(device, shape, dtype, lam_kind, eps, reduction):
    z, a, b = make(shape, dtype, device)
    lam = lam_for(lam_kind, shape[0], device)
    got = mixup_cross_entropy(z, a, b, lam, eps, reduction)
    want = formula(z, a, b, lam, eps, reduction)
    assert got.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
    tol = LOSS_TOL[dtype]
    torch.testing.assert_close(got.double(), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("lam_kind", ["scalar", "per_sample"])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_gradient_matches_formula(device, shape, dtype, lam_kind, eps):
    z, a, b = make(shape, dtype, device, seed=1)
    lam = lam_for(lam_kind, shape[0], device)
    z_ours = z.clone().requires_grad_()
    z_ref = z.double().clone().requires_grad_()
    mixup_cross_entropy(z_ours, a, b, lam, eps, "mean").backward()
    formula(z_ref, a, b, lam, eps, "mean").backward()
    assert z_ours.grad.dtype == dtype
    tol = {torch.float64: 1e-12, torch.float32: 1e-6, torch.float16: 1e-3, torch.bfloat16: 8e-3}[dtype]
    torch.testing.assert_close(z_ours.grad.double(), z_ref.grad, rtol=tol, atol=tol / shape[0])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_float64(device, reduction):
    z, a, b = make((6, 9), torch.float64, device)
    lam = lam_for("per_sample", 6, device).double()
    assert torch.autograd.gradcheck(lambda z: mixup_cross_entropy(z, a, b, lam, 0.1, reduction), (z.requires_grad_(),))


@pytest.mark.parametrize("device", DEVICES)
def test_extreme_logits_stay_finite(device):
    z = torch.tensor([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4]], device=device)
    a, b = torch.tensor([0, 1], device=device), torch.tensor([2, 2], device=device)
    got = mixup_cross_entropy(z, a, b, 0.5, 0.1, "none")
    torch.testing.assert_close(got.double(), formula(z, a, b, torch.tensor(0.5, device=device), 0.1, "none"))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["batch", "elem"])
def test_index_form_from_mixup_equals_dense_soft_target_ce(device, mode):
    logits, dense, index_form = mixup_targets_both_forms(device, mode)
    soft_ce = torch.sum(-dense * F.log_softmax(logits, dim=-1), dim=-1).mean()  # timm's SoftTargetCrossEntropy
    torch.testing.assert_close(
        MixupCrossEntropy(label_smoothing=0.1)(logits, index_form), soft_ce, rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck_and_compile(device):
    z, a, b = make((5, 11), torch.float32, device)
    lam = lam_for("per_sample", 5, device)
    torch.library.opcheck(torch.ops.mixup.mixup_cross_entropy.default, (z.requires_grad_(), a, b, lam, 0.1))
    lse = torch.logsumexp(z.detach() - z.detach()[:, :1], 1)
    torch.library.opcheck(
        torch.ops.mixup._mixup_cross_entropy_backward.default,
        (torch.rand(5, device=device), z.detach(), a, b, lam, lse, 0.1),
    )
    torch._dynamo.reset()
    compiled = torch.compile(lambda z: mixup_cross_entropy(z, a, b, lam, 0.1), fullgraph=True)
    torch.testing.assert_close(compiled(z.detach()), mixup_cross_entropy(z.detach(), a, b, lam, 0.1))


BAD = [
    (lambda z, a, b, lam: (z[0], a, b, lam), "logits must be a \\(B, C\\)"),
    (lambda z, a, b, lam: (z.long(), a, b, lam), "logits must be a \\(B, C\\) float64"),
    (lambda z, a, b, lam: (z, a[:3], b, lam), "y_a must be an int64 tensor of shape \\(B,\\) = \\(4,\\)"),
    (lambda z, a, b, lam: (z, a, b.float(), lam), "y_b must be an int64 tensor"),
    (lambda z, a, b, lam: (z, a, b, lam[:2]), "lam must be a floating tensor of shape \\(\\) or \\(B,\\)"),
    (lambda z, a, b, lam: (z, a, b, lam.long()), "lam must be a floating tensor"),
    (
        lambda z, a, b, lam: (z, torch.tensor([0, 1, 5, 2]), b, lam),
        "y_a class ids must be in \\[0, C\\) = \\[0, 5\\), found 5",
    ),
    (lambda z, a, b, lam: (z, a, torch.tensor([0, -1, 1, 2]), lam), "y_b class ids must be in .* found -1"),
]


@pytest.mark.parametrize("case", range(len(BAD)), ids=lambda i: BAD[i][1][:30])
def test_bad_input_is_refused_alike(case):
    """The compiled op and the reference: one sentence per refusal."""
    from mixup_ext import reference

    z, a, b = make((4, 5), torch.float32, "cpu")
    args = BAD[case][0](z, a, b, torch.rand(4))
    refused_alike(
        BAD[case][1],
        lambda: torch.ops.mixup.mixup_cross_entropy(*args, 0.1),
        lambda: reference.mixup_cross_entropy(*args, 0.1),
        unchanged=args,
    )


def test_module_and_function_arguments_are_checked():
    z, a, b = make((4, 5), torch.float32, "cpu")
    with pytest.raises(ValueError, match="reduction must be one of mean, sum, none"):
        mixup_cross_entropy(z, a, b, 0.5, reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        mixup_cross_entropy(z, a, b, 0.5, label_smoothing=1.5)
    with pytest.raises(ValueError, match="needs \\(target, index, lam\\)"):
        MixupCrossEntropy()(z, a)


@requires_cuda
@pytest.mark.slow
def test_out_of_range_label_trips_a_device_side_assert():
    assert trips_device_assert("mixup_ext.mixup_cross_entropy(z, bad, bad, 0.5)")


@requires_cuda
def test_forward_allocates_nothing_of_size_b_by_c():
    z, a, b = make((4096, 32000), torch.bfloat16, "cuda")
    lam = lam_for("per_sample", 4096, "cuda")
    extra = peak_extra_cuda_bytes(lambda: mixup_cross_entropy(z, a, b, lam, 0.1))
    assert extra < 1 << 20, f"forward allocated {extra} bytes beyond its inputs (B x C bf16 would be {z.numel() * 2})"

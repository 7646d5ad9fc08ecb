"""The fused mixup binary cross-entropy against timm's formula: the dense
target t = lam * s(y_a) + (1 - lam) * s(y_b), binarised at a threshold when
one is given, through F.binary_cross_entropy_with_logits in float64; over
shapes, dtypes, weights, smoothing, thresholds, pos_weight kinds, sum_classes
and reductions. Then gradients, timm's own BinaryCrossEntropy on timm's own
mixup_target, Mixup's index form, validation, opcheck and compile, and on
CUDA, memory."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import mixup_ext
from mixup_ext import MixupBinaryCrossEntropy, mixup_binary_cross_entropy, reference

from .helpers import (
    DEVICES,
    FLOAT_DTYPES,
    mixup_targets_both_forms,
    peak_extra_cuda_bytes,
    poisoned_outputs,
    refused_alike,
    requires_cuda,
    timm_bce_module,
    timm_mixup_module,
    trips_device_assert,
)

pytestmark = [pytest.mark.cpu_kernels, pytest.mark.isa]  # .ci/sanitize_cpu selects by these (pyproject.toml: markers)

# Odd class counts leave vector tails; 4097 spans many vectors; (1, 1) is a
# row that is all label.
SHAPES = [(1, 1), (7, 10), (64, 1000), (5, 4097)]
REDUCTIONS = ["mean", "sum", "none"]
# eps, threshold, pos_weight kind, sum_classes: every option on, alone and together.
CONFIGS = [
    dict(eps=0.0, threshold=None, pos_weight=None, sum_classes=False),
    dict(eps=0.1, threshold=None, pos_weight=None, sum_classes=False),
    dict(eps=0.1, threshold=0.2, pos_weight=None, sum_classes=False),  # "ResNet strikes back"
    dict(eps=0.1, threshold=None, pos_weight="float", sum_classes=False),
    dict(eps=0.1, threshold=None, pos_weight="per_class", sum_classes=True),
    dict(eps=0.0, threshold=0.2, pos_weight="per_class", sum_classes=True),
]
LOSS_TOL = {torch.float64: 1e-10, torch.float32: 1e-5, torch.float16: 1e-3, torch.bfloat16: 1e-3}
GRAD_TOL = {torch.float64: 1e-12, torch.float32: 1e-6, torch.float16: 1e-3, torch.bfloat16: 8e-3}


def config_id(c):
    return f"eps{c['eps']}-thr{c['threshold']}-pw{c['pos_weight']}-{'sum' if c['sum_classes'] else 'mean'}"


def make(shape, dtype, device, seed=0):
    """Logits wide enough to reach both tails of the sigmoid, and labels with
    y_a == y_b in row 0 (one labelled class) when there are several rows."""
    g = torch.Generator().manual_seed(seed)
    z = (4 * torch.randn(shape, generator=g, dtype=torch.float64)).to(device=device, dtype=dtype)
    a = torch.randint(0, shape[1], (shape[0],), generator=g)
    b = torch.randint(0, shape[1], (shape[0],), generator=g)
    if shape[0] > 1:
        b[0] = a[0]
    return z, a.to(device), b.to(device)


def lam_for(kind, batch, device, seed=5):
    g = torch.Generator().manual_seed(seed)
    shape = () if kind == "scalar" else (batch,)
    return torch.rand(shape, generator=g, dtype=torch.float64).float().to(device)


def pos_weight_for(kind, classes, device):
    if kind is None:
        return None
    if kind == "float":
        return 2.5
    g = torch.Generator().manual_seed(7)
    return (3 * torch.rand(classes, generator=g, dtype=torch.float64)).float().to(device)


def formula(z, a, b, lam, eps, threshold, pos_weight, sum_classes, reduction):
    """timm's dense path in float64: Mixup's target, then BinaryCrossEntropy."""
    z = z.double()
    classes = z.shape[1]
    off, on = eps / classes, 1 - eps + eps / classes
    s_a = torch.full_like(z, off).scatter_(1, a[:, None], on)
    s_b = torch.full_like(z, off).scatter_(1, b[:, None], on)
    w = lam.double().expand(z.shape[0])[:, None]
    t = w * s_a + (1 - w) * s_b
    if threshold is not None:
        t = (t > threshold).double()
    if pos_weight is not None:
        pos_weight = torch.as_tensor(pos_weight, dtype=torch.float64, device=z.device)
    per_class = F.binary_cross_entropy_with_logits(z, t, pos_weight=pos_weight, reduction="none")
    rows = per_class.sum(1) if sum_classes else per_class.mean(1)
    return {"mean": rows.mean(), "sum": rows.sum(), "none": rows}[reduction]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("lam_kind", ["scalar", "per_sample"])
@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_loss_matches_timm_formula(device, shape, dtype, lam_kind, config):
    z, a, b = make(shape, dtype, device)
    lam = lam_for(lam_kind, shape[0], device)
    pos_weight = pos_weight_for(config["pos_weight"], shape[1], device)
    for reduction in REDUCTIONS:
        with poisoned_outputs():
            got = mixup_binary_cross_entropy(
                z,
                a,
                b,
                lam,
                label_smoothing=config["eps"],
                target_threshold=config["threshold"],
                sum_classes=config["sum_classes"],
                pos_weight=pos_weight,
                reduction=reduction,
            )
        want = formula(z, a, b, lam, config["eps"], config["threshold"], pos_weight, config["sum_classes"], reduction)
        assert got.dtype == (torch.float64 if dtype == torch.float64 else torch.float32)
        assert got.shape == want.shape
        tol = LOSS_TOL[dtype]
        torch.testing.assert_close(got.double(), want, rtol=tol, atol=tol)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("lam_kind", ["scalar", "per_sample"])
@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_gradient_matches_timm_formula(device, shape, dtype, lam_kind, config):
    z, a, b = make(shape, dtype, device, seed=1)
    lam = lam_for(lam_kind, shape[0], device)
    pos_weight = pos_weight_for(config["pos_weight"], shape[1], device)
    z_ours = z.clone().requires_grad_()
    z_ref = z.double().clone().requires_grad_()
    with poisoned_outputs():
        loss = mixup_binary_cross_entropy(
            z_ours, a, b, lam, config["eps"], config["threshold"], config["sum_classes"], pos_weight, "mean"
        )
        (grad,) = torch.autograd.grad(loss, z_ours)
    formula(z_ref, a, b, lam, config["eps"], config["threshold"], pos_weight, config["sum_classes"], "mean").backward()
    assert grad.dtype == dtype
    tol = GRAD_TOL[dtype]
    scale = z_ref.grad.abs().max().item() or 1.0
    # A mean over B x C puts float16 gradients among its subnormals, spaced tiny * eps apart.
    subnormal_step = torch.finfo(dtype).tiny * torch.finfo(dtype).eps
    torch.testing.assert_close(grad.double(), z_ref.grad, rtol=tol, atol=tol * scale + subnormal_step)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("threshold", [None, 0.2])
def test_each_element_is_float_accurate(device, threshold):
    """Per element, a few float32 ulp across the sigmoid's range: rows of one
    label and 64 unlabelled logits from -30 to 30 (the vector loops' part).
    Not the reference backend: PyTorch's float32 formula, (1 - t) * z -
    log_sigmoid(z), cancels for large |z| (1.6e-5 relative measured)."""
    if mixup_ext.backend() == "reference":
        pytest.skip("the reference is PyTorch's own float32 formula")
    z = torch.linspace(-30, 30, 64 * 501, dtype=torch.float64).reshape(-1, 64)
    z = torch.cat([torch.randn(z.shape[0], 1, dtype=torch.float64), z], 1).float().to(device)
    a = torch.zeros(z.shape[0], dtype=torch.int64, device=device)
    lam = torch.tensor(0.6, device=device)
    got = mixup_binary_cross_entropy(z, a, a, lam, 0.1, threshold, True, None, "none")
    want = formula(z, a, a, lam, 0.1, threshold, None, True, "none")
    torch.testing.assert_close(got.double(), want, rtol=4e-7, atol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("config", CONFIGS, ids=config_id)
def test_gradcheck_float64(device, config):
    z, a, b = make((6, 9), torch.float64, device)
    lam = lam_for("per_sample", 6, device).double()
    pos_weight = pos_weight_for(config["pos_weight"], 9, device)
    if isinstance(pos_weight, torch.Tensor):
        pos_weight = pos_weight.double()

    def loss(z):
        return mixup_binary_cross_entropy(
            z, a, b, lam, config["eps"], config["threshold"], config["sum_classes"], pos_weight, "none"
        )

    assert torch.autograd.gradcheck(loss, (z.requires_grad_(),))


@pytest.mark.parametrize("device", DEVICES)
def test_extreme_logits_stay_finite(device):
    z = torch.tensor([[1e4, -1e4, 0.0, 88.0], [-1e4, -1e4, -1e4, -90.0]], device=device)
    a, b = torch.tensor([0, 1], device=device), torch.tensor([2, 2], device=device)
    z_grad = z.clone().requires_grad_()
    got = mixup_binary_cross_entropy(z_grad, a, b, 0.5, 0.1, None, True, 3.0, "none")
    want = formula(z, a, b, torch.tensor(0.5, device=device), 0.1, None, 3.0, True, "none")
    torch.testing.assert_close(got.double(), want)
    (grad,) = torch.autograd.grad(got.sum(), z_grad)
    assert torch.isfinite(grad).all()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("threshold", [None, 0.2])
@pytest.mark.parametrize("sum_classes", [False, True])
@pytest.mark.parametrize("pos_weight", [None, "per_class"])
def test_equals_timm_binary_cross_entropy_on_timm_mixup_target(device, threshold, sum_classes, pos_weight):
    """timm's own code end to end: mixup_target's dense target (timm's float32
    arithmetic) into timm's BinaryCrossEntropy, against the class ids."""
    timm_mixup, timm_bce = timm_mixup_module(), timm_bce_module()
    z, y, _ = make((16, 100), torch.float32, device, seed=3)
    lam = 0.7
    weight = pos_weight_for(pos_weight, 100, device)
    dense = timm_mixup.mixup_target(y, 100, lam=lam, smoothing=0.1)  # pairs sample i with sample B-1-i
    want = timm_bce.BinaryCrossEntropy(
        smoothing=0.0, target_threshold=threshold, sum_classes=sum_classes, pos_weight=weight
    )(z, dense)
    flip = torch.arange(15, -1, -1, device=device)
    got = MixupBinaryCrossEntropy(0.1, threshold, sum_classes, weight)(z, (y, flip, lam))
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["batch", "elem"])
def test_index_form_from_mixup_equals_dense_target_bce(device, mode):
    logits, dense, index_form = mixup_targets_both_forms(device, mode)
    want = F.binary_cross_entropy_with_logits(logits, (dense > 0.2).float())
    got = MixupBinaryCrossEntropy(label_smoothing=0.1, target_threshold=0.2)(logits, index_form)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("device", DEVICES)
def test_module_moves_a_cpu_pos_weight_and_takes_spelled_out_targets(device):
    z, a, b = make((5, 7), torch.float32, device)
    lam = lam_for("per_sample", 5, device)
    weight = pos_weight_for("per_class", 7, "cpu")
    module = MixupBinaryCrossEntropy(0.1, pos_weight=weight, reduction="sum")
    got = module(z, a, b, lam)
    assert module.pos_weight.device == z.device
    torch.testing.assert_close(got.double(), formula(z, a, b, lam, 0.1, None, weight.to(device), False, "sum"))
    scalar = MixupBinaryCrossEntropy(0.1, pos_weight=2.0)(z, a, b, lam)  # a float becomes a 0-d buffer
    torch.testing.assert_close(scalar.double(), formula(z, a, b, lam, 0.1, None, 2.0, False, "mean"))
    assert "target_threshold=None" in repr(module)


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck_and_compile(device):
    z, a, b = make((5, 11), torch.float32, device)
    lam = lam_for("per_sample", 5, device)
    weight = pos_weight_for("per_class", 11, device)
    op = torch.ops.mixup.mixup_binary_cross_entropy.default
    for args in ((0.1, 0.2, weight, True), (0.0, None, None, False)):
        torch.library.opcheck(op, (z.requires_grad_(), a, b, lam, *args))
        torch.library.opcheck(
            torch.ops.mixup._mixup_binary_cross_entropy_backward.default,
            (torch.rand(5, device=device), z.detach(), a, b, lam, *args),
        )
    torch._dynamo.reset()
    fn = lambda z: mixup_binary_cross_entropy(z, a, b, lam, 0.1, 0.2, True, weight)  # noqa: E731
    compiled = torch.compile(fn, fullgraph=True)
    torch.testing.assert_close(compiled(z.detach()), fn(z.detach()))


BAD = [
    (dict(logits=lambda z: z[0]), "logits must be a \\(B, C\\)"),
    (dict(y_a=lambda a: a[:3]), "y_a must be an int64 tensor of shape \\(B,\\) = \\(4,\\)"),
    (dict(y_b=lambda b: torch.tensor([0, 1, 5, 2])), "y_b class ids must be in \\[0, C\\) = \\[0, 5\\), found 5"),
    (dict(lam=lambda lam: lam[:2]), "lam must be a floating tensor of shape \\(\\) or \\(B,\\)"),
    (dict(smoothing=1.5), "label_smoothing must be in \\[0, 1\\]"),
    (dict(threshold=float("nan")), "target_threshold must be a finite"),
    (
        dict(pos_weight=torch.ones(4)),
        "pos_weight must be a float or a floating tensor of shape \\(\\) or \\(C,\\) = \\(5,\\)",
    ),
    (dict(pos_weight=torch.ones(5, dtype=torch.int64)), "pos_weight must be .* got (Long|torch.int64)"),
    (dict(pos_weight=torch.ones(1, 5)), "pos_weight must be a float or a floating tensor"),
]


@pytest.mark.parametrize("case", range(len(BAD)), ids=lambda i: BAD[i][1][:30])
def test_bad_op_input_is_refused_alike(case):
    """The compiled op and the reference: one sentence per refusal."""
    z, a, b = make((4, 5), torch.float32, "cpu")
    args = dict(
        logits=z, y_a=a, y_b=b, lam=torch.rand(4), smoothing=0.1, threshold=None, pos_weight=None, sum_classes=False
    )
    change, message = BAD[case]
    for key, value in change.items():
        args[key] = value(args[key]) if callable(value) else value
    refused_alike(
        message,
        lambda: torch.ops.mixup.mixup_binary_cross_entropy(*args.values()),
        lambda: reference.mixup_binary_cross_entropy(*args.values()),
        unchanged=args.values(),
    )


def test_function_and_module_arguments_are_checked():
    z, a, b = make((4, 5), torch.float32, "cpu")
    with pytest.raises(ValueError, match="reduction must be one of mean, sum, none"):
        mixup_binary_cross_entropy(z, a, b, 0.5, reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        mixup_binary_cross_entropy(z, a, b, 0.5, label_smoothing=-0.1)
    with pytest.raises(ValueError, match="target_threshold must be a finite float or None"):
        mixup_binary_cross_entropy(z, a, b, 0.5, target_threshold="0.2")
    with pytest.raises(ValueError, match="pos_weight must be a float or a tensor"):
        mixup_binary_cross_entropy(z, a, b, 0.5, pos_weight=[1.0] * 5)
    with pytest.raises(ValueError, match="pos_weight must be a float or a floating tensor of shape"):
        mixup_binary_cross_entropy(z, a, b, 0.5, pos_weight=torch.ones(3))
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        MixupBinaryCrossEntropy(label_smoothing=2.0)
    with pytest.raises(ValueError, match="reduction must be one of"):
        MixupBinaryCrossEntropy(reduction="batchmean")
    with pytest.raises(ValueError, match="pos_weight must be a float or a floating tensor of shape \\(\\) or \\(C,\\)"):
        MixupBinaryCrossEntropy(pos_weight=torch.ones(2, 2))
    with pytest.raises(ValueError, match="needs \\(target, index, lam\\)"):
        MixupBinaryCrossEntropy()(z, a)
    with pytest.raises(ValueError, match="the target tuple must be \\(target, index, lam\\)"):
        MixupBinaryCrossEntropy()(z, (a, b))


def test_inputs_are_not_modified():
    z, a, b = make((6, 9), torch.float32, "cpu")
    lam, weight = lam_for("per_sample", 6, "cpu"), pos_weight_for("per_class", 9, "cpu")
    before = [t.clone() for t in (z, a, b, lam, weight)]
    loss = mixup_binary_cross_entropy(z.requires_grad_(), a, b, lam, 0.1, 0.2, True, weight)
    loss.backward()
    for t, old in zip((z.detach(), a, b, lam, weight), before):
        assert torch.equal(t, old)


@requires_cuda
def test_forward_allocates_nothing_of_size_b_by_c():
    z, a, b = make((4096, 32000), torch.bfloat16, "cuda")
    lam = lam_for("per_sample", 4096, "cuda")
    extra = peak_extra_cuda_bytes(lambda: mixup_binary_cross_entropy(z, a, b, lam, 0.1, 0.2))
    assert extra < 1 << 20, f"forward allocated {extra} bytes beyond its inputs (B x C bf16 would be {z.numel() * 2})"


@requires_cuda
@pytest.mark.slow
def test_out_of_range_label_trips_a_device_side_assert():
    assert trips_device_assert("mixup_ext.mixup_binary_cross_entropy(z, bad, bad, 0.5)")

"""The losses write their gradient in the forward: what that design
must keep true, for both losses, on every device.

* The backward applies any grad_output: non-unit scalars, per-row weights
  (some of them exactly 1) for reduction="none", a loss used twice in one
  graph.
* After ``loss.backward()`` the gradient the forward wrote is the one the
  leaf receives, with no op but the device-side check run on it.
* ``retain_graph=True`` backwards give the same gradient each time, and a
  later backward never writes into a gradient already handed out.
* No (B, C) gradient is written without grad, and no host sync with it.
* The forward's gradient equals the fresh backward's bit for bit.
"""

from __future__ import annotations

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from mixup_ext import mixup_binary_cross_entropy, mixup_cross_entropy

from .helpers import DEVICES, requires_cuda
from .test_mixup_binary_cross_entropy import formula as bce_formula
from .test_mixup_cross_entropy import formula as ce_formula

pytestmark = [pytest.mark.cpu_kernels, pytest.mark.isa]  # .ci/sanitize_cpu selects by these (pyproject.toml: markers)

LOSSES = ["ce", "bce"]
SHAPES = [(7, 10), (5, 4097), (3, 40000)]  # odd rows; a vectorised row tail; a 1024-thread forward


def loss_fn(kind):
    if kind == "ce":
        return lambda z, a, b, lam, reduction="mean": mixup_cross_entropy(z, a, b, lam, 0.1, reduction)
    return lambda z, a, b, lam, reduction="mean": mixup_binary_cross_entropy(
        z, a, b, lam, 0.1, None, False, torch.linspace(0.5, 2.0, z.shape[1], device=z.device), reduction
    )


def reference_fn(kind):
    if kind == "ce":
        return lambda z, a, b, lam, reduction="mean": ce_formula(z, a, b, lam, 0.1, reduction)
    return lambda z, a, b, lam, reduction="mean": bce_formula(
        z, a, b, lam, 0.1, None, torch.linspace(0.5, 2.0, z.shape[1], device=z.device), False, reduction
    )


def make(shape, device, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = (3 * torch.randn(shape, generator=g, dtype=torch.float64)).to(device=device, dtype=dtype)
    a = torch.randint(0, shape[1], (shape[0],), generator=g).to(device)
    b = torch.randint(0, shape[1], (shape[0],), generator=g).to(device)
    lam = torch.rand(shape[0], generator=g, dtype=torch.float64).float().to(device)
    return z, a, b, lam


def reference_grad(kind, z, a, b, lam, reduction, grad_output):
    z_ref = z.detach().double().requires_grad_()
    reference_fn(kind)(z_ref, a, b, lam, reduction).backward(grad_output.double())
    return z_ref.grad


def tol(dtype):
    return {torch.float32: 2e-6, torch.float64: 1e-12, torch.bfloat16: 1e-2}[dtype]


class OpLog(TorchDispatchMode):
    """Records every op below autograd, with its outputs' shapes and data
    pointers (not the tensors: holding one would make autograd copy it)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        outs = out if isinstance(out, (tuple, list)) else (out,)
        seen = [(tuple(t.shape), t.data_ptr()) for t in outs if isinstance(t, torch.Tensor)]
        self.calls.append((str(func.overloadpacket.__name__), seen))
        return out

    def names(self):
        return [name for name, _ in self.calls if name.startswith("_mixup") or name.startswith("mixup")]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_per_row_grad_output_with_some_rows_exactly_one(device, kind, shape):
    z, a, b, lam = make(shape, device)
    g = torch.rand(shape[0], generator=torch.Generator().manual_seed(1)).to(device) * 3
    g[::2] = 1.0  # rows the backward must leave as the forward wrote them
    z.requires_grad_()
    loss_fn(kind)(z, a, b, lam, "none").backward(g)
    want = reference_grad(kind, z, a, b, lam, "none", g)
    torch.testing.assert_close(z.grad.double(), want, rtol=tol(z.dtype), atol=tol(z.dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("grad_output", [1.0, 3.5, 0.0, -2.0])
def test_scalar_grad_output(device, kind, reduction, grad_output):
    z, a, b, lam = make((9, 333), device)
    z.requires_grad_()
    g = torch.tensor(grad_output, device=device)
    loss_fn(kind)(z, a, b, lam, reduction).backward(g)
    want = reference_grad(kind, z, a, b, lam, reduction, g)
    torch.testing.assert_close(z.grad.double(), want, rtol=tol(z.dtype), atol=tol(z.dtype) / 9)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", LOSSES)
def test_loss_used_twice_in_one_graph(device, kind):
    z, a, b, lam = make((6, 50), device)
    z.requires_grad_()
    fn = loss_fn(kind)
    once = fn(z, a, b, lam)
    other = fn(z, b, a, 1 - lam, "sum")
    (once + 2.0 * once + 0.25 * other).backward()  # `once` gets grad_output 3: not what its forward assumed
    z_ref = z.detach().double().requires_grad_()
    ref = reference_fn(kind)
    (3.0 * ref(z_ref, a, b, lam) + 0.25 * ref(z_ref, b, a, 1 - lam, "sum")).backward()
    torch.testing.assert_close(z.grad.double(), z_ref.grad, rtol=tol(z.dtype), atol=tol(z.dtype))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_retain_graph_backwards_agree_and_leave_earlier_gradients_alone(device, kind, reduction):
    z, a, b, lam = make((5, 300), device)
    z.requires_grad_()
    loss = loss_fn(kind)(z, a, b, lam, reduction)
    unit = torch.ones_like(loss)
    first = torch.autograd.grad(loss, z, unit, retain_graph=True)[0]
    kept = first.clone()
    second = torch.autograd.grad(loss, z, unit, retain_graph=True)[0]
    assert torch.equal(first, second)
    third = torch.autograd.grad(loss, z, 2.0 * unit)[0]
    assert torch.equal(first, kept), "a later backward wrote into the gradient an earlier one returned"
    torch.testing.assert_close(third, 2.0 * kept, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", LOSSES)
def test_backward_hands_over_the_forward_gradient_untouched(device, kind):
    z, a, b, lam = make((4, 1000), device)
    z.requires_grad_()
    with OpLog() as log:
        loss = loss_fn(kind)(z, a, b, lam)
        loss.backward()
    names = log.names()
    with_grad = f"_mixup_{'cross_entropy' if kind == 'ce' else 'binary_cross_entropy'}_with_grad"
    assert names == [with_grad, with_grad.replace("_with_grad", "_apply_grad_output")], names
    forward_grad_ptr = next(outs for name, outs in log.calls if name == with_grad)[-1][1]
    assert z.grad.data_ptr() == forward_grad_ptr, "the leaf's .grad is a copy, not the forward's gradient"
    fresh_fn = getattr(torch.ops.mixup, with_grad.replace("_with_grad", "_backward"))
    args = (z.detach(), a, b, lam)
    if kind == "ce":
        _, lse, _ = torch.ops.mixup._mixup_cross_entropy_with_grad(*args, 0.1, "mean")
        fresh = fresh_fn(torch.tensor(1.0, device=device), *args, lse, 0.1, "mean")
    else:
        weight = torch.linspace(0.5, 2.0, z.shape[1], device=device)
        fresh = fresh_fn(torch.tensor(1.0, device=device), *args, 0.1, None, weight, False, "mean")
    assert torch.equal(z.grad, fresh), "the forward's gradient is not the backward's, bit for bit"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", LOSSES)
def test_no_gradient_is_written_without_grad(device, kind):
    z, a, b, lam = make((4, 100), device)
    fn = loss_fn(kind)
    with OpLog() as log:
        with torch.no_grad():
            fn(z.clone().requires_grad_(), a, b, lam)
        fn(z, a, b, lam)  # logits that need no gradient
    assert all("with_grad" not in name for name in log.names()), log.names()
    assert all(len(shape) <= 1 for name, outs in log.calls if name.startswith("mixup") for shape, _ in outs)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", LOSSES)
def test_double_backward_story_is_unchanged(device, kind):
    """create_graph=True takes the functional backward, as it always has."""
    z, a, b, lam = make((4, 30), device)
    z.requires_grad_()
    loss = loss_fn(kind)(z, a, b, lam)
    with_graph = torch.autograd.grad(loss, z, create_graph=True, retain_graph=True)[0]
    plain = torch.autograd.grad(loss, z)[0]
    torch.testing.assert_close(with_graph.detach(), plain)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", LOSSES)
def test_compiled_training_step_matches_eager(device, kind):
    """Under torch.compile the in-place apply op is functionalised: the
    gradients must still be the eager ones, for a weighted "none" loss (the
    rewrite path) and a plain mean (the hand-over path)."""
    z, a, b, lam = make((6, 40), device)
    fn = loss_fn(kind)

    def weighted(z):
        return torch.autograd.grad(fn(z, a, b, lam, "none").mul(2.0).sum(), z)[0]

    eager = weighted(z.clone().requires_grad_())
    torch._dynamo.reset()
    torch.testing.assert_close(torch.compile(weighted)(z.clone().requires_grad_()), eager)

    z_eager = z.clone().requires_grad_()
    fn(z_eager, a, b, lam).backward()
    torch._dynamo.reset()
    full = torch.compile(lambda z: fn(z, a, b, lam), fullgraph=True)
    z_leaf = z.clone().requires_grad_()
    full(z_leaf).backward()
    torch.testing.assert_close(z_leaf.grad, z_eager.grad)


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck_the_new_ops(device):
    z, a, b, lam = make((5, 11), device)
    lse = torch.logsumexp(z - z[:, :1], 1)
    weight = torch.linspace(0.5, 2.0, 11, device=device)
    for reduction in ("none", "mean", "sum"):
        g = torch.rand(5 if reduction == "none" else (), device=device)
        torch.library.opcheck(torch.ops.mixup._mixup_cross_entropy_with_grad.default, (z, a, b, lam, 0.1, reduction))
        torch.library.opcheck(
            torch.ops.mixup._mixup_binary_cross_entropy_with_grad.default,
            (z, a, b, lam, 0.1, None, weight, False, reduction),
        )
        torch.library.opcheck(
            torch.ops.mixup._mixup_cross_entropy_backward.default, (g, z, a, b, lam, lse, 0.1, reduction)
        )
        torch.library.opcheck(
            torch.ops.mixup._mixup_cross_entropy_apply_grad_output.default,
            (torch.rand_like(z), g, z, a, b, lam, lse, 0.1, reduction),
        )
        torch.library.opcheck(
            torch.ops.mixup._mixup_binary_cross_entropy_apply_grad_output.default,
            (torch.rand_like(z), g, z, a, b, lam, 0.1, 0.2, None, True, reduction),
        )


def test_apply_refuses_a_gradient_it_did_not_write():
    z, a, b, lam = make((5, 11), "cpu")
    lse = torch.logsumexp(z - z[:, :1], 1)
    with pytest.raises(ValueError, match="grad must be the contiguous \\(B, C\\) = \\(5, 11\\) gradient"):
        torch.ops.mixup._mixup_cross_entropy_apply_grad_output(
            z.t().contiguous().t(), torch.tensor(1.0), z, a, b, lam, lse, 0.1, "mean"
        )
    with pytest.raises(ValueError, match="grad_loss must be a floating tensor of shape \\(\\)"):
        torch.ops.mixup._mixup_cross_entropy_backward(torch.ones(5), z, a, b, lam, lse, 0.1, "mean")
    with pytest.raises(ValueError, match="reduction must be one of mean, sum, none, got 'avg'"):
        torch.ops.mixup.mixup_cross_entropy(z, a, b, lam, 0.1, "avg")


@requires_cuda
@pytest.mark.parametrize("kind", LOSSES)
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_training_step_never_syncs(kind, reduction):
    z, a, b, lam = make((64, 4096), "cuda", torch.bfloat16)
    z.requires_grad_()
    fn = loss_fn(kind)
    fn(z, a, b, lam, reduction).sum().backward()  # warm-up: allocator, lazy init
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        weights = torch.rand(64, device="cuda")
        loss = fn(z, a, b, lam, reduction)
        (loss * weights).sum().backward() if reduction == "none" else loss.backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()


@requires_cuda
@pytest.mark.parametrize("kind", LOSSES)
def test_cuda_graph_replays_the_step(kind):
    z, a, b, lam = make((32, 5000), "cuda")
    z.requires_grad_()
    fn = loss_fn(kind)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(2):
            z.grad = None
            fn(z, a, b, lam).backward()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    z.grad = None
    with torch.cuda.graph(graph):
        loss = fn(z, a, b, lam)
        loss.backward()
    with torch.no_grad():
        z.copy_(make((32, 5000), "cuda", seed=4)[0])
    graph.replay()
    want = reference_grad(kind, z, a, b, lam, "mean", torch.tensor(1.0, device="cuda"))
    torch.testing.assert_close(z.grad.double(), want, rtol=2e-6, atol=2e-6 / 32)


@requires_cuda
@pytest.mark.parametrize("kind", LOSSES)
def test_step_peak_memory_is_one_gradient(kind):
    z, a, b, lam = make((1024, 32000), "cuda", torch.bfloat16)
    z.requires_grad_()
    fn = loss_fn(kind)
    torch.autograd.grad(fn(z, a, b, lam), z)  # warm-up
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    grad = torch.autograd.grad(fn(z, a, b, lam), z)[0]
    torch.cuda.synchronize()
    extra = torch.cuda.max_memory_allocated() - before
    del grad
    one_gradient = z.numel() * z.element_size()
    assert extra <= one_gradient + (1 << 20), (
        f"a step took {extra} bytes beyond its inputs, one gradient is {one_gradient}"
    )

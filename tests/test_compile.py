"""torch.library.opcheck, fake-kernel strides, and torch.compile(fullgraph=True)."""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

import mixup_ext
from mixup_ext import reference

from .helpers import DEVICES, LAYOUTS, assert_close, index_of, lam_of, randn, random_boxes, requires_cuda, with_layout


def forward_samples(device):
    """Argument tuples for mixup::fused_mix covering every path of the kernels."""
    g = torch.Generator().manual_seed(0)
    samples = []
    for dtype in (torch.float64, torch.float32, torch.bfloat16):
        for layout in ("contiguous", "channels_last", "strided_w"):
            x = with_layout(randn((5, 3, 6, 7), dtype, device), layout)
            for box in (None, random_boxes(5, 6, 7, device)):
                for soft in (False, True):
                    target = (
                        torch.rand(5, 4, generator=g).to(device=device, dtype=dtype)
                        if soft
                        else torch.randint(0, 4, (5,), generator=g).to(device)
                    )
                    lam = lam_of("per_sample", 5, torch.float64 if dtype == torch.float64 else torch.float32, device)
                    samples.append((x, target, index_of("repeats", 5, device), lam, box, 4, 0.1))
    samples.append(
        (
            randn((9, 31), torch.float32, device),
            torch.randint(0, 3, (9,)).to(device),
            index_of("flip", 9, device),
            lam_of("scalar", 9, torch.float32, device),
            None,
            3,
            0.0,
        )
    )
    return samples


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck_fused_mix(device):
    for args in forward_samples(device):
        x, target = args[0], args[1]
        args = (
            x.detach().requires_grad_(),
            target.detach().requires_grad_() if target.is_floating_point() else target,
        ) + args[2:]
        torch.library.opcheck(torch.ops.mixup.fused_mix.default, args)


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck_fused_mix_backward(device):
    for box in (None, random_boxes(6, 5, 4, device)):
        for layout in ("contiguous", "channels_last", "unaligned"):
            grad = with_layout(randn((6, 2, 5, 4), torch.float32, device), layout)
            torch.library.opcheck(
                torch.ops.mixup._fused_mix_backward.default,
                (grad, index_of("repeats", 6, device), lam_of("per_sample", 6, torch.float32, device), box, 0.9),
            )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_fake_kernel_strides_equal_real_strides(device, layout):
    x = with_layout(randn((4, 3, 5, 6), torch.bfloat16, device), layout)
    args = (
        torch.tensor([0, 1, 2, 3], device=device),
        index_of("flip", 4, device),
        lam_of("per_sample", 4, torch.float32, device),
        None,
        4,
        0.1,
    )
    real_out, real_mixed = torch.ops.mixup.fused_mix(x, *args)
    real_grad = torch.ops.mixup._fused_mix_backward(x, args[1], args[2], None, 1.0)
    with FakeTensorMode() as mode:
        fake_args = tuple(mode.from_tensor(a) if isinstance(a, torch.Tensor) else a for a in (x,) + args)
        fake_out, fake_mixed = torch.ops.mixup.fused_mix(*fake_args)
        fake_grad = torch.ops.mixup._fused_mix_backward(fake_args[0], fake_args[2], fake_args[3], None, 1.0)
    for real, fake in ((real_out, fake_out), (real_mixed, fake_mixed), (real_grad, fake_grad)):
        assert (real.shape, real.stride(), real.dtype) == (fake.shape, fake.stride(), fake.dtype)


def _mix_and_loss(x, target, index, lam, box):
    out, mixed = mixup_ext.fused_mix(x, target, index, lam, box, 10, 0.1)
    logits = out.flatten(1) @ torch.ones(out[0].numel(), 10, device=x.device, dtype=x.dtype) / out[0].numel()
    return -(mixed * logits.float().log_softmax(-1)).sum(-1).mean(), out


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dynamic", [False, True])
def test_compile_fullgraph_forward_and_backward(device, dynamic):
    torch._dynamo.reset()
    compiled = torch.compile(_mix_and_loss, fullgraph=True, dynamic=dynamic)
    for batch in (6, 9) if dynamic else (6,):
        x = randn((batch, 3, 8, 8), torch.float32, device).requires_grad_()
        target = torch.randint(0, 10, (batch,), device=device)
        args = (
            index_of("permutation", batch, device),
            lam_of("per_sample", batch, torch.float32, device),
            random_boxes(batch, 8, 8, device),
        )
        loss, out = compiled(x, target, *args)
        (gx,) = torch.autograd.grad(loss, x)
        x_ref = x.detach().clone().requires_grad_()
        ref_loss, ref_out = _mix_and_loss(x_ref, target, *args)
        (gx_ref,) = torch.autograd.grad(ref_loss, x_ref)
        assert_close(out, ref_out)
        torch.testing.assert_close(loss, ref_loss)
        torch.testing.assert_close(gx, gx_ref)


@pytest.mark.parametrize("device", DEVICES)
def test_compile_does_not_recompile_for_new_lam_values(device):
    torch._dynamo.reset()
    calls = []

    def backend(gm, example_inputs):
        calls.append(gm)
        return gm.forward

    fn = torch.compile(lambda x, t, i, lam: mixup_ext.fused_mix(x, t, i, lam, None, 5), backend=backend, fullgraph=True)
    x, t, i = (
        randn((4, 6), torch.float32, device),
        torch.tensor([0, 1, 2, 3], device=device),
        index_of("flip", 4, device),
    )
    for value in (0.1, 0.5, 0.9):
        out, _ = fn(x, t, i, torch.tensor(value, device=device))
        assert_close(out, reference.fused_mix(x, t, i, value, None, 5)[0])
    assert len(calls) == 1


@requires_cuda
def test_compile_reduce_overhead_cuda_graphs():
    torch._dynamo.reset()
    fn = torch.compile(
        lambda x, t, i, lam, box: mixup_ext.fused_mix(x, t, i, lam, box, 10, 0.1),
        mode="reduce-overhead",
        fullgraph=True,
    )
    for seed in range(4):  # warm-up, record, then replays
        x = randn((8, 3, 16, 16), torch.bfloat16, "cuda", seed=seed).contiguous(memory_format=torch.channels_last)
        args = (
            torch.randint(0, 10, (8,), device="cuda"),
            index_of("permutation", 8, "cuda", seed),
            lam_of("per_sample", 8, torch.float32, "cuda", seed),
            random_boxes(8, 16, 16, "cuda", seed),
        )
        out, mixed = fn(x, *args)
        ref_out, ref_mixed = reference.fused_mix(x, *args, 10, 0.1)
        assert_close(out.clone(), ref_out)
        assert_close(mixed.clone(), ref_mixed)

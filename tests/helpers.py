"""Shared test helpers: devices, dtypes, tolerances, input builders, poisoning."""

from __future__ import annotations

import contextlib
import os

import pytest
import torch

from mixup_ext import NO_BOX

from . import peers

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
FLOAT_DTYPES = [torch.float64, torch.float32, torch.float16, torch.bfloat16]
REDUCED = (torch.float16, torch.bfloat16)

# (rtol, atol) for comparisons with the reference. CPU kernels match it bit for
# bit; CUDA contracts a*b + c into one FMA, which can move the last float32 bit
# and so, rarely, one bit of a half/bfloat16 result.
TOLERANCE = {
    torch.float64: (1e-12, 1e-12),
    torch.float32: (2e-6, 2e-6),
    torch.float16: (1e-3, 1e-3),
    torch.bfloat16: (8e-3, 8e-3),
}

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def assert_close(actual: torch.Tensor, expected: torch.Tensor, *, equal_nan: bool = False, scale: float = 1.0):
    assert actual.dtype == expected.dtype, (actual.dtype, expected.dtype)
    assert actual.shape == expected.shape, (actual.shape, expected.shape)
    rtol, atol = TOLERANCE.get(actual.dtype, (0.0, 0.0))
    torch.testing.assert_close(actual, expected, rtol=rtol * scale, atol=atol * scale, equal_nan=equal_nan)


@contextlib.contextmanager
def poisoned_outputs():
    """Every tensor allocated inside starts filled with NaN (floats) or the
    largest value (ints), so an element a kernel forgets to write cannot pass
    a comparison. Uses PyTorch's own fill_uninitialized_memory, which also
    covers at::empty inside C++ extensions."""
    was_on = torch.are_deterministic_algorithms_enabled()
    warn_only = torch.is_deterministic_algorithms_warn_only_enabled()
    was_filling = torch.utils.deterministic.fill_uninitialized_memory
    torch.use_deterministic_algorithms(True)
    torch.utils.deterministic.fill_uninitialized_memory = True
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(was_on, warn_only=warn_only)
        torch.utils.deterministic.fill_uninitialized_memory = was_filling


def generator(device, seed: int = 0) -> torch.Generator:
    return torch.Generator(device=device).manual_seed(seed)


def randn(shape, dtype, device, seed: int = 0) -> torch.Tensor:
    """Random normal data (never zeros: zeros hide unwritten outputs)."""
    return torch.randn(shape, dtype=torch.float64, generator=generator("cpu", seed)).to(device=device, dtype=dtype)


def with_layout(x: torch.Tensor, layout: str) -> torch.Tensor:
    """The same values as x, stored in `layout`.

    contiguous / channels_last: the two formats the output keeps.
    batch_slice: every other row of a larger batch (dense rows, batch stride 2N).
    strided_w: every other column (rows not dense: copied once, output contiguous).
    transposed: H and W swapped in memory (not dense in any format).
    unaligned: contiguous at a storage offset of one element (no 16-byte packs).
    """
    if layout == "contiguous":
        return x.contiguous()
    if layout == "channels_last":
        return x.contiguous(memory_format=torch.channels_last)
    if layout == "nhwc_view":  # an NHWC batch (FFCV, DALI) seen as NCHW: channels_last, no copy
        return x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2)
    if layout == "batch_slice":
        big = _noise((2 * x.shape[0],) + tuple(x.shape[1:]), x)
        big[::2] = x
        return big[::2]
    if layout == "strided_w":
        big = _noise(tuple(x.shape[:-1]) + (2 * x.shape[-1],), x)
        big[..., ::2] = x
        return big[..., ::2]
    if layout == "transposed":
        return x.transpose(-1, -2).contiguous().transpose(-1, -2)
    if layout == "unaligned":
        flat = torch.empty(x.numel() + 1, dtype=x.dtype, device=x.device)
        view = flat[1:].view(x.shape)
        view.copy_(x)
        return view
    raise ValueError(layout)


def _noise(shape, like: torch.Tensor) -> torch.Tensor:
    """Filler around a view: random values of like's dtype (uint8 included)."""
    out = torch.empty(shape, dtype=like.dtype, device=like.device)
    return out.normal_() if out.is_floating_point() else out.random_(0, 256)


LAYOUTS = ["contiguous", "channels_last", "batch_slice", "strided_w", "transposed", "unaligned"]


def random_boxes(
    batch: int, height: int, width: int, device, seed: int = 0, blend_every: int = 3, empty_every: int = 4
) -> torch.Tensor:
    """(B, 4) box rows as Mixup draws them: boxes [y0, y1, x0, x1) inside the
    image, every `blend_every`-th row NO_BOX (a blended sample), and every
    `empty_every`-th row from row 1 an empty box (a paste of nothing)."""
    g = generator("cpu", seed)
    y = torch.randint(0, height + 1, (batch, 2), generator=g).sort(dim=1).values
    x = torch.randint(0, width + 1, (batch, 2), generator=g).sort(dim=1).values
    boxes = torch.stack([y[:, 0], y[:, 1], x[:, 0], x[:, 1]], dim=1)
    # Make the boxes really non-empty, then mark some rows on purpose.
    boxes[:, 1] = torch.maximum(boxes[:, 1], (boxes[:, 0] + 1).clamp(max=height))
    boxes[:, 3] = torch.maximum(boxes[:, 3], (boxes[:, 2] + 1).clamp(max=width))
    if empty_every:
        boxes[1::empty_every, 1] = boxes[1::empty_every, 0]
    if blend_every:
        boxes[::blend_every] = NO_BOX
    return boxes.to(device)


def index_of(kind: str, batch: int, device, seed: int = 0) -> torch.Tensor:
    g = generator("cpu", seed)
    if kind == "permutation":
        idx = torch.randperm(batch, generator=g)
    elif kind == "flip":
        idx = torch.arange(batch - 1, -1, -1)
    elif kind == "roll":
        idx = torch.arange(batch).roll(1)
    elif kind == "repeats":
        idx = torch.randint(0, max(batch, 1), (batch,), generator=g)
    elif kind == "identity":
        idx = torch.arange(batch)
    elif kind == "all_same":
        idx = torch.full((batch,), batch // 2, dtype=torch.int64)
    else:
        raise ValueError(kind)
    return idx.to(device)


INDEX_KINDS = ["permutation", "flip", "roll", "repeats", "identity", "all_same"]


def lam_of(kind: str, batch: int, dtype, device, seed: int = 0) -> torch.Tensor:
    g = generator("cpu", seed)
    if kind == "scalar":
        return torch.rand((), generator=g, dtype=torch.float64).to(device=device, dtype=dtype)
    return torch.rand((batch,), generator=g, dtype=torch.float64).to(device=device, dtype=dtype)


def acc_dtype(dtype):
    return torch.float64 if dtype == torch.float64 else torch.float32


def _timm_or_skip(module, what: str):
    """A timm module, or a skip when timm is absent -- except under CI, whose
    test command installs it: there a missing timm fails, so the parity tests
    cannot be skipped unnoticed."""
    if module is None:
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"timm's {what} is missing: the README's test command installs timm (pip install --no-deps timm)"
            )
        pytest.skip("timm is not installed: pip install --no-deps timm")
    return module


def timm_mixup_module():
    """timm's own ``timm/data/mixup.py``, however timm is installed."""
    return _timm_or_skip(peers.timm_mixup_module(), "data/mixup.py")


def timm_bce_module():
    """timm's own ``timm/loss/binary_cross_entropy.py``."""
    return _timm_or_skip(peers.timm_bce_module(), "loss/binary_cross_entropy.py")


def trips_device_assert(call: str) -> bool:
    """Whether ``call`` (Python run after ``import torch, mixup_ext``, with a
    (4, 5) CUDA ``z`` and labels ``bad`` holding a class id of 7) dies of a
    device-side assert, in a subprocess: the assert poisons its CUDA context."""
    import subprocess
    import sys

    code = (
        "import torch, mixup_ext\n"
        "z = torch.randn(4, 5, device='cuda')\n"
        "bad = torch.tensor([0, 1, 7, 2], device='cuda')\n"
        f"{call}\n"
        "torch.cuda.synchronize()\n"
        "print('NO ASSERT')\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    return result.returncode != 0 and "NO ASSERT" not in result.stdout


@contextlib.contextmanager
def no_host_sync():
    """Inside, anything that makes the host wait for the GPU raises (torch's
    sync debug mode). Work queued before is finished first, so that only
    what runs inside is judged."""
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        yield
    finally:
        torch.cuda.set_sync_debug_mode(0)


def training_step(device, mode: str = "elem", seed: int = 4):
    """One step of a small model trained the way a user would: Mixup draws on
    the device (index targets), a conv net, the fused cross-entropy plus the
    fused BCE, backward into the weights and into x too (manifold-style).
    Returns the step as a function of no arguments."""
    import mixup_ext

    gen = generator(device, seed)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 16 * 16, 10)
    ).to(device)
    mixup = mixup_ext.Mixup(0.8, 1.0, mode=mode, pairing="random", num_classes=10, generator=gen, target_form="index")
    cross_entropy = mixup_ext.MixupCrossEntropy(label_smoothing=0.1)
    binary = mixup_ext.MixupBinaryCrossEntropy(
        label_smoothing=0.1, target_threshold=0.2, pos_weight=torch.rand(10) + 0.5
    )
    x = torch.randn(32, 3, 16, 16, device=device, generator=gen).requires_grad_()
    y = torch.randint(0, 10, (32,), device=device, generator=gen)

    def step():
        mixed, target = mixup(x, y)
        logits = model(mixed)
        loss = cross_entropy(logits, target) + binary(logits, target)
        loss.backward()
        return loss.detach()

    return step


def peak_extra_cuda_bytes(fn) -> int:
    """The CUDA memory ``fn()`` allocates at its peak beyond what was
    allocated before it, under no_grad."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    with torch.no_grad():
        fn()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - before


def mixup_targets_both_forms(device, mode: str, seed: int = 3):
    """One Mixup draw of an (8, 3, 8, 8) batch of 10 classes, smoothing 0.1,
    as timm's dense (B, C) target and as the index form (target, index, lam)
    the fused losses take, with logits to score them: (logits, dense, index_form)."""
    from mixup_ext import Mixup

    x = torch.randn(8, 3, 8, 8, device=device)
    y = torch.randint(0, 10, (8,), device=device)
    logits = torch.randn(8, 10, device=device)
    forms = [
        Mixup(
            0.8,
            1.0,
            mode=mode,
            num_classes=10,
            label_smoothing=0.1,
            generator=generator(device, seed),
            target_form=form,
        )(x, y)[1]
        for form in ("dense", "index")
    ]
    return logits, forms[0], forms[1]


def refused_alike(match: str, first, *others, unchanged=()) -> str:
    """One refusal through every backend: ``first()`` raises a ValueError
    whose words match ``match``, and each of ``others`` (the reference, the
    fake kernel) raises one in exactly the same words, so a message or a
    missing check cannot drift between them. No tensor of ``unchanged`` is
    modified by any of the calls. Returns the words."""
    snapshot = [(t, t.clone()) for t in unchanged if isinstance(t, torch.Tensor)]
    with pytest.raises(ValueError, match=match) as refused:
        first()
    words = str(refused.value)
    for call in others:
        with pytest.raises(ValueError) as again:
            call()
        assert str(again.value) == words
    for t, before in snapshot:
        assert torch.equal(t, before), "a refused call modified its input"
    return words

"""Property tests: hypothesis draws shapes, dtypes, strides (views,
channels_last, storage offsets that break 16-byte alignment), indices,
weights, boxes and targets; the fused op must equal the reference every time,
forward and backward, and NaN must reach exactly the rows that read it."""

from __future__ import annotations

import pytest
import torch

pytestmark = pytest.mark.cpu_kernels  # .ci/sanitize_cpu selects by these (pyproject.toml: markers)

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mixup_ext import NO_BOX, reference  # noqa: E402

from .helpers import DEVICES, FLOAT_DTYPES, TOLERANCE, acc_dtype, assert_close, poisoned_outputs  # noqa: E402

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def mix_case(draw, device, dtypes=FLOAT_DTYPES, min_rank=1):
    batch = draw(st.integers(0, 9))
    rank = draw(st.sampled_from([r for r in (1, 2, 3, 4, 5) if r >= min_rank]))
    inner = [draw(st.integers(1, 7)) for _ in range(rank - 1)]
    dtype = draw(st.sampled_from(dtypes))
    shape = (batch, *inner)
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)

    def noise(shape):  # random values of the drawn dtype, uint8 over its whole range
        if dtype == torch.uint8:
            return torch.randint(0, 256, shape, generator=g, dtype=torch.uint8)
        return torch.randn(shape, generator=g, dtype=torch.float64).to(dtype)

    base = noise(shape)

    layout = draw(st.sampled_from(["contiguous", "channels_last", "offset", "sliced", "transposed"]))
    if layout == "channels_last" and rank == 4:
        x = base.contiguous(memory_format=torch.channels_last)
    elif layout == "offset":  # a storage offset that breaks 16-byte alignment
        shift = draw(st.integers(1, 7))
        flat = noise((base.numel() + shift,))
        x = flat[shift:].view(shape)
        x.copy_(base)
    elif layout == "sliced" and rank >= 2:
        big = noise((batch, *inner[:-1], 2 * inner[-1] + 1))
        x = big[..., 1::2]
    elif layout == "transposed" and rank >= 3:
        x = base.transpose(-1, -2).contiguous().transpose(-1, -2)
    else:
        x = base
    x = x.to(device)

    index = torch.tensor(
        draw(st.lists(st.integers(0, max(batch - 1, 0)), min_size=batch, max_size=batch)), dtype=torch.int64
    )
    if draw(st.booleans()):
        lam = torch.tensor(draw(st.floats(0, 1)), dtype=acc_dtype(dtype))  # outside [0, 1]: test_value_checks
    else:
        lam = torch.tensor(
            draw(st.lists(st.floats(0, 1), min_size=batch, max_size=batch)), dtype=acc_dtype(dtype)
        ).reshape(batch)

    box = None
    if rank >= 3 and draw(st.booleans()):
        height, width = x.shape[-2], x.shape[-1]

        def one_box():
            if draw(st.integers(0, 3)) == 0:
                return [NO_BOX] * 4  # no box: a blend
            y0, y1 = draw(st.integers(0, height)), draw(st.integers(0, height))
            x0, x1 = draw(st.integers(0, width)), draw(st.integers(0, width))
            return [y0, y1, x0, x1]  # y0 >= y1 or x0 >= x1: an empty box, pasting nothing

        box = torch.tensor(one_box() if draw(st.booleans()) else [one_box() for _ in range(batch)], dtype=torch.int64)
        box = box.reshape(-1, 4) if box.dim() == 2 or batch == 0 else box
        if box.dim() == 2 and box.shape[0] != batch:
            box = box.reshape(4)

    classes = draw(st.integers(1, 6))
    if draw(st.booleans()):
        target = torch.randint(0, classes, (batch,), generator=g)
    else:
        target = torch.rand(batch, classes, generator=g, dtype=torch.float64).to(draw(st.sampled_from(FLOAT_DTYPES)))
    smoothing = draw(st.floats(0, 1))
    to = lambda t: None if t is None else t.to(device)  # noqa: E731
    return x, to(target), to(index), to(lam), to(box), classes, smoothing


@pytest.mark.parametrize("device", DEVICES)
def test_fused_equals_reference_forward_and_backward(device):
    @SETTINGS
    @given(mix_case(device))
    def check(case):
        x, target, index, lam, box, classes, smoothing = case
        with poisoned_outputs():
            out, mixed = torch.ops.mixup.fused_mix(x, target, index, lam, box, classes, smoothing)
        ref_out, ref_mixed = reference.fused_mix_op(x, target, index, lam, box, classes, smoothing)
        assert_close(out, ref_out)
        assert out.stride() == ref_out.stride() or out.numel() <= 1
        assert_close(mixed, ref_mixed, scale=4)
        grad = torch.randn_like(ref_out)
        with poisoned_outputs():
            got = torch.ops.mixup._fused_mix_backward(grad, index, lam, box, 1.0)
        assert_close(got, reference._fused_mix_backward(grad, index, lam, box, 1.0), scale=4)

    check()


@pytest.mark.parametrize("device", DEVICES)
def test_normalised_and_converted_equals_reference(device):
    """uint8 or float samples, any strides, odd batches, boxes, every
    out_dtype, per-channel mean and std (either may be missing): the fused op
    equals the reference, and for float samples so does the gradient."""

    @SETTINGS
    @given(mix_case(device, dtypes=[torch.uint8] + FLOAT_DTYPES, min_rank=2), st.data())
    def check(case, data):
        x, target, index, lam, box, classes, smoothing = case
        out_dtype = data.draw(st.sampled_from([None] + FLOAT_DTYPES))
        channels = x.shape[1]
        acc = torch.float64 if torch.float64 in (x.dtype, out_dtype) else torch.float32
        values = st.lists(st.floats(-300, 300), min_size=channels, max_size=channels)
        nonzero = st.lists(st.floats(0.01, 100) | st.floats(-100, -0.01), min_size=channels, max_size=channels)
        mean = data.draw(st.none() | values.map(lambda v: torch.tensor(v, dtype=acc, device=x.device)))
        std = data.draw(st.none() | nonzero.map(lambda v: torch.tensor(v, dtype=acc, device=x.device)))
        with poisoned_outputs():
            out, mixed = torch.ops.mixup.fused_mix(x, target, index, lam, box, classes, smoothing, mean, std, out_dtype)
        ref_out, ref_mixed = reference.fused_mix_op(
            x, target, index, lam, box, classes, smoothing, mean, std, out_dtype
        )
        # CUDA may contract the blend into an FMA, moving its last bit: an
        # error of an ulp of the mixed value (up to 255, or |x|) that v - mean
        # can leave standing and / std magnifies. Allow that much on top.
        extra = 0.0
        if x.device.type == "cuda" and x.numel():
            magnitude = float(x.double().abs().max()) + (float(mean.abs().max()) if mean is not None else 0.0)
            extra = 4 * torch.finfo(acc).eps * magnitude / (float(std.abs().min()) if std is not None else 1.0)
        rtol, atol = TOLERANCE[out.dtype]
        torch.testing.assert_close(out, ref_out, rtol=4 * rtol, atol=4 * atol + extra)
        assert out.stride() == ref_out.stride() or out.numel() <= 1
        assert_close(mixed, ref_mixed, scale=4)
        if x.dtype != torch.uint8:
            grad = torch.randn(ref_out.shape, dtype=torch.float64).to(device=x.device, dtype=x.dtype)
            with poisoned_outputs():
                got = torch.ops.mixup._fused_mix_backward(grad, index, lam, box, 1.0, std)
            assert_close(got, reference._fused_mix_backward(grad, index, lam, box, 1.0, std), scale=4)

    check()


@pytest.mark.parametrize("device", DEVICES)
def test_nan_reaches_exactly_the_rows_the_reference_says(device):
    @SETTINGS
    @given(mix_case(device), st.data())
    def check(case, data):
        x, target, index, lam, box, classes, smoothing = case
        if x.numel() == 0:
            return
        poisoned = x.clone()
        flat = data.draw(st.integers(0, x.numel() - 1))
        where = torch.unravel_index(torch.tensor(flat), x.shape)
        poisoned[where] = float("nan")  # unravelled: works for any strides
        source = int(where[0])
        out, _ = torch.ops.mixup.fused_mix(poisoned, target, index, lam, box, classes, smoothing)
        ref, _ = reference.fused_mix_op(poisoned, target, index, lam, box, classes, smoothing)
        assert torch.equal(out.isnan(), ref.isnan())
        assert_close(out, ref, equal_nan=True)
        rows = torch.arange(x.shape[0], device=x.device)
        readers = (rows == source) | (index == source)
        assert not (out.isnan().reshape(x.shape[0], -1).any(1) & ~readers).any(), (
            "NaN reached a row that never reads its sample"
        )

    check()

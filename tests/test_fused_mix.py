"""The fused op's forward against the reference, and against the contract
written out as formulas, over dtypes, layouts, shapes, pairings, weights,
boxes and targets. Outputs are poisoned, so an unwritten element fails."""

from __future__ import annotations

import pytest
import torch

import mixup_ext
from mixup_ext import NO_BOX, reference

from .helpers import (
    DEVICES,
    FLOAT_DTYPES,
    INDEX_KINDS,
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

NUM_CLASSES = 10


def run_both(x, target, index, lam, box, num_classes=NUM_CLASSES, smoothing=0.1):
    """(fused, reference) outputs; the fused call runs with poisoned allocations."""
    x_before, target_before = x.clone(), target.clone()
    with poisoned_outputs():
        fused = mixup_ext.fused_mix(x, target, index, lam, box, num_classes, smoothing)
    expected = reference.fused_mix(x, target, index, lam, box, num_classes, smoothing)
    # Never modifies its inputs (bit for bit, NaN included).
    torch.testing.assert_close(x, x_before, rtol=0, atol=0, equal_nan=True)
    torch.testing.assert_close(target, target_before, rtol=0, atol=0, equal_nan=True)
    return fused, expected


def check_against_reference(x, target, index, lam, box, **kw):
    (out, mixed), (ref_out, ref_mixed) = run_both(x, target, index, lam, box, **kw)
    assert_close(out, ref_out)
    assert out.stride() == ref_out.stride(), "memory format differs from the contract"
    assert_close(mixed, ref_mixed)
    return out, mixed


def labels(batch, device, seed=1):
    return torch.randint(0, NUM_CLASSES, (batch,), generator=torch.Generator().manual_seed(seed)).to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("box_mode", ["none", "batch", "per_sample"])
def test_images_match_reference(device, dtype, layout, box_mode):
    batch, channels, height, width = 7, 3, 13, 10  # odd sizes: no dimension is a pack multiple
    x = with_layout(randn((batch, channels, height, width), dtype, device), layout)
    box = {
        "none": None,
        "batch": torch.tensor([2, 9, 3, 8], device=device),
        "per_sample": random_boxes(batch, height, width, device),
    }[box_mode]
    check_against_reference(
        x,
        labels(batch, device),
        index_of("permutation", batch, device),
        lam_of("per_sample", batch, acc_dtype(dtype), device),
        box,
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize(
    "shape",
    [(9,), (6, 1), (6, 1023), (5, 4097), (4, 3, 64, 64), (3, 257)],
    ids=lambda s: "x".join(map(str, s)),
)
def test_feature_shapes_match_reference(device, dtype, shape):
    batch = shape[0]
    x = randn(shape, dtype, device)
    check_against_reference(
        x,
        labels(batch, device),
        index_of("repeats", batch, device),
        lam_of("per_sample", batch, acc_dtype(dtype), device),
        None,
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize(
    "shape,memory_format",
    [
        ((5, 11, 12), torch.contiguous_format),  # (B, H, W): a box on 3-D input
        ((3, 2, 4, 9, 7), torch.contiguous_format),  # video (B, C, T, H, W)
        ((3, 2, 4, 9, 7), torch.channels_last_3d),
        ((4, 1, 8, 8), torch.channels_last),  # C == 1: contiguous and channels_last at once
        ((4, 3, 1, 16), torch.channels_last),  # H == 1
        ((4, 3, 16, 1), torch.contiguous_format),  # W == 1
    ],
    ids=["3d", "video", "video_cl3d", "c1_cl", "h1_cl", "w1"],
)
def test_boxes_on_other_ranks_and_formats(device, dtype, shape, memory_format):
    batch, height, width = shape[0], shape[-2], shape[-1]
    x = randn(shape, dtype, device).contiguous(memory_format=memory_format)
    box = random_boxes(batch, height, width, device, empty_every=2)
    out, _ = check_against_reference(
        x,
        labels(batch, device),
        index_of("roll", batch, device),
        lam_of("scalar", batch, acc_dtype(dtype), device),
        box,
    )
    if memory_format != torch.contiguous_format and not x.is_contiguous():
        assert out.is_contiguous(memory_format=memory_format)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"])
@pytest.mark.parametrize("shape", [(6, 3, 6, 10), (6, 2, 16, 24), (5, 4, 3, 2)], ids=lambda s: "x".join(map(str, s)))
def test_box_edges_inside_vector_packs(device, dtype, memory_format, shape):
    """Rows whose sizes allow 16-byte packs, with box edges that fall inside a
    pack and lines that end inside one (W = 6 or 10 or 2 against 2 to 8 elements
    per pack), forward and backward; plus a full-image and a one-pixel box."""
    batch, height, width = shape[0], shape[-2], shape[-1]
    x = randn(shape, dtype, device).contiguous(memory_format=memory_format)
    box = random_boxes(batch, height, width, device, seed=3, empty_every=0)
    box[0] = torch.tensor([0, height, 0, width])
    box[1] = torch.tensor([height - 1, height, width - 1, width])
    index = index_of("repeats", batch, device)
    lam = lam_of("per_sample", batch, acc_dtype(dtype), device)
    check_against_reference(x, labels(batch, device), index, lam, box)
    grad = randn(shape, dtype, device, seed=5).contiguous(memory_format=memory_format)
    with poisoned_outputs():
        got = torch.ops.mixup._fused_mix_backward(grad, index, lam, box, 1.0)
    assert_close(got, reference._fused_mix_backward(grad, index, lam, box, 1.0), scale=2.0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("target_dtype", [torch.int64] + FLOAT_DTYPES, ids=str)
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 1.0])
@pytest.mark.parametrize("lam_kind", ["scalar", "per_sample"])
def test_targets_match_reference(device, target_dtype, smoothing, lam_kind):
    batch, classes = 9, 37
    x = randn((batch, 5), torch.float32, device)
    if target_dtype == torch.int64:
        target = torch.randint(0, classes, (batch,), device=device)
    else:
        target = torch.rand((batch, classes), dtype=torch.float64).softmax(-1).to(device=device, dtype=target_dtype)
    _, mixed = check_against_reference(
        x,
        target,
        index_of("permutation", batch, device),
        lam_of(lam_kind, batch, torch.float32, device),
        None,
        num_classes=classes,
        smoothing=smoothing,
    )
    assert mixed.dtype == (torch.float32 if target_dtype == torch.int64 else target_dtype)
    assert mixed.is_contiguous() and mixed.shape == (batch, classes)
    # Mixed label distributions still sum to one.
    torch.testing.assert_close(
        mixed.double().sum(-1), torch.ones(batch, dtype=torch.float64, device=device), rtol=0, atol=2e-2
    )


@pytest.mark.parametrize("device", DEVICES)
def test_soft_targets_may_be_strided(device):
    batch, classes = 6, 11
    soft = torch.rand((classes, batch), device=device).t()  # column-major (B, C)
    x = randn((batch, 4), torch.float32, device)
    check_against_reference(
        x,
        soft,
        index_of("flip", batch, device),
        lam_of("per_sample", batch, torch.float32, device),
        None,
        num_classes=classes,
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=str)
@pytest.mark.parametrize("index_kind", INDEX_KINDS)
@pytest.mark.parametrize("box_mode", ["none", "per_sample"])
def test_every_pairing_matches_reference(device, dtype, index_kind, box_mode):
    batch, height, width = 11, 8, 12
    x = randn((batch, 2, height, width), dtype, device)
    box = random_boxes(batch, height, width, device) if box_mode == "per_sample" else None
    check_against_reference(
        x,
        labels(batch, device),
        index_of(index_kind, batch, device),
        lam_of("per_sample", batch, acc_dtype(dtype), device),
        box,
    )


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch", [0, 1, 2, 3, 17])
@pytest.mark.parametrize("box_mode", ["none", "batch", "per_sample"])
def test_batch_sizes(device, batch, box_mode):
    height, width = 6, 5
    x = randn((batch, 3, height, width), torch.float32, device)
    box = {
        "none": None,
        "batch": torch.tensor([1, 4, 0, 3], device=device),
        "per_sample": random_boxes(batch, height, width, device),
    }[box_mode]
    out, mixed = check_against_reference(
        x,
        labels(batch, device),
        index_of("permutation", batch, device),
        lam_of("per_sample", batch, torch.float32, device),
        box,
    )
    assert out.shape == x.shape and mixed.shape == (batch, NUM_CLASSES)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("shape", [(4, 0), (4, 3, 0, 5), (4, 3, 5, 0)], ids=["features0", "h0", "w0"])
def test_empty_rows_still_mix_targets(device, shape):
    x = torch.empty(shape, device=device)
    box = torch.zeros(4, dtype=torch.int64, device=device) if len(shape) > 2 else None
    _, mixed = check_against_reference(
        x, labels(4, device), index_of("flip", 4, device), lam_of("per_sample", 4, torch.float32, device), box
    )
    assert mixed.shape == (4, NUM_CLASSES)
    grad = torch.empty(shape, device=device)
    lam = lam_of("per_sample", 4, torch.float32, device)
    assert torch.ops.mixup._fused_mix_backward(grad, index_of("flip", 4, device), lam, box, 1.0).shape == shape


# ---------------------------------------------------------------------------
# The contract as formulas, independent of the reference's code.
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last], ids=["nchw", "nhwc"])
def test_blend_and_paste_formulas(device, memory_format):
    batch, channels, height, width = 5, 3, 9, 11
    x = randn((batch, channels, height, width), torch.float64, device).contiguous(memory_format=memory_format)
    index = torch.tensor([3, 0, 4, 1, 2], device=device)
    lam = torch.tensor([0.1, 0.5, 0.9, 0.3, 0.7], dtype=torch.float64, device=device)
    box = torch.tensor([[2, 7, 3, 10], [-1, -1, -1, -1], [0, 9, 0, 11], [4, 5, 6, 7], [3, 3, 1, 8]], device=device)
    with poisoned_outputs():
        out, _ = mixup_ext.fused_mix(x, torch.zeros(batch, dtype=torch.int64, device=device), index, lam, box, 2)
    for i in range(batch):
        j = int(index[i])
        y0, y1, x0, x1 = box[i].tolist()
        if y0 == NO_BOX:  # no box: a plain blend
            torch.testing.assert_close(out[i], lam[i] * x[i] + (1 - lam[i]) * x[j], rtol=1e-15, atol=1e-15)
            continue
        if y0 >= y1 or x0 >= x1:  # an empty box pastes nothing, whatever lam says
            assert torch.equal(out[i], x[i])
            continue
        inside = torch.zeros(height, width, dtype=torch.bool, device=device)
        inside[y0:y1, x0:x1] = True
        assert torch.equal(out[i][:, inside], x[j][:, inside]), "inside the box: the partner, all channels"
        assert torch.equal(out[i][:, ~inside], x[i][:, ~inside]), "outside the box: the sample itself, no blend"


@pytest.mark.parametrize("device", DEVICES)
def test_target_formula(device):
    classes, eps = 4, 0.2
    target = torch.tensor([0, 3, 1], device=device)
    index = torch.tensor([1, 2, 0], device=device)
    lam = torch.tensor([0.25, 1.0, 0.6], device=device)
    with poisoned_outputs():
        _, mixed = mixup_ext.fused_mix(torch.randn(3, 2, device=device), target, index, lam, None, classes, eps)
    off, on = eps / classes, 1 - eps + eps / classes
    expected = torch.tensor(
        [
            [0.25 * on + 0.75 * off, off, off, 0.25 * off + 0.75 * on],  # class 0 (0.25) with class 3
            [off, off, off, on],  # class 3 with lam 1: itself only
            [0.6 * off + 0.4 * on, 0.6 * on + 0.4 * off, off, off],  # class 1 (0.6) with class 0
        ],
        device=device,
    )
    torch.testing.assert_close(mixed, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("device", DEVICES)
def test_box_broadcast_equals_repeated_rows(device):
    x = randn((6, 3, 10, 10), torch.float32, device)
    args = (labels(6, device), index_of("permutation", 6, device), lam_of("per_sample", 6, torch.float32, device))
    one = torch.tensor([1, 6, 2, 9], device=device)
    a = mixup_ext.fused_mix(x, *args, one, NUM_CLASSES)
    b = mixup_ext.fused_mix(x, *args, one.expand(6, 4), NUM_CLASSES)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_full_image_box_is_the_partner_and_lam_one_is_identity(device, dtype):
    x = randn((5, 2, 7, 6), dtype, device)
    index = index_of("permutation", 5, device)
    ones = torch.ones((), dtype=acc_dtype(dtype), device=device)
    out, _ = mixup_ext.fused_mix(
        x, labels(5, device), index, ones, torch.tensor([0, 7, 0, 6], device=device), NUM_CLASSES
    )
    assert torch.equal(out, x[index])
    out, _ = mixup_ext.fused_mix(x, labels(5, device), index, ones, None, NUM_CLASSES)
    assert torch.equal(out, x)


@pytest.mark.parametrize("device", DEVICES)
def test_nan_reaches_only_the_rows_that_read_it(device):
    batch, height, width = 6, 4, 5
    x = randn((batch, 2, height, width), torch.float32, device)
    x[2, 1, 1, 1] = float("nan")
    x[4, 0, 3, 4] = float("inf")
    index = torch.tensor([2, 2, 5, 0, 1, 4], device=device)
    box = torch.tensor([[-1] * 4, [0, 4, 0, 2], [-1] * 4, [-1] * 4, [-1] * 4, [3, 4, 4, 5]], device=device)
    lam = lam_of("per_sample", batch, torch.float32, device)
    (out, _), (ref, _) = run_both(x, labels(batch, device), index, lam, box)
    assert_close(out, ref, equal_nan=True)
    nan_rows = out.isnan().flatten(1).any(1).tolist()
    # Row 0 blends with 2 (NaN); row 1 pastes columns 0-1 of 2 (the NaN is in column 1);
    # row 2 is itself NaN; row 5 pastes 4's inf corner, no blend, so no NaN there.
    assert nan_rows == [True, True, True, False, False, False]
    assert out[5].isinf().any() and not out[5].isnan().any()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=str)
def test_python_float_lam_and_other_lam_dtypes(device, dtype):
    x = randn((4, 3, 5, 5), dtype, device)
    target, index = labels(4, device), index_of("flip", 4, device)
    as_float = mixup_ext.fused_mix(x, target, index, 0.3, None, NUM_CLASSES, 0.1)
    for lam_dtype in (torch.float64, torch.float32, torch.bfloat16):
        lam = torch.tensor(0.3, dtype=lam_dtype, device=device)
        expected = reference.fused_mix(x, target, index, lam, None, NUM_CLASSES, 0.1)
        got = mixup_ext.fused_mix(x, target, index, lam, None, NUM_CLASSES, 0.1)
        assert_close(got[0], expected[0])
        assert_close(got[1], expected[1])
    assert_close(as_float[0], reference.fused_mix(x, target, index, 0.3, None, NUM_CLASSES, 0.1)[0])


@pytest.mark.parametrize("device", DEVICES)
def test_num_classes_is_inferred_from_soft_targets(device):
    soft = torch.rand(3, 7, device=device)
    out = mixup_ext.fused_mix(torch.randn(3, 2, device=device), soft, index_of("flip", 3, device), 0.5)
    assert out[1].shape == (3, 7)

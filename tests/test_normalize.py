"""uint8 in, normalised and mixed out: fused_mix's mean/std/out_dtype against
the reference and against the contract as a formula, over input and output
dtypes, layouts (an NHWC batch viewed as NCHW included), boxes and odd sizes;
the gradient to a float x; the refusals; and Mixup's mean/std/out_dtype."""

from __future__ import annotations

import pytest
import torch

import mixup_ext
from mixup_ext import NO_BOX, reference

from .helpers import (
    DEVICES,
    FLOAT_DTYPES,
    LAYOUTS,
    assert_close,
    generator,
    index_of,
    lam_of,
    poisoned_outputs,
    randn,
    random_boxes,
    refused_alike,
    with_layout,
)

pytestmark = [
    pytest.mark.cpu_kernels,
    pytest.mark.usefixtures("cuda_tile"),
]  # .ci/sanitize_cpu selects by these (pyproject.toml: markers)

IN_DTYPES = [torch.uint8] + FLOAT_DTYPES
OUT_DTYPES = [None] + FLOAT_DTYPES
NUM_CLASSES = 10
# timm's IMAGENET_DEFAULT_MEAN/STD in 0-255 units, as its prefetcher uses them.
MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)


def samples(shape, dtype, device, seed=0):
    """Random data of any dtype: uint8 over its whole range, floats normal."""
    if dtype == torch.uint8:
        return torch.randint(0, 256, shape, dtype=torch.uint8, generator=generator("cpu", seed)).to(device)
    return randn(shape, dtype, device, seed) * 60 + 100  # roughly pixel scale, so mean/std matter


def expected_dtype(x, out_dtype):
    return out_dtype or (torch.float32 if x.dtype == torch.uint8 else x.dtype)


def by_formula(x, index, lam, box, mean, std, out_dtype):
    """The contract written out: mix in float32 (float64), normalise, round once."""
    out_dtype = expected_dtype(x, out_dtype)
    acc = torch.float64 if torch.float64 in (x.dtype, out_dtype) else torch.float32
    own = x.to(acc)
    partner = own[index]
    w = lam.to(acc).expand(x.shape[0]).reshape(-1, *([1] * (x.dim() - 1)))
    out = w * own + (1 - w) * partner
    if box is not None:
        for i, (y0, y1, x0, x1) in enumerate(box.reshape(-1, 4).expand(x.shape[0], 4).tolist()):
            if y0 == NO_BOX:
                continue
            out[i] = own[i]
            out[i, ..., y0:y1, x0:x1] = partner[i, ..., y0:y1, x0:x1]
    shape = (1, -1) + (1,) * (x.dim() - 2)
    if mean is not None:
        out = out - torch.tensor(mean, dtype=acc, device=x.device).reshape(shape)
    if std is not None:
        out = out / torch.tensor(std, dtype=acc, device=x.device).reshape(shape)
    return out.to(out_dtype)


def run_both(x, target, index, lam, box, **norm):
    """(fused, reference) outputs; the fused call runs with poisoned allocations
    and must leave its inputs untouched."""
    before = x.clone()
    with poisoned_outputs():
        fused = mixup_ext.fused_mix(x, target, index, lam, box, NUM_CLASSES, 0.1, **norm)
    expected = reference.fused_mix(x, target, index, lam, box, NUM_CLASSES, 0.1, **norm)
    assert torch.equal(x, before) or torch.equal(x.isnan(), before.isnan())
    return fused, expected


def check(x, target, index, lam, box, **norm):
    (out, mixed), (ref_out, ref_mixed) = run_both(x, target, index, lam, box, **norm)
    assert out.dtype == expected_dtype(x, norm.get("out_dtype"))
    assert_close(out, ref_out)
    assert out.stride() == ref_out.stride(), "memory format differs from the contract"
    assert_close(mixed, ref_mixed)
    if out.device.type == "cpu":  # the CPU kernels compute the reference's exact function
        assert torch.equal(out, ref_out)
    return out


def labels(batch, device):
    return torch.randint(0, NUM_CLASSES, (batch,), generator=generator("cpu", 1)).to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("in_dtype", IN_DTYPES, ids=str)
@pytest.mark.parametrize("out_dtype", OUT_DTYPES, ids=str)
@pytest.mark.parametrize("layout", ["contiguous", "channels_last", "nhwc_view"])
def test_every_dtype_pair_matches_reference(device, in_dtype, out_dtype, layout):
    batch, height, width = 7, 9, 16  # odd batch and height; width a pack multiple
    x = with_layout(samples((batch, 3, height, width), in_dtype, device), layout)
    box = random_boxes(batch, height, width, device)  # blends, pastes and empty pastes
    out = check(
        x,
        labels(batch, device),
        index_of("permutation", batch, device),
        lam_of("per_sample", batch, torch.float32, device),
        box,
        mean=MEAN,
        std=STD,
        out_dtype=out_dtype,
    )
    if layout != "contiguous":
        assert out.is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("in_dtype", [torch.uint8, torch.bfloat16], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS + ["nhwc_view"])
@pytest.mark.parametrize("box_mode", ["none", "batch", "per_sample"])
@pytest.mark.parametrize("norm", ["both", "mean", "std", "none"])
def test_layouts_boxes_and_partial_normalisation(device, in_dtype, layout, box_mode, norm):
    batch, channels, height, width = 5, 3, 13, 10  # odd sizes: no dimension a pack multiple
    x = with_layout(samples((batch, channels, height, width), in_dtype, device), layout)
    box = {
        "none": None,
        "batch": torch.tensor([2, 9, 3, 8], device=device),
        "per_sample": random_boxes(batch, height, width, device),
    }[box_mode]
    kw = {"both": {"mean": MEAN, "std": STD}, "mean": {"mean": MEAN}, "std": {"std": STD}, "none": {}}[norm]
    out = check(
        x,
        labels(batch, device),
        index_of("repeats", batch, device),
        lam_of("per_sample", batch, torch.float32, device),
        box,
        out_dtype=torch.bfloat16,
        **kw,
    )
    expected = by_formula(
        x,
        index_of("repeats", batch, device),
        lam_of("per_sample", batch, torch.float32, device),
        box,
        kw.get("mean"),
        kw.get("std"),
        torch.bfloat16,
    )
    assert_close(out, expected)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "shape,memory_format",
    [
        ((6, 4), torch.contiguous_format),  # (B, C) feature rows: channel innermost
        ((5, 7, 33), torch.contiguous_format),  # (B, C, L)
        ((4, 3, 5, 6), torch.channels_last),
        ((3, 2, 3, 5, 4), torch.channels_last_3d),  # video (B, C, T, H, W)
        ((3, 2, 3, 5, 4), torch.contiguous_format),
        ((4, 1, 8, 8), torch.channels_last),  # one channel
        ((3, 5, 40, 40), torch.contiguous_format),  # chunks that cross channel planes
        ((3, 5, 40, 120), torch.channels_last),  # chunks of many pixels
    ],
    ids=["features", "bcl", "cl", "video_cl3d", "video", "c1", "planes", "cl_wide"],
)
def test_channel_of_every_element_on_other_ranks(device, shape, memory_format):
    batch, channels = shape[0], shape[1]
    x = samples(shape, torch.uint8, device).contiguous(memory_format=memory_format)
    mean = [float(m) for m in torch.linspace(20, 200, channels)]
    std = [float(s) for s in torch.linspace(9, 70, channels)]
    index, lam = index_of("flip", batch, device), lam_of("per_sample", batch, torch.float32, device)
    box = random_boxes(batch, shape[-2], shape[-1], device) if len(shape) >= 3 else None
    out = check(x, labels(batch, device), index, lam, box, mean=mean, std=std, out_dtype=torch.float32)
    assert_close(out, by_formula(x, index, lam, box, mean, std, torch.float32))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("batch", [0, 1, 2, 3, 17])
def test_batch_sizes(device, batch):
    x = samples((batch, 3, 6, 8), torch.uint8, device)
    out = check(
        x,
        labels(batch, device),
        index_of("permutation", batch, device),
        lam_of("per_sample", batch, torch.float32, device),
        None,
        mean=MEAN,
        std=STD,
    )
    assert out.shape == x.shape and out.dtype == torch.float32


@pytest.mark.parametrize("device", DEVICES)
def test_uint8_without_normalisation_is_a_conversion(device):
    x = samples((4, 3, 5, 8), torch.uint8, device)
    identity, ones = torch.arange(4, device=device), torch.ones(4, device=device)
    out, _ = mixup_ext.fused_mix(x, None, identity, ones, None)
    assert out.dtype == torch.float32 and torch.equal(out, x.float())  # values 0-255, no scaling
    pasted, _ = mixup_ext.fused_mix(
        x, None, index_of("flip", 4, device), ones, torch.tensor([0, 5, 0, 8], device=device), out_dtype=torch.bfloat16
    )
    assert torch.equal(pasted, x.flip(0).to(torch.bfloat16))  # a whole-image paste of integers is exact


@pytest.mark.parametrize("device", DEVICES)
def test_mean_and_std_as_tensors_equal_sequences(device):
    x = samples((4, 3, 5, 8), torch.uint8, device)
    index, lam = index_of("roll", 4, device), lam_of("scalar", 4, torch.float32, device)
    from_lists, _ = mixup_ext.fused_mix(x, None, index, lam, mean=list(MEAN), std=list(STD))
    for where in ("cpu", device):
        from_tensors, _ = mixup_ext.fused_mix(
            x,
            None,
            index,
            lam,
            mean=torch.tensor(MEAN, device=where),
            std=torch.tensor(STD, dtype=torch.float64, device=where),
        )
        assert torch.equal(from_lists, from_tensors)


@pytest.mark.parametrize("device", DEVICES)
def test_nhwc_view_is_read_without_a_copy(device):
    """FFCV and DALI hand over NHWC batches; permuted to NCHW they are
    channels_last, which the kernel reads in place."""
    x = with_layout(samples((4, 3, 8, 8), torch.uint8, device), "nhwc_view")
    index, lam = index_of("flip", 4, device), lam_of("per_sample", 4, torch.float32, device)
    mean = torch.tensor(MEAN, device=device)
    std = torch.tensor(STD, device=device)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], record_shapes=True) as prof:
        out, _ = torch.ops.mixup.fused_mix(x, None, index, lam, None, 0, 0.0, mean, std, torch.bfloat16)
    copies = [
        (e.name, e.input_shapes)
        for e in prof.events()
        if e.name in ("aten::copy_", "aten::clone", "aten::contiguous")
        and any(len(shape) == 4 for shape in e.input_shapes)
    ]
    assert not copies, f"the NHWC view was copied: {copies}"
    assert out.is_contiguous(memory_format=torch.channels_last)


# --- gradients for float x ----------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("box_mode", ["none", "per_sample"])
@pytest.mark.parametrize("norm", ["both", "std", "mean"])
def test_gradcheck_float64(device, box_mode, norm):
    batch = 5
    x = randn((batch, 3, 4, 5), torch.float64, device).requires_grad_()
    soft = torch.rand(batch, 4, dtype=torch.float64, device=device).requires_grad_()
    index, lam = index_of("repeats", batch, device), lam_of("per_sample", batch, torch.float64, device)
    box = random_boxes(batch, 4, 5, device) if box_mode == "per_sample" else None
    mean = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64, device=device) if norm != "std" else None
    std = torch.tensor([0.5, 3.0, -2.0], dtype=torch.float64, device=device) if norm != "mean" else None

    def f(x, soft):
        return torch.ops.mixup.fused_mix(x, soft, index, lam, box, 4, 0.1, mean, std, None)

    assert torch.autograd.gradcheck(f, (x, soft))
    assert torch.autograd.gradgradcheck(f, (x, soft))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "in_dtype,out_dtype",
    [(torch.float32, torch.bfloat16), (torch.bfloat16, torch.float32), (torch.float16, torch.float16)],
    ids=str,
)
def test_gradient_is_scaled_by_one_over_std_in_x_dtype(device, in_dtype, out_dtype):
    batch = 6
    x = randn((batch, 3, 5, 8), in_dtype, device).contiguous(memory_format=torch.channels_last).requires_grad_()
    index, lam = index_of("permutation", batch, device), lam_of("per_sample", batch, torch.float32, device)
    box = random_boxes(batch, 5, 8, device)
    out, _ = mixup_ext.fused_mix(x, None, index, lam, box, mean=MEAN, std=STD, out_dtype=out_dtype)
    grad = randn(out.shape, out_dtype, device, seed=3)
    (got,) = torch.autograd.grad(out, x, grad)
    ref_x = x.detach().requires_grad_()
    ref_out, _ = reference.fused_mix(ref_x, None, index, lam, box, mean=MEAN, std=STD, out_dtype=out_dtype)
    (expected,) = torch.autograd.grad(ref_out, ref_x, grad)
    assert got.dtype == in_dtype
    assert_close(got, expected, scale=4)


@pytest.mark.parametrize("device", DEVICES)
def test_backward_op_divides_by_std(device):
    batch = 7
    grad = randn((batch, 3, 9, 10), torch.float32, device).contiguous(memory_format=torch.channels_last)
    index, lam = index_of("repeats", batch, device), lam_of("per_sample", batch, torch.float32, device)
    box = random_boxes(batch, 9, 10, device)
    std = torch.tensor(STD, device=device)
    with poisoned_outputs():
        got = torch.ops.mixup._fused_mix_backward(grad, index, lam, box, 0.5, std)
    assert_close(got, reference._fused_mix_backward(grad, index, lam, box, 0.5, std), scale=2)
    plain = torch.ops.mixup._fused_mix_backward(grad, index, lam, box, 0.5)
    assert_close(got, (plain / std.view(1, 3, 1, 1)).contiguous(memory_format=torch.channels_last), scale=2)


# --- the op's registrations ---------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    batch = 4
    index, lam = index_of("flip", batch, device), lam_of("per_sample", batch, torch.float32, device)
    mean, std = torch.tensor(MEAN, device=device), torch.tensor(STD, device=device)
    box = random_boxes(batch, 5, 6, device)
    u8 = samples((batch, 3, 5, 6), torch.uint8, device)
    torch.library.opcheck(
        torch.ops.mixup.fused_mix.default,
        (u8, labels(batch, device), index, lam, box, NUM_CLASSES, 0.1, mean, std, torch.bfloat16),
    )
    torch.library.opcheck(
        torch.ops.mixup.fused_mix.default,
        (u8.contiguous(memory_format=torch.channels_last), None, index, lam, None, 0, 0.0, None, std, None),
    )
    xf = samples((batch, 3, 5, 6), torch.float32, device).requires_grad_()
    torch.library.opcheck(
        torch.ops.mixup.fused_mix.default, (xf, None, index, lam, box, 0, 0.0, mean, std, torch.float64)
    )
    torch.library.opcheck(
        torch.ops.mixup._fused_mix_backward.default,
        (randn((batch, 3, 5, 6), torch.float32, device), index, lam, box, 1.0, std),
    )


@pytest.mark.parametrize("device", DEVICES)
def test_compiled_matches_eager(device):
    x = samples((4, 3, 6, 8), torch.uint8, device).contiguous(memory_format=torch.channels_last)
    index, lam = index_of("flip", 4, device), lam_of("per_sample", 4, torch.float32, device)
    mean, std = torch.tensor(MEAN, device=device), torch.tensor(STD, device=device)

    def step(x):
        return torch.ops.mixup.fused_mix(x, None, index, lam, None, 0, 0.0, mean, std, torch.bfloat16)[0]

    compiled = torch.compile(step, fullgraph=True)
    assert torch.equal(compiled(x), step(x))


# --- refusals ------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("fused", [mixup_ext.fused_mix, reference.fused_mix], ids=["fused", "reference"])
def test_bad_arguments_are_value_errors_naming_them(device, fused):
    x = samples((4, 3, 5, 6), torch.uint8, device)
    index, lam = index_of("flip", 4, device), lam_of("per_sample", 4, torch.float32, device)
    cases = [
        ({"mean": (1.0, 2.0)}, "mean"),
        ({"std": (1.0, 2.0, 3.0, 4.0)}, "std"),
        ({"mean": torch.zeros(2, device=device)}, "mean"),
        ({"std": torch.ones(3, 1, device=device)}, "std"),
        ({"std": (1.0, 0.0, 1.0)}, "std"),
        ({"std": (1.0, float("nan"), 1.0)}, "std"),
        ({"mean": (1.0, float("inf"), 1.0)}, "mean"),
        ({"std": torch.tensor([1.0, 0.0, 1.0])}, "std"),  # a CPU tensor is checked on the host
        ({"out_dtype": torch.int32}, "out_dtype"),
        ({"out_dtype": torch.uint8}, "out_dtype"),
        ({"out_dtype": "bfloat16"}, "out_dtype"),
        ({"mean": "abc"}, "mean"),
    ]
    for kwargs, name in cases:
        with pytest.raises(ValueError, match=name):
            fused(x, None, index, lam, **kwargs)
    with pytest.raises(ValueError, match="mean"):
        fused(samples((4,), torch.uint8, device), None, index, lam, mean=(1.0,))
    with pytest.raises(ValueError, match="x must be uint8, float64"):
        fused(torch.ones(4, 3, dtype=torch.int32, device=device), None, index, lam)


def test_zero_std_in_a_cpu_tensor_is_refused_by_the_op():
    x = samples((4, 3, 5, 6), torch.uint8, "cpu")
    with pytest.raises(ValueError, match="std must be finite and non-zero"):
        torch.ops.mixup.fused_mix(
            x, None, index_of("flip", 4, "cpu"), torch.ones(4), None, 0, 0.0, None, torch.tensor([1.0, 0.0, 2.0]), None
        )


# --- Mixup ---------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["batch", "pair", "elem"])
@pytest.mark.parametrize("target_form", ["dense", "index"])
@pytest.mark.parametrize("out_dtype", [None, torch.bfloat16], ids=str)
def test_mixup_normalises_in_every_mode_and_target_form(device, mode, target_form, out_dtype):
    batch = 9
    x = samples((batch, 3, 16, 12), torch.uint8, device).contiguous(memory_format=torch.channels_last)
    y = labels(batch, device)
    mixup = mixup_ext.Mixup(
        0.8,
        1.0,
        mode=mode,
        num_classes=NUM_CLASSES,
        target_form=target_form,
        mean=MEAN,
        std=STD,
        out_dtype=out_dtype,
        generator=generator(device, 5),
        pairing="random",
    )
    before = x.clone()
    out, target = mixup(x, y)
    assert torch.equal(x, before)
    assert out.dtype == (out_dtype or torch.float32)
    assert out.is_contiguous(memory_format=torch.channels_last)
    # The same draw, through the reference: mixed and normalised as one.
    mixup.generator = generator(device, 5)
    params = mixup.sample(x)
    expected, expected_target = reference.fused_mix(
        x,
        None if target_form == "index" else y,
        params.index,
        params.lam,
        params.box,
        NUM_CLASSES,
        0.1,
        mean=MEAN,
        std=STD,
        out_dtype=out_dtype,
    )
    assert_close(out, expected)
    if target_form == "dense":
        assert_close(target, expected_target)
    else:
        assert torch.equal(target[0], y) and torch.equal(target[1], params.index)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("target_form", ["dense", "index"])
def test_mixup_disabled_still_normalises_and_converts(device, target_form):
    batch = 5
    x = samples((batch, 3, 7, 6), torch.uint8, device)
    y = labels(batch, device)
    mixup = mixup_ext.Mixup(
        0.8, 1.0, num_classes=NUM_CLASSES, target_form=target_form, mean=MEAN, std=STD, out_dtype=torch.bfloat16
    )
    mixup.mixup_enabled = False
    out, target = mixup(x, y)
    assert_close(
        out,
        by_formula(
            x, torch.arange(batch, device=device), torch.ones(batch, device=device), None, MEAN, STD, torch.bfloat16
        ),
    )
    if target_form == "dense":
        expected = torch.full((batch, NUM_CLASSES), 0.1 / NUM_CLASSES, device=device)
        expected[torch.arange(batch), y] += 0.9
        assert_close(target, expected)
    else:
        assert torch.equal(target[0], y) and torch.equal(target[2], torch.ones(batch, device=device))
    # A float batch with nothing to convert comes back as it is.
    plain = mixup_ext.Mixup(num_classes=NUM_CLASSES)
    plain.mixup_enabled = False
    xf = x.float()
    assert plain(xf, y)[0] is xf


def test_mixup_refuses_bad_normalisation():
    with pytest.raises(ValueError, match="std"):
        mixup_ext.Mixup(std=(1.0, 0.0, 1.0))
    with pytest.raises(ValueError, match="mean"):
        mixup_ext.Mixup(mean=(1.0, float("nan"), 1.0))
    with pytest.raises(ValueError, match="out_dtype"):
        mixup_ext.Mixup(out_dtype=torch.int64)
    mixup = mixup_ext.Mixup(num_classes=NUM_CLASSES, mean=(1.0, 2.0))
    with pytest.raises(ValueError, match="mean has 2 values"):
        mixup(samples((4, 3, 5, 5), torch.uint8, "cpu"), labels(4, "cpu"))


BAD_CHANNEL_VALUES = {
    "mean_nan": ((1.0, float("nan"), 2.0), (1.0, 1.0, 1.0)),
    "std_zero": ((1.0, 2.0, 3.0), (1.0, 0.0, 1.0)),
    "std_inf": ((1.0, 2.0, 3.0), (1.0, 1.0, float("inf"))),
}


@pytest.mark.parametrize("case", BAD_CHANNEL_VALUES)
def test_bad_mean_std_name_the_channel_alike(case):
    """A bad mean/std value is named with its channel by the compiled op,
    the reference op and both Python entry points (they once said "got 0
    for channel 1" in C++ and printed the whole list in Python)."""
    mean, std = BAD_CHANNEL_VALUES[case]
    x = torch.randint(0, 256, (4, 3, 5, 5), dtype=torch.uint8)
    index, lam = torch.tensor([1, 0, 3, 2]), torch.rand(4)
    as_tensors = (None, index, lam, None, 0, 0.0, torch.tensor(mean), torch.tensor(std))
    refused_alike(
        "for channel",
        lambda: torch.ops.mixup.fused_mix(x, *as_tensors),
        lambda: reference.fused_mix_op(x, *as_tensors),
        lambda: mixup_ext.fused_mix(x, None, index, lam, mean=mean, std=std),
        lambda: reference.fused_mix(x, None, index, lam, mean=mean, std=std),
    )
    # Mixup checks its mean/std when it is built, by the same rule and words.
    with pytest.raises(
        ValueError, match=r"^Mixup: (mean must be finite|std must be finite and non-zero), got \S+ for channel \d$"
    ):
        mixup_ext.Mixup(mean=mean, std=std)

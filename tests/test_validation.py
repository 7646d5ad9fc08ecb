"""Bad input fails loudly: a ValueError naming the argument and what was
expected, from the compiled op, its fake kernel and the reference alike, and
no input is modified. Value checks (ranges) run on CPU; on CUDA they are
device-side asserts (tests/test_cuda.py)."""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

import mixup_ext
from mixup_ext import reference

from .helpers import DEVICES, refused_alike, requires_cuda

pytestmark = pytest.mark.cpu_kernels  # .ci/sanitize_cpu selects by these (pyproject.toml: markers)

B, C, H, W = 4, 5, 6, 7


def good_args(device):
    return dict(
        x=torch.randn(B, 3, H, W, device=device),
        target=torch.tensor([0, 1, 2, 4], device=device),
        index=torch.tensor([3, 2, 1, 0], device=device),
        lam=torch.rand(B, device=device),
        box=torch.tensor([[1, 3, 2, 5]] * B, device=device),
        num_classes=C,
        smoothing=0.1,
    )


# (case id, overrides given the device, the words the message must contain)
METADATA_CASES = [
    (
        "x_int",
        lambda d: dict(x=torch.ones(B, 3, H, W, dtype=torch.int64, device=d)),
        "x must be uint8, float64, float32, float16 or bfloat16",
    ),
    ("x_bool", lambda d: dict(x=torch.ones(B, 3, H, W, dtype=torch.bool, device=d)), "x must be uint8, float64"),
    ("x_0d", lambda d: dict(x=torch.tensor(1.0, device=d), box=None), "x must have a batch dimension"),
    (
        "index_length",
        lambda d: dict(index=torch.tensor([0, 1, 2], device=d)),
        r"index must be an int64 tensor of shape \(B,\) = \(4,\)",
    ),
    ("index_float", lambda d: dict(index=torch.tensor([3.0, 2, 1, 0], device=d)), "index must be an int64 tensor"),
    (
        "index_int32",
        lambda d: dict(index=torch.tensor([3, 2, 1, 0], dtype=torch.int32, device=d)),
        "index must be an int64 tensor",
    ),
    ("index_2d", lambda d: dict(index=torch.tensor([[3, 2, 1, 0]], device=d)), "index must be an int64 tensor"),
    (
        "lam_length",
        lambda d: dict(lam=torch.rand(B + 1, device=d)),
        r"lam must be a floating tensor of shape \(\) or \(B,\) = \(4,\)",
    ),
    ("lam_int", lambda d: dict(lam=torch.ones(B, dtype=torch.int64, device=d)), "lam must be a floating tensor"),
    ("lam_2d", lambda d: dict(lam=torch.rand(B, 1, device=d)), "lam must be a floating tensor"),
    (
        "target_batch",
        lambda d: dict(target=torch.tensor([0, 1, 2], device=d)),
        r"target must be int64 class ids of shape \(B,\) = \(4,\)",
    ),
    (
        "target_soft_width",
        lambda d: dict(target=torch.rand(B, C + 1, device=d)),
        r"soft targets of shape \(B, num_classes\) = \(4, 5\)",
    ),
    ("target_3d", lambda d: dict(target=torch.rand(B, C, 1, device=d)), "target must be int64 class ids"),
    (
        "target_int32",
        lambda d: dict(target=torch.tensor([0, 1, 2, 3], dtype=torch.int32, device=d)),
        "target must be int64 class ids",
    ),
    ("num_classes_zero", lambda d: dict(num_classes=0), "num_classes must be > 0, got 0"),
    ("num_classes_negative", lambda d: dict(num_classes=-3), "num_classes must be > 0"),
    ("smoothing_negative", lambda d: dict(smoothing=-0.1), r"smoothing must be in \[0, 1\]"),
    ("smoothing_above_one", lambda d: dict(smoothing=1.5), r"smoothing must be in \[0, 1\]"),
    ("smoothing_nan", lambda d: dict(smoothing=float("nan")), r"smoothing must be in \[0, 1\]"),
    (
        "box_width",
        lambda d: dict(box=torch.zeros(B, 3, dtype=torch.int64, device=d)),
        r"box must be an int64 tensor of shape \(4,\) or \(B, 4\)",
    ),
    ("box_rows", lambda d: dict(box=torch.zeros(B + 1, 4, dtype=torch.int64, device=d)), "box must be an int64 tensor"),
    ("box_float", lambda d: dict(box=torch.zeros(B, 4, device=d)), "box must be an int64 tensor"),
    ("box_3d", lambda d: dict(box=torch.zeros(B, 4, 1, dtype=torch.int64, device=d)), "box must be an int64 tensor"),
    ("box_on_2d_x", lambda d: dict(x=torch.randn(B, 10, device=d)), "box needs x with at least 3 dims"),
]

VALUE_CASES = [
    (
        "index_too_large",
        dict(index=torch.tensor([3, 2, 4, 0])),
        r"index values must be in \[0, B\) = \[0, 4\), found 4 at position 2",
    ),
    ("index_negative", dict(index=torch.tensor([3, -1, 1, 0])), r"index values must be in \[0, B\).*found -1"),
    (
        "label_too_large",
        dict(target=torch.tensor([0, 5, 2, 4])),
        r"target class ids must be in \[0, num_classes\) = \[0, 5\), found 5",
    ),
    ("label_negative", dict(target=torch.tensor([0, 1, -2, 4])), "target class ids must be in .*found -2"),
    (
        "box_past_image",
        dict(box=torch.tensor([[1, 3, 2, 5], [0, H + 1, 0, 2], [0, 1, 0, 1], [0, 1, 0, 1]])),
        r"box row 1 = \[0, 7, 0, 2\] is neither a box inside the image",
    ),
    (
        "box_past_width",
        dict(box=torch.tensor([0, 2, 3, W + 1])),
        r"box row 0 .* is neither a box inside the image \(y0, y1 in \[0, H=6\], x0, x1 in \[0, W=7\]\) "
        r"nor \[-1, -1, -1, -1\]",
    ),
    (
        "box_negative",
        dict(box=torch.tensor([[1, 3, 2, 5], [0, 1, 0, 1], [-1, 2, 0, 2], [0, 1, 0, 1]])),
        "box row 2 .* is neither a box inside the image",
    ),
    (
        "box_half_marked_blend",
        dict(box=torch.tensor([[-1, -1, -1, -1], [-1, -1, 0, 1], [0, 1, 0, 1], [0, 1, 0, 1]])),
        r"box row 1 = \[-1, -1, 0, 1\] is neither",
    ),
]


def call_op(a):
    return torch.ops.mixup.fused_mix(
        a["x"], a["target"], a["index"], a["lam"], a["box"], a["num_classes"], a["smoothing"]
    )


def call_reference(a):
    return reference.fused_mix_op(a["x"], a["target"], a["index"], a["lam"], a["box"], a["num_classes"], a["smoothing"])


def call_fake(a):
    with FakeTensorMode() as mode:
        fake = {k: mode.from_tensor(v) if isinstance(v, torch.Tensor) else v for k, v in a.items()}
        return call_op(fake)


IMPLEMENTATIONS = {"op": call_op, "reference": call_reference, "fake": call_fake}


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case,overrides,match", METADATA_CASES, ids=[c[0] for c in METADATA_CASES])
def test_bad_metadata_is_refused_alike(device, case, overrides, match):
    """The compiled op, the reference and the fake kernel: one sentence."""
    args = good_args(device)
    args.update(overrides(device))
    refused_alike(
        match, lambda: call_op(args), lambda: call_reference(args), lambda: call_fake(args), unchanged=args.values()
    )


@pytest.mark.parametrize("case,overrides,match", VALUE_CASES, ids=[c[0] for c in VALUE_CASES])
def test_bad_values_are_refused_alike_on_cpu(case, overrides, match):
    """Values are read on the CPU only (a fake tensor has none; CUDA asserts
    on the device: tests/test_cuda.py)."""
    args = good_args("cpu")
    args.update(overrides)
    refused_alike(match, lambda: call_op(args), lambda: call_reference(args), unchanged=args.values())


def test_good_args_pass_everywhere():
    """The cases above differ from these arguments in one thing only."""
    for device in DEVICES:
        for call in IMPLEMENTATIONS.values():
            out, mixed = call(good_args(device))
            assert out.shape == (B, 3, H, W) and mixed.shape == (B, C)


@requires_cuda
@pytest.mark.parametrize("name", ["target", "index", "lam", "box"])
def test_tensors_on_different_devices_are_refused_alike(name):
    args = good_args("cuda")
    args[name] = args[name].cpu()
    refused_alike(
        f"{name} must be on the same device as x",
        *(lambda c=c: c(args) for c in IMPLEMENTATIONS.values()),
        unchanged=args.values(),
    )


@pytest.mark.parametrize("device", DEVICES)
def test_backward_op_validates_its_arguments(device):
    grad = torch.randn(B, 3, H, W, device=device)
    index, lam = torch.tensor([3, 2, 1, 0], device=device), torch.rand(B, device=device)
    bad = [
        ((grad.long(), index, lam, None), "grad must be float64"),
        ((grad, index[:3], lam, None), "index must be an int64 tensor"),
        ((grad, index, lam.long(), None), "lam must be a floating tensor"),
        ((grad[:, 0, 0], index, lam, torch.tensor([0, 1, 0, 1], device=device)), "box needs x with at least 3 dims"),
    ]
    for fn in (torch.ops.mixup._fused_mix_backward, reference._fused_mix_backward):
        for args, match in bad:
            with pytest.raises(ValueError, match=match):
                fn(*args, 1.0)


@pytest.mark.parametrize(
    "fn", [torch.ops.mixup._fused_mix_backward, reference._fused_mix_backward], ids=["op", "reference"]
)
@pytest.mark.parametrize(
    "case,overrides,match",
    [c for c in VALUE_CASES if not c[0].startswith("label")],
    ids=lambda c: c if isinstance(c, str) else "",
)
def test_backward_values_are_refused_on_cpu(fn, case, overrides, match):
    """The backward reads index and box too; a bad value must not turn into a
    silently wrong gradient."""
    args = good_args("cpu")
    args.update(overrides)
    match = match.replace("mixup::fused_mix:", "mixup::_fused_mix_backward:")
    grad = torch.randn(B, 3, H, W)
    with pytest.raises(ValueError, match=match):
        fn(grad, args["index"], args["lam"], args["box"], 1.0)


def test_wrapper_needs_num_classes_for_class_ids():
    with pytest.raises(ValueError, match="num_classes is required with integer class ids"):
        mixup_ext.fused_mix(torch.randn(2, 3), torch.tensor([0, 1]), torch.tensor([1, 0]), 0.5)


@pytest.mark.parametrize(
    "call, words",
    [
        (
            lambda x: mixup_ext.fused_mix(x, torch.tensor([0.0, 1, 2, 3]), torch.arange(4), 0.5, None, 4),
            r"mixup::fused_mix: target must be a tensor of \(B,\) class ids of an integer dtype or \(B, num_classes\) "
            r"floating soft targets, got torch.float32 tensor of shape \[4\]",
        ),
        (
            lambda x: mixup_ext.fused_mix(x, [0, 1, 2, 3], torch.arange(4), 0.5, None, 4),
            r"mixup::fused_mix: target must be a tensor of .*, got a list",
        ),
        (
            lambda x: mixup_ext.Mixup(num_classes=4)(x, [0, 1, 2, 3]),
            r"Mixup: target must be a tensor of .*, got a list",
        ),
        (lambda x: mixup_ext.Mixup(num_classes=4)(x, torch.tensor([0.0, 1, 2, 3])), r"Mixup: target must be a tensor"),
        (
            lambda x: mixup_ext.mixup_cross_entropy(
                torch.randn(4, 4), torch.tensor([0.0, 1, 2, 3]), torch.arange(4), 0.5
            ),
            r"mixup_cross_entropy: y_a must be a tensor of \(B,\) class ids of an integer dtype, got torch.float32",
        ),
        (
            lambda x: mixup_ext.mixup_binary_cross_entropy(torch.randn(4, 4), torch.arange(4), [0, 1, 2, 3], 0.5),
            r"mixup_binary_cross_entropy: y_b must be a tensor of \(B,\) class ids of an integer dtype, got a list",
        ),
    ],
)
def test_labels_of_the_wrong_kind_are_value_errors_naming_the_argument(call, words):
    with pytest.raises(ValueError, match=words):
        call(torch.randn(4, 3, 8, 8))


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
def test_class_ids_of_every_integer_dtype_are_taken(dtype):
    x, y = torch.randn(4, 3, 8, 8), torch.tensor([0, 1, 2, 3])
    want = mixup_ext.fused_mix(x, y, torch.arange(4).flip(0), 0.3, None, 4)
    got = mixup_ext.fused_mix(x, y.to(dtype), torch.arange(4).flip(0), 0.3, None, 4)
    assert all(torch.equal(a, b) for a, b in zip(got, want))


def test_the_cuda_tile_setting_is_per_thread_and_refuses_unknown_tiles():
    """mixup::_set_cuda_tile (csrc/row_tile.h) pins the CUDA row kernels'
    tile for the calling thread only; the op exists in every build."""
    import threading

    with pytest.raises(ValueError, match="mixup::_set_cuda_tile: tile must be one of by_size, wide, small, got 'huge'"):
        torch.ops.mixup._set_cuda_tile("huge")
    previous = torch.ops.mixup._set_cuda_tile("wide")
    try:
        seen = []
        thread = threading.Thread(target=lambda: seen.append(torch.ops.mixup._set_cuda_tile("small")))
        thread.start()
        thread.join()
        assert seen == ["by_size"], "another thread starts from the size's choice"
        assert torch.ops.mixup._set_cuda_tile("wide") == "wide", "and leaves this thread's setting alone"
    finally:
        torch.ops.mixup._set_cuda_tile(previous)

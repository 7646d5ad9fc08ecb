"""Argument checks and output layout rules for the Python side of the op.

The fake (meta) kernels and the reference both use these, so the compiled op,
its fake kernel and the fallback refuse the same inputs with the same words.
The C++ twin of this file is csrc/fused_mix_plan.cpp; every message names the
argument and what was expected, and every refusal is a ValueError.
"""

from __future__ import annotations

import math

import torch
from torch._subclasses.fake_tensor import is_fake
from .sampling import NO_BOX

FLOAT_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
FORWARD = "mixup::fused_mix"
BACKWARD = "mixup::fused_mix_backward"


def _describe(t: torch.Tensor) -> str:
    return f"{t.dtype} tensor of shape {list(t.shape)} on {t.device}"


def accumulation_dtype(dtype: torch.dtype) -> torch.dtype:
    """float32 math for every float type but float64, as the contract asks."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def output_memory_format(t: torch.Tensor) -> torch.memory_format:
    """x's memory format when x is contiguous or channels_last, else contiguous.

    Mirrors dense_rows() in csrc/fused_mix_plan.cpp, check for check, so the
    fake kernel's strides equal the real kernel's.
    """
    if t.is_contiguous():
        return torch.contiguous_format
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    if t.dim() == 5 and t.is_contiguous(memory_format=torch.channels_last_3d):
        return torch.channels_last_3d
    return torch.contiguous_format


def _check_device(op: str, name: str, t: torch.Tensor, x: torch.Tensor) -> None:
    if t.device != x.device:
        raise ValueError(f"{op}: {name} must be on the same device as x ({x.device}), got {t.device}")


def check_rows(op: str, name: str, t: torch.Tensor) -> None:
    if t.dim() < 1:
        raise ValueError(f"{op}: {name} must have a batch dimension (B, ...), got a 0-d tensor")
    if t.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{op}: {name} must be float64, float32, float16 or bfloat16, got {_describe(t)}")


def check_mix(op: str, x: torch.Tensor, index: torch.Tensor, lam: torch.Tensor, box) -> None:
    batch = x.shape[0]
    _check_device(op, "index", index, x)
    if index.dtype != torch.int64 or index.dim() != 1 or index.shape[0] != batch:
        raise ValueError(f"{op}: index must be an int64 tensor of shape (B,) = ({batch},), got {_describe(index)}")
    _check_device(op, "lam", lam, x)
    if not lam.is_floating_point() or not (lam.dim() == 0 or (lam.dim() == 1 and lam.shape[0] == batch)):
        raise ValueError(f"{op}: lam must be a floating tensor of shape () or (B,) = ({batch},), got {_describe(lam)}")
    if box is None:
        return
    _check_device(op, "box", box, x)
    if x.dim() < 3:
        raise ValueError(f"{op}: box needs x with at least 3 dims (B, ..., H, W), got x of shape {list(x.shape)}")
    good_shape = (box.dim() == 1 and box.shape[0] == 4) or (
        box.dim() == 2 and box.shape[0] == batch and box.shape[1] == 4
    )
    if box.dtype != torch.int64 or not good_shape:
        raise ValueError(
            f"{op}: box must be an int64 tensor of shape (4,) or (B, 4) = ({batch}, 4) "
            f"with rows [y0, y1, x0, x1], got {_describe(box)}"
        )


def check_forward(x, target, index, lam, box, num_classes: int, smoothing: float) -> None:
    """Metadata checks of mixup::fused_mix: dtypes, shapes, devices, scalars.
    Without a target, num_classes and smoothing are unused and unchecked."""
    check_rows(FORWARD, "x", x)
    check_mix(FORWARD, x, index, lam, box)
    if target is None:
        return
    if num_classes <= 0:
        raise ValueError(f"{FORWARD}: num_classes must be > 0, got {num_classes}")
    if not 0.0 <= smoothing <= 1.0:  # also refuses NaN
        raise ValueError(f"{FORWARD}: smoothing must be in [0, 1], got {smoothing}")
    batch = x.shape[0]
    _check_device(FORWARD, "target", target, x)
    labels = target.dtype == torch.int64 and target.dim() == 1 and target.shape[0] == batch
    soft = (
        target.dtype in FLOAT_DTYPES
        and target.dim() == 2
        and target.shape[0] == batch
        and target.shape[1] == num_classes
    )
    if not (labels or soft):
        raise ValueError(
            f"{FORWARD}: target must be int64 class ids of shape (B,) = ({batch},) or floating soft "
            f"targets of shape (B, num_classes) = ({batch}, {num_classes}), got {_describe(target)}"
        )


def _values_readable(x: torch.Tensor) -> bool:
    """Value checks read the data, so they run only on real CPU tensors: on
    CUDA the kernels assert the same conditions, and while tracing (fake
    tensors) there are no values to read."""
    return x.device.type == "cpu" and not torch.compiler.is_compiling() and not is_fake(x)


def _check_mix_values(op: str, x, index, box) -> None:
    batch = x.shape[0]
    bad = ((index < 0) | (index >= batch)).nonzero()
    if bad.numel():
        i = int(bad[0])
        raise ValueError(f"{op}: index values must be in [0, B) = [0, {batch}), found {int(index[i])} at position {i}")
    if box is not None:
        height, width = x.shape[-2], x.shape[-1]
        rows = box.reshape(-1, 4)
        limit = torch.tensor([height, height, width, width])
        no_box = (rows == NO_BOX).all(dim=1)
        bad = (((rows < 0) | (rows > limit)).any(dim=1) & ~no_box).nonzero()
        if bad.numel():
            r = int(bad[0])
            raise ValueError(
                f"{op}: box row {r} = {rows[r].tolist()} is neither a box inside the image (y0, y1 in "
                f"[0, H={height}], x0, x1 in [0, W={width}]) nor [-1, -1, -1, -1] (no box: blend)"
            )


def check_forward_values(x, target, index, box, num_classes: int) -> None:
    """Value checks of mixup::fused_mix (CPU only, see _values_readable)."""
    if not _values_readable(x):
        return
    _check_mix_values(FORWARD, x, index, box)
    if target is not None and target.dtype == torch.int64:
        bad = ((target < 0) | (target >= num_classes)).nonzero()
        if bad.numel():
            i = int(bad[0])
            raise ValueError(
                f"{FORWARD}: target class ids must be in [0, num_classes) = [0, {num_classes}), "
                f"found {int(target[i])} at position {i}"
            )


def check_backward(grad, index, lam, box) -> None:
    """Metadata, and on CPU the values, of mixup::fused_mix_backward's arguments."""
    check_rows(BACKWARD, "grad", grad)
    check_mix(BACKWARD, grad, index, lam, box)
    if _values_readable(grad):
        _check_mix_values(BACKWARD, grad, index, box)


def as_lam_tensor(lam, x: torch.Tensor) -> torch.Tensor:
    """A Python float becomes a 0-d tensor on x's device, made by a fill kernel
    (no host-to-device copy). Under torch.compile pass a tensor: a Python float
    is baked into the graph and recompiles for every new value."""
    if isinstance(lam, torch.Tensor):
        return lam
    return torch.full((), float(lam), dtype=accumulation_dtype(x.dtype), device=x.device)


def infer_num_classes(target, num_classes) -> int:
    if num_classes is not None:
        return int(num_classes)
    if target is None:
        return 0  # no targets to mix: unused
    if target.is_floating_point() and target.dim() == 2:
        return int(target.shape[1])
    raise ValueError(
        f"{FORWARD}: num_classes is required with integer class ids; it can only be inferred "
        f"from (B, num_classes) soft targets, got {_describe(target)}"
    )


DRAW = "mixup::draw_mix_params"
MODES = ("batch", "pair", "elem")
PAIRINGS = ("flip", "roll", "random")


def check_draw(x, mode, pairing, mixup_alpha, cutmix_alpha, mix_prob, switch_prob, minmax, generator) -> None:
    """Argument checks of mixup::draw_mix_params (csrc/draw_mix_params_plan.cpp's twin)."""
    if x.dim() < 1:
        raise ValueError(f"{DRAW}: x must have a batch dimension (B, ...), got a 0-d tensor")
    if mode not in MODES:
        raise ValueError(f"{DRAW}: mode must be one of {', '.join(MODES)}, got '{mode}'")
    if pairing not in PAIRINGS:
        raise ValueError(f"{DRAW}: pairing must be one of {', '.join(PAIRINGS)}, got '{pairing}'")
    if mode == "pair" and pairing == "roll":
        raise ValueError(
            f"{DRAW}: mode='pair' needs symmetric partners, and pairing='roll' is not (i takes i-1, "
            "i-1 takes i-2); use 'flip' or 'random'"
        )
    if not (0 <= mixup_alpha < math.inf and 0 <= cutmix_alpha < math.inf):
        raise ValueError(f"{DRAW}: mixup_alpha and cutmix_alpha must be finite and >= 0, got {mixup_alpha} and {cutmix_alpha}")
    if minmax is not None and not (len(minmax) == 2 and 0 < minmax[0] < minmax[1] <= 1):
        raise ValueError(f"{DRAW}: minmax must be an increasing pair inside (0, 1], got {list(minmax)}")
    if not (mixup_alpha > 0 or cutmix_alpha > 0 or minmax is not None):
        raise ValueError(f"{DRAW}: one of mixup_alpha > 0, cutmix_alpha > 0 or minmax must be set")
    for name, p in (("mix_prob", mix_prob), ("switch_prob", switch_prob)):
        if not 0 <= p <= 1:
            raise ValueError(f"{DRAW}: {name} must be in [0, 1], got {p}")
    if (cutmix_alpha > 0 or minmax is not None) and x.dim() < 3:
        raise ValueError(f"{DRAW}: CutMix needs x with at least 3 dims (B, ..., H, W), got x of shape {list(x.shape)}")
    if generator is not None and generator.device.type != x.device.type:
        raise ValueError(f"{DRAW}: generator must be on x's device type ({x.device.type}), got one on {generator.device}")

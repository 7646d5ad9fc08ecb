"""The public Python entry points of the fused op."""

from __future__ import annotations

import torch

from ._validation import (
    FORWARD,
    accumulation_dtype,
    as_class_ids,
    as_lam_tensor,
    as_per_channel,
    check_out_dtype,
    infer_num_classes,
    output_dtype,
)

__all__ = ["fused_mix", "set_value_checks"]

_fused_mix = torch.ops.mixup.fused_mix.default  # the overload itself: no resolution per call


def fused_mix(x, target, index, lam, box=None, num_classes=None, smoothing=0.0, *, mean=None, std=None, out_dtype=None):
    """Mixes a batch and its targets in one pass (``torch.ops.mixup.fused_mix``).

    Args:
        x: ``(B, ...)`` uint8, float64/32/16 or bfloat16 samples; never modified.
        target: ``(B,)`` class ids of any integer dtype (widened to int64),
            ``(B, num_classes)`` soft targets, or
            None when a loss mixes the class ids itself (then the second output
            is an empty ``(B, 0)`` tensor and no target work is done).
        index: ``(B,)`` int64; sample i is mixed with sample ``index[i]``.
        lam: weight of each sample itself: a float, or a ``()`` or ``(B,)``
            floating tensor on x's device (pass a tensor under torch.compile).
        box: None, or int64 ``(4,)``/``(B, 4)`` rows ``[y0, y1, x0, x1)`` over
            the last two dims: inside it sample i takes ``x[index[i]]``, and
            outside it keeps ``x[i]`` (an empty box pastes nothing). A row of
            ``mixup_ext.NO_BOX`` (-1) marks a sample that is blended instead.
        num_classes: required for class ids; inferred from soft targets.
        smoothing: label smoothing in ``[0, 1]``.
        mean: per-channel (dim 1) normalisation of the output, in x's
            units (0-255 for uint8): a sequence of C floats or a ``(C,)``
            tensor. The output is ``(mix(x) - mean[c]) / std[c]``. Either of
            mean and std may be given alone (mean 0, std 1).
        std: the divisor of that normalisation, likewise. The gradient to a
            float x is scaled by ``1 / std[c]``.
        out_dtype: the output's dtype: float32 (the default for uint8 x),
            bfloat16, float16 or float64; float x defaults to its own dtype.
            Computed in float32 (float64 when either side is float64) and
            rounded once.

    Returns:
        ``(mixed_x, mixed_target)``: mixed_x of x's shape and ``out_dtype``, in
        x's memory format when x is contiguous or channels_last (an NHWC batch
        viewed as NCHW with ``permute(0, 3, 1, 2)`` is channels_last, and is
        read without a copy); mixed_target ``(B, num_classes)``, float32 for
        class ids, else the soft targets' dtype.
    """
    check_out_dtype(FORWARD, out_dtype)
    target = as_class_ids(target)
    channel_dtype = accumulation_dtype(x.dtype, output_dtype(x, out_dtype))
    return _fused_mix(
        x,
        target,
        index,
        as_lam_tensor(lam, x),
        box,
        infer_num_classes(target, num_classes),
        float(smoothing),
        as_per_channel(FORWARD, "mean", mean, x, channel_dtype),
        as_per_channel(FORWARD, "std", std, x, channel_dtype),
        out_dtype,
    )


def set_value_checks(enabled: bool) -> bool:
    """Turns value checks on a GPU on or off, process-wide; returns the
    previous setting.

    On the CPU every op always checks its small arguments' values -- ``lam``
    in [0, 1] (NaN refused), partners and class ids in range, boxes inside
    the image -- and refuses a bad one with a ``ValueError``. On a GPU that
    check would copy them to the host and wait for the device on every call,
    so by default it is skipped (the kernels still device-assert whatever
    would read out of bounds, but an out-of-range ``lam`` mixes as given).
    With value checks on, the GPU ops check exactly as the CPU ones do, at
    one sync per call: a debugging mode, like ``torch.autograd.detect_anomaly``.
    ``MIXUP_EXT_CHECK_VALUES=1`` in the environment turns it on from the start.
    """
    if not isinstance(enabled, bool):
        raise ValueError(f"set_value_checks: enabled must be a bool, got {enabled!r}")
    return torch.ops.mixup._set_value_checks(enabled)

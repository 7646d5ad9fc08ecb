"""The public Python entry points of the fused op."""

from __future__ import annotations

import torch

from ._validation import as_lam_tensor, infer_num_classes

__all__ = ["fused_mix"]

_fused_mix = torch.ops.mixup.fused_mix.default  # the overload itself: no resolution per call


def fused_mix(x, target, index, lam, box=None, num_classes=None, smoothing=0.0):
    """Mixes a batch and its targets in one pass (``torch.ops.mixup.fused_mix``).

    Args:
        x: ``(B, ...)`` float64/32/16 or bfloat16 samples; never modified.
        target: ``(B,)`` int64 class ids, ``(B, num_classes)`` soft targets, or
            None when a loss mixes the class ids itself (then the second output
            is an empty ``(B, 0)`` tensor and no target work is done).
        index: ``(B,)`` int64; sample i is mixed with sample ``index[i]``.
        lam: weight of each sample itself: a float, or a ``()`` or ``(B,)``
            floating tensor on x's device (pass a tensor under torch.compile).
        box: None, or int64 ``(4,)``/``(B, 4)`` rows ``[y0, y1, x0, x1)`` over
            the last two dims: inside it sample i takes ``x[index[i]]``, and
            outside it keeps ``x[i]`` (an empty box pastes nothing). A row of
            ``sampling.NO_BOX`` (-1) marks a sample that is blended instead.
        num_classes: required for class ids; inferred from soft targets.
        smoothing: label smoothing in ``[0, 1]``.

    Returns:
        ``(mixed_x, mixed_target)``: mixed_x like x (x's memory format when x is
        contiguous or channels_last); mixed_target ``(B, num_classes)``, float32
        for class ids, else the soft targets' dtype.
    """
    return _fused_mix(
        x, target, index, as_lam_tensor(lam, x), box, infer_num_classes(target, num_classes), float(smoothing)
    )

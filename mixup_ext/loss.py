"""The mixed cross-entropy, fused: ``lam * CE_eps(logits, y_a) + (1 - lam) *
CE_eps(logits, y_b)`` from the class ids alone.

Cross-entropy is linear in its target, label smoothing included, so the
mixed loss never needs the dense ``(B, C)`` soft targets that timm and
torchvision users build and feed to the slow soft-target path of
``F.cross_entropy``. Forward: one pass over the logits (an online
log-sum-exp); backward: one pass writing ``softmax - mixed target``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["mixup_cross_entropy", "MixupCrossEntropy"]

REDUCTIONS = ("mean", "sum", "none")


def mixup_cross_entropy(logits, y_a, y_b, lam, label_smoothing: float = 0.0, reduction: str = "mean"):
    """``lam * F.cross_entropy(logits, y_a, label_smoothing=eps) + (1 - lam) *
    F.cross_entropy(logits, y_b, label_smoothing=eps)``, per sample for a
    ``(B,)`` lam.

    Args:
        logits: ``(B, C)`` float64/32/16 or bfloat16; math in float32 (float64
            for float64), the gradient in the logits' dtype.
        y_a, y_b: ``(B,)`` int64 class ids (with Mixup's index form:
            ``y_a = target``, ``y_b = target[index]``).
        lam: a float, or a ``()`` or ``(B,)`` tensor: the weight of y_a.
        label_smoothing: in ``[0, 1]``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-sample, float32).

    Out-of-range class ids raise a ValueError on CPU and trip a device-side
    assert on CUDA.
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"mixup_cross_entropy: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
    if not isinstance(lam, torch.Tensor):
        acc = torch.float64 if logits.dtype == torch.float64 else torch.float32
        lam = torch.full((), float(lam), dtype=acc, device=logits.device)
    rows, _ = torch.ops.mixup.mixup_cross_entropy(logits, y_a, y_b, lam, float(label_smoothing))
    if reduction == "mean":
        return rows.mean()
    if reduction == "sum":
        return rows.sum()
    return rows


class MixupCrossEntropy(nn.Module):
    """:func:`mixup_cross_entropy` as a module.

    ``loss(logits, (target, index, lam))`` takes ``Mixup(target_form="index")``'s
    targets directly; ``loss(logits, y_a, y_b, lam)`` takes them spelled out.
    """

    def __init__(self, label_smoothing: float = 0.0, reduction: str = "mean"):
        super().__init__()
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"MixupCrossEntropy: label_smoothing must be in [0, 1], got {label_smoothing}")
        if reduction not in REDUCTIONS:
            raise ValueError(f"MixupCrossEntropy: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
        self.label_smoothing = label_smoothing
        self.reduction = reduction

    def forward(self, logits, target, y_b=None, lam=None):
        if isinstance(target, (tuple, list)):
            if y_b is not None or lam is not None:
                raise ValueError("MixupCrossEntropy: pass either (target, index, lam) or y_a, y_b, lam, not both")
            target, index, lam = target
            y_b = target[index]
        elif y_b is None or lam is None:
            raise ValueError("MixupCrossEntropy: needs (target, index, lam) from Mixup(target_form='index'), or y_a, y_b and lam")
        return mixup_cross_entropy(logits, target, y_b, lam, self.label_smoothing, self.reduction)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}, reduction={self.reduction!r}"

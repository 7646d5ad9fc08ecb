"""Mixup losses, fused: computed from the class ids alone.

* ``mixup_cross_entropy``: ``lam * CE_eps(logits, y_a) + (1 - lam) *
  CE_eps(logits, y_b)``. Cross-entropy is linear in its target, label
  smoothing included, so the mixed loss never needs the dense ``(B, C)``
  soft targets that timm and torchvision users build and feed to the slow
  soft-target path of ``F.cross_entropy``.
* ``mixup_binary_cross_entropy``: timm's ``BinaryCrossEntropy`` on Mixup's
  dense target (``--bce-loss``, with ``--bce-target-thresh``). Every class of
  a row but the two labelled ones has the same target, so no ``(B, C)``
  target is built either.

When the logits need a gradient, the forward writes it while it holds each
row, with the reduction (its 1 / B for ``"mean"``) folded in; the backward
only applies ``grad_output``, and after ``loss.backward()`` (grad_output 1)
it hands that gradient over without touching it again. So a training step
reads the logits once and writes their gradient once. Without a gradient
(eval, ``torch.no_grad()``) the forward writes only the per-row losses.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from ._validation import accumulation_dtype, as_class_ids, as_lam_tensor
from ._validation import check_reduction as _check_reduction

__all__ = ["mixup_cross_entropy", "MixupCrossEntropy", "mixup_binary_cross_entropy", "MixupBinaryCrossEntropy"]


def _class_ids(y, where: str, name: str):
    return as_class_ids(y, where, name, soft_targets=False)


def _check_label_smoothing(where: str, label_smoothing) -> None:
    if not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{where}: label_smoothing must be in [0, 1], got {label_smoothing!r}")


def _mixup_targets(where: str, target, y_b, lam):
    """``(y_a, y_b, lam)`` from ``Mixup(target_form="index")``'s ``(target,
    index, lam)`` tuple, or from the three spelled out."""
    if isinstance(target, (tuple, list)):
        if y_b is not None or lam is not None:
            raise ValueError(f"{where}: pass either (target, index, lam) or y_a, y_b, lam, not both")
        if len(target) != 3:
            raise ValueError(f"{where}: the target tuple must be (target, index, lam), got {len(target)} items")
        target, index, lam = target
        return target, target[index], lam
    if y_b is None or lam is None:
        raise ValueError(f"{where}: needs (target, index, lam) from Mixup(target_form='index'), or y_a, y_b and lam")
    return target, y_b, lam


def mixup_cross_entropy(logits, y_a, y_b, lam, label_smoothing: float = 0.0, reduction: str = "mean"):
    """``lam * F.cross_entropy(logits, y_a, label_smoothing=eps) + (1 - lam) *
    F.cross_entropy(logits, y_b, label_smoothing=eps)``, per sample for a
    ``(B,)`` lam.

    Args:
        logits: ``(B, C)`` float64/32/16 or bfloat16; math in float32 (float64
            for float64), the gradient in the logits' dtype.
        y_a: ``(B,)`` class ids of any integer dtype, weighted by lam (with
            Mixup's index form: ``y_a = target``).
        y_b: the partners' class ids, weighted by ``1 - lam`` (``y_b =
            target[index]``).
        lam: a float, or a ``()`` or ``(B,)`` tensor: the weight of y_a.
        label_smoothing: in ``[0, 1]``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (per-sample, float32).

    Out-of-range class ids raise a ValueError on CPU and trip a device-side
    assert on CUDA.
    """
    _check_reduction("mixup_cross_entropy", reduction)
    where = "mixup_cross_entropy"
    loss, _ = torch.ops.mixup.mixup_cross_entropy(
        logits,
        _class_ids(y_a, where, "y_a"),
        _class_ids(y_b, where, "y_b"),
        as_lam_tensor(lam, logits, where),
        float(label_smoothing),
        reduction,
    )
    return loss


class MixupCrossEntropy(nn.Module):
    """:func:`mixup_cross_entropy` as a module.

    ``loss(logits, (target, index, lam))`` takes ``Mixup(target_form="index")``'s
    targets directly; ``loss(logits, y_a, y_b, lam)`` takes them spelled out.
    """

    def __init__(self, label_smoothing: float = 0.0, reduction: str = "mean"):
        super().__init__()
        _check_label_smoothing("MixupCrossEntropy", label_smoothing)
        _check_reduction("MixupCrossEntropy", reduction)
        self.label_smoothing = label_smoothing
        self.reduction = reduction

    def forward(self, logits, target, y_b=None, lam=None):
        y_a, y_b, lam = _mixup_targets("MixupCrossEntropy", target, y_b, lam)
        return mixup_cross_entropy(logits, y_a, y_b, lam, self.label_smoothing, self.reduction)

    def extra_repr(self) -> str:
        return f"label_smoothing={self.label_smoothing}, reduction={self.reduction!r}"


def _pos_weight_tensor(pos_weight, logits):
    """pos_weight as the op takes it: None, or a tensor on logits' device. A
    float (or a one-element CPU tensor) becomes a 0-d tensor made by a fill
    kernel, with no host-to-device copy; other tensors are checked by the op."""
    if pos_weight is None:
        return None
    if isinstance(pos_weight, torch.Tensor):
        if pos_weight.device != logits.device and pos_weight.device.type == "cpu" and pos_weight.numel() == 1:
            pos_weight = float(pos_weight)
        else:
            return pos_weight
    if not isinstance(pos_weight, (int, float)):
        raise ValueError(
            f"mixup_binary_cross_entropy: pos_weight must be a float or a tensor, got {type(pos_weight).__name__}"
        )
    return torch.full((), float(pos_weight), dtype=accumulation_dtype(logits.dtype), device=logits.device)


def _check_threshold(where: str, target_threshold) -> None:
    if target_threshold is not None and (
        isinstance(target_threshold, bool)
        or not isinstance(target_threshold, (int, float))
        or not math.isfinite(target_threshold)
    ):
        raise ValueError(f"{where}: target_threshold must be a finite float or None, got {target_threshold!r}")


def mixup_binary_cross_entropy(
    logits,
    y_a,
    y_b,
    lam,
    label_smoothing: float = 0.0,
    target_threshold=None,
    sum_classes: bool = False,
    pos_weight=None,
    reduction: str = "mean",
):
    """timm's ``BinaryCrossEntropy(target_threshold, sum_classes, pos_weight)``
    on the dense target timm's ``Mixup(label_smoothing=eps)`` builds, from the
    class ids alone.

    The target is ``t = lam * s(y_a) + (1 - lam) * s(y_b)`` with ``s(y) =
    (1 - eps) * one_hot(y) + eps / C``, then ``t > target_threshold`` as 0/1
    when a threshold is given (timm's ``--bce-target-thresh``); the loss is
    ``F.binary_cross_entropy_with_logits(logits, t, pos_weight=pos_weight)``.

    Args:
        logits: ``(B, C)`` float64/32/16 or bfloat16; math in float32 (float64
            for float64), the gradient in the logits' dtype.
        y_a: ``(B,)`` class ids of any integer dtype, weighted by lam (with
            Mixup's index form: ``y_a = target``).
        y_b: the partners' class ids, weighted by ``1 - lam`` (``y_b =
            target[index]``).
        lam: a float, or a ``()`` or ``(B,)`` tensor: the weight of y_a.
        label_smoothing: ``eps`` in ``[0, 1]``.
        target_threshold: None, or binarise the target at this value.
        sum_classes: per sample, sum over classes (timm's ``sum_classes``)
            instead of their mean.
        pos_weight: None, a float, or a ``()`` or ``(C,)`` tensor: the weight
            of the positive term, as in ``binary_cross_entropy_with_logits``.
            A constant of the loss: it gets no gradient (nor does lam).
        reduction: ``"mean"`` or ``"sum"`` over samples, or ``"none"``: the
            per-sample ``(B,)`` loss (float32; float64 for float64 logits).

    Out-of-range class ids raise a ValueError on CPU and trip a device-side
    assert on CUDA.
    """
    where = "mixup_binary_cross_entropy"
    _check_reduction(where, reduction)
    _check_label_smoothing(where, label_smoothing)
    _check_threshold(where, target_threshold)
    return torch.ops.mixup.mixup_binary_cross_entropy(
        logits,
        _class_ids(y_a, where, "y_a"),
        _class_ids(y_b, where, "y_b"),
        as_lam_tensor(lam, logits, where),
        float(label_smoothing),
        None if target_threshold is None else float(target_threshold),
        _pos_weight_tensor(pos_weight, logits),
        bool(sum_classes),
        reduction,
    )


class MixupBinaryCrossEntropy(nn.Module):
    """:func:`mixup_binary_cross_entropy` as a module: timm's
    ``BinaryCrossEntropy`` for ``Mixup(target_form="index")``'s targets.

    ``loss(logits, (target, index, lam))`` or ``loss(logits, y_a, y_b, lam)``.
    ``label_smoothing`` is the one Mixup would have smoothed its dense target
    with. A tensor ``pos_weight`` is a buffer (it follows ``.to(device)``; a
    buffer left on the CPU moves to the logits' device on the first call).
    """

    def __init__(
        self,
        label_smoothing: float = 0.0,
        target_threshold=None,
        sum_classes: bool = False,
        pos_weight=None,
        reduction: str = "mean",
    ):
        super().__init__()
        where = "MixupBinaryCrossEntropy"
        _check_label_smoothing(where, label_smoothing)
        _check_threshold(where, target_threshold)
        _check_reduction(where, reduction)
        if pos_weight is not None and not isinstance(pos_weight, torch.Tensor):
            if isinstance(pos_weight, bool) or not isinstance(pos_weight, (int, float)):
                raise ValueError(f"{where}: pos_weight must be a float or a tensor, got {type(pos_weight).__name__}")
            pos_weight = torch.tensor(float(pos_weight))
        if pos_weight is not None and (not pos_weight.is_floating_point() or pos_weight.dim() > 1):
            raise ValueError(
                f"{where}: pos_weight must be a float or a floating tensor of shape () or (C,), "
                f"got {pos_weight.dtype} of shape {list(pos_weight.shape)}"
            )
        self.label_smoothing = label_smoothing
        self.target_threshold = target_threshold
        self.sum_classes = sum_classes
        self.reduction = reduction
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, logits, target, y_b=None, lam=None):
        y_a, y_b, lam = _mixup_targets("MixupBinaryCrossEntropy", target, y_b, lam)
        if self.pos_weight is not None and self.pos_weight.device != logits.device and self.pos_weight.numel() > 1:
            self.pos_weight = self.pos_weight.to(logits.device)
        return mixup_binary_cross_entropy(
            logits,
            y_a,
            y_b,
            lam,
            self.label_smoothing,
            self.target_threshold,
            self.sum_classes,
            self.pos_weight,
            self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"label_smoothing={self.label_smoothing}, target_threshold={self.target_threshold}, "
            f"sum_classes={self.sum_classes}, reduction={self.reduction!r}"
        )

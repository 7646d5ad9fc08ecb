"""torchvision-v2-style batch transforms on the fused op.

    from mixup_ext.transforms import CutMix, MixUp
    images, labels = MixUp(alpha=1.0, num_classes=1000)(images, labels)

torchvision's semantics (``transforms/v2/_augment.py``): sample i mixes with
sample i-1 (``roll``), one weight per batch from Beta(alpha, alpha) weighting
the sample itself, no label smoothing, one-hot float32 labels, and for CutMix
torchvision's box (half-sides int(0.5 * sqrt(1 - lam) * W) around a centre
whose x is drawn before its y) with the weight always corrected to the pasted
area. Images are ``(B, C, H, W)`` or
videos ``(B, ..., H, W)``; labels ``(B,)`` int64. Inputs are not modified,
and nothing syncs with the host. No torchvision needed.
"""

from __future__ import annotations

import torch

from . import sampling
from .ops import fused_mix

__all__ = ["MixUp", "CutMix"]


class _BatchMix:
    def __init__(self, *, alpha: float = 1.0, num_classes: int, generator=None):
        if alpha <= 0:
            raise ValueError(f"{type(self).__name__}: alpha must be > 0, got {alpha}")
        if num_classes <= 0:
            raise ValueError(f"{type(self).__name__}: num_classes must be > 0, got {num_classes}")
        self.alpha = float(alpha)
        self.num_classes = num_classes
        self.generator = generator

    def params(self, images: torch.Tensor):
        raise NotImplementedError

    def __call__(self, images: torch.Tensor, labels: torch.Tensor):
        if labels.dim() != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(
                f"{type(self).__name__}: labels must be (B,) = ({images.shape[0]},) class ids, got shape {tuple(labels.shape)}"
            )
        lam, box = self.params(images)
        index = sampling.pairing_index("roll", images.shape[0], images.device)
        return fused_mix(images, labels, index, lam, box, self.num_classes, 0.0)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(alpha={self.alpha}, num_classes={self.num_classes})"


class MixUp(_BatchMix):
    """torchvision's ``v2.MixUp``: ``lam * x[i] + (1 - lam) * x[i - 1]``."""

    def params(self, images):
        return sampling.beta(self.alpha, (), images.device, self.generator).float(), None


class CutMix(_BatchMix):
    """torchvision's ``v2.CutMix``: a box of ``x[i - 1]`` pasted into ``x[i]``."""

    def params(self, images):
        if images.dim() < 3:
            raise ValueError(f"CutMix: images must have at least 3 dims (B, ..., H, W), got shape {tuple(images.shape)}")
        height, width = images.shape[-2], images.shape[-1]
        lam = sampling.beta(self.alpha, (), images.device, self.generator)
        u_x, u_y = sampling.uniform((2,), images.device, self.generator).unbind(0)  # x before y, as torchvision
        box = sampling.centred_box(lam, u_y, u_x, height, width, full_side=False)
        return sampling.box_area_weight(box, height, width).float(), box

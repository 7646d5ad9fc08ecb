"""torchvision-v2-style batch transforms on the fused op.

    from mixup_ext.transforms import CutMix, MixUp
    images, labels = MixUp(alpha=1.0, num_classes=1000)(images, labels)
    images, labels = CutMix(num_classes=1000)((images, labels))           # packed
    sample = MixUp(num_classes=1000)({"image": images, "label": labels})  # a dict

torchvision's semantics (``transforms/v2/_augment.py``): sample i mixes with
sample i-1 (``roll``), one weight per batch from Beta(alpha, alpha) weighting
the sample itself, no label smoothing, and for CutMix torchvision's box
(half-sides int(0.5 * sqrt(1 - lam) * W) around a uniform centre) with the
weight always corrected to the pasted area.

Its call conventions too: ``forward(*inputs)`` takes ``(images, labels)``
unpacked, packed as one tuple, or any structure (a dict, say); the labels are
found by ``labels_getter`` (``"default"``: a ``"labels"`` or ``"label"`` key,
else the second element of a tuple; or a callable given the inputs), the
images are the first other tensor (or every torchvision ``Image``/``Video``),
and everything else passes through. Labels are ``(B,)`` integer class ids,
one-hot encoded to float32 (needs ``num_classes``), or ``(B, C)``
probabilities mixed as given (``num_classes`` may be None). So the transforms
work alone, inside ``v2.Compose`` / ``v2.RandomChoice``, and in a DataLoader's
``collate_fn``.

Beyond torchvision: each call is two launches, one drawing the weight, box and
partners (``mixup::draw_mix_params``) and one mixing images and labels; the
draws stay on the images' device (no sync), ``generator=`` makes them
reproducible, inputs are never modified, and torchvision is not needed.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import torch
from torch import nn
from torch.utils import _pytree as pytree

from ._validation import FLOAT_DTYPES
from .mixup import MixParams
from .ops import fused_mix

_draw_mix_params = torch.ops.mixup.draw_mix_params.default
# draw_mix_params's arguments for torchvision's rules: every batch mixed, one
# method per transform, no minmax box, the area-corrected weight, and the box
# of torchvision's CutMix, [c - cut // 2, c + cut // 2) (full_side=False).
_ALWAYS, _NEVER_SWITCH, _NO_MINMAX, _CORRECT_LAM, _TORCHVISION_SIDE = 1.0, 0.0, None, True, False

__all__ = ["MixUp", "CutMix"]

LABEL_KEYS = ("labels", "label")  # torchvision's default heuristic, in its order


def find_labels(inputs):
    """torchvision's default ``labels_getter``: the second element of a tuple
    or list, or in a dict (either the inputs or that second element) the value
    under a ``"labels"`` key, else a ``"label"`` key (any case)."""
    if isinstance(inputs, (tuple, list)):
        if len(inputs) < 2:
            raise ValueError(
                f"labels_getter='default' needs (images, labels) or a dict with a 'labels'/'label' key; "
                f"got a {type(inputs).__name__} of {len(inputs)} item(s)"
            )
        inputs = inputs[1]
    if not isinstance(inputs, Mapping):
        return inputs  # the caller checks it is a tensor
    for wanted in LABEL_KEYS:
        for key in inputs:
            if isinstance(key, str) and key.lower() == wanted:
                return inputs[key]
    raise ValueError(
        f"labels_getter='default' found no 'labels' or 'label' key among {list(inputs)}; "
        "pass labels_getter=callable(inputs) -> labels"
    )


def _parse_labels_getter(labels_getter):
    if labels_getter == "default":
        return find_labels
    if callable(labels_getter):
        return labels_getter
    if labels_getter is None:  # torchvision accepts it; MixUp/CutMix then refuse the call
        return lambda inputs: None
    raise ValueError(f"labels_getter must be 'default', a callable or None, got {labels_getter!r}")


def _tv_tensor_types():
    """torchvision's Image and Video classes when torchvision is loaded (never
    imported here: without it no input can be one)."""
    tv_tensors = sys.modules.get("torchvision.tv_tensors")
    return (tv_tensors.Image, tv_tensors.Video) if tv_tensors is not None else ()


def _refuse_unsupported(flat) -> None:
    """torchvision refuses PIL images, boxes and masks: a pixel mix means nothing for them."""
    tv_tensors = sys.modules.get("torchvision.tv_tensors")
    pil = sys.modules.get("PIL.Image")
    kinds = tuple(
        t
        for t in (
            getattr(pil, "Image", None),
            getattr(tv_tensors, "BoundingBoxes", None),
            getattr(tv_tensors, "Mask", None),
        )
        if isinstance(t, type)
    )
    if kinds and any(isinstance(item, kinds) for item in flat):
        raise ValueError("MixUp/CutMix do not support PIL images, bounding boxes or masks")


def _image_positions(flat, labels) -> list[int]:
    """Which flattened inputs are mixed: every torchvision Image/Video, or
    else the first plain tensor that is not the labels (torchvision's rule,
    except that it never mistakes labels listed first for the images)."""
    explicit = _tv_tensor_types()
    if explicit:
        marked = [k for k, item in enumerate(flat) if isinstance(item, explicit)]
        if marked:
            return marked
    for k, item in enumerate(flat):
        if isinstance(item, torch.Tensor) and item is not labels:
            return [k]
    raise ValueError("MixUp/CutMix found no image tensor among the inputs")


class _BatchMix(nn.Module):
    def __init__(self, *, alpha: float = 1.0, num_classes: int | None = None, labels_getter="default", generator=None):
        super().__init__()
        name = type(self).__name__
        if not alpha > 0:
            raise ValueError(f"{name}: alpha must be > 0, got {alpha}")
        if num_classes is not None and (
            isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes <= 0
        ):
            raise ValueError(f"{name}: num_classes must be a positive int or None, got {num_classes!r}")
        self.alpha = float(alpha)
        self.num_classes = num_classes
        self.labels_getter = labels_getter
        self._labels_getter = _parse_labels_getter(labels_getter)
        self.generator = generator

    # (mixup_alpha, cutmix_alpha) of the sampler's draw, from self.alpha.
    def _alphas(self) -> tuple[float, float]:
        raise NotImplementedError

    def params(self, images: torch.Tensor) -> MixParams:
        """One call's draw, in one launch of ``mixup::draw_mix_params`` on the
        images' device: roll partners, a ``()`` float32 weight, and for CutMix
        an int64 ``(4,)`` box with torchvision's rule and the area-corrected
        weight (None for MixUp)."""
        mixup_alpha, cutmix_alpha = self._alphas()
        index, lam, box = _draw_mix_params(
            images,
            "batch",
            "roll",
            mixup_alpha,
            cutmix_alpha,
            _ALWAYS,
            _NEVER_SWITCH,
            _NO_MINMAX,
            _CORRECT_LAM,
            _TORCHVISION_SIDE,
            self.generator,
        )
        return MixParams(lam=lam, index=index, box=box if cutmix_alpha > 0 else None)

    def forward(self, *inputs):
        inputs = inputs if len(inputs) > 1 else inputs[0]
        flat, spec = pytree.tree_flatten(inputs)
        _refuse_unsupported(flat)
        found = self._labels_getter(inputs)
        label_position = next((k for k, item in enumerate(flat) if item is found), None)
        labels = self._labels(found)
        if label_position is None:
            raise ValueError(
                f"{type(self).__name__}: labels_getter must return one of the input tensors, to be replaced by "
                "the mixed labels"
            )
        positions = _image_positions(flat, found)
        for k in positions:
            self._check_images(flat[k], labels.shape[0])
        first = flat[positions[0]]
        p = self.params(first)

        out = list(flat)
        classes = self.num_classes if labels.dim() == 1 else labels.shape[1]
        # One launch mixes the (first) images and the labels together.
        mixed, out[label_position] = fused_mix(first, labels, p.index, p.lam, p.box, classes, 0.0)
        out[positions[0]] = _wrap_like(mixed, first)
        for k in positions[1:]:  # a second Image/Video in the same sample: the same draw
            out[k] = _wrap_like(fused_mix(flat[k], None, p.index, p.lam, p.box)[0], flat[k])
        return pytree.tree_unflatten(out, spec)

    def _labels(self, labels) -> torch.Tensor:
        name = type(self).__name__
        if not isinstance(labels, torch.Tensor):
            raise ValueError(f"{name}: labels must be a tensor, got {type(labels).__name__}")
        if labels.dim() == 1:
            if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
                raise ValueError(f"{name}: (B,) labels must be integer class ids, got {labels.dtype}")
            if self.num_classes is None:
                raise ValueError(f"{name}: num_classes is required with (B,) class-id labels")
            return labels.long()
        if labels.dim() == 2:
            if self.num_classes is not None and labels.shape[1] != self.num_classes:
                raise ValueError(
                    f"{name}: (B, C) probability labels need C == num_classes = {self.num_classes}, got shape "
                    f"{tuple(labels.shape)} (or leave num_classes=None)"
                )
            # Probability labels keep a floating dtype; others become float32, as in torchvision.
            return labels if labels.dtype in FLOAT_DTYPES else labels.float()
        raise ValueError(
            f"{name}: labels must be (B,) class ids or (B, num_classes) probabilities, got shape {tuple(labels.shape)}"
        )

    def _check_images(self, images: torch.Tensor, batch: int) -> None:
        name = type(self).__name__
        if images.dim() < self._min_image_dims:
            raise ValueError(
                f"{name}: images must have at least {self._min_image_dims} dims ({self._layout}), got shape "
                f"{tuple(images.shape)}"
            )
        if images.shape[0] != batch:
            raise ValueError(f"{name}: images hold {images.shape[0]} samples but labels hold {batch}")

    _min_image_dims = 2
    _layout = "B, ..."

    def extra_repr(self) -> str:
        getter = "" if self.labels_getter == "default" else f", labels_getter={self.labels_getter!r}"
        return f"alpha={self.alpha}, num_classes={self.num_classes}{getter}"


def _wrap_like(output: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A torchvision Image/Video in, the same type out (as torchvision)."""
    if _tv_tensor_types() and isinstance(like, _tv_tensor_types()):
        return sys.modules["torchvision.tv_tensors"].wrap(output, like=like)
    return output


class MixUp(_BatchMix):
    """torchvision's ``v2.MixUp``: ``lam * x[i] + (1 - lam) * x[i - 1]``."""

    def _alphas(self):
        return self.alpha, 0.0


class CutMix(_BatchMix):
    """torchvision's ``v2.CutMix``: a box of ``x[i - 1]`` pasted into ``x[i]``.

    The box is torchvision's: half-sides ``int(0.5 * sqrt(1 - lam) * W)``
    around a uniform centre, which is the sampler's rule with
    ``full_side=False`` (``int(r * W) // 2 == int(0.5 * r * W)``)."""

    _min_image_dims = 3
    _layout = "B, ..., H, W"

    def _alphas(self):
        return 0.0, self.alpha

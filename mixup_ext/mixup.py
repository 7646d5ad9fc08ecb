"""A drop-in replacement for ``timm.data.Mixup``, on the fused op.

    from mixup_ext import Mixup          # instead of: from timm.data import Mixup
    mixup = Mixup(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=1000)
    x, target = mixup(x, target)

Same arguments, defaults and semantics as timm 1.0's ``Mixup``, with these
differences, all on purpose:

* out of place: ``x`` is left untouched (timm mixes in place, which breaks
  autograd through a non-leaf such as a hidden state);
* odd batch sizes work in every mode (with flip pairing the middle sample is
  its own partner);
* ``pairing='flip'`` (timm), ``'roll'`` (torchvision) or ``'random'``;
* ``generator=`` makes every draw reproducible;
* a call is two launches on x's device, with no host synchronisation: one
  draws every partner, weight and box (``mixup::draw_mix_params``, Philox,
  CUDA-graph safe), one mixes (``mixup::fused_mix``);
* ``target_form='index'`` returns ``(target, index, lam)`` instead of dense
  ``(B, num_classes)`` rows, for :func:`mixup_ext.mixup_cross_entropy`-style
  losses that never build them;
* ``mean``/``std``/``out_dtype`` take a uint8 batch straight from the loader
  and return it mixed, normalised and converted in the same pass (what
  timm's ``FastCollateMixup`` + ``PrefetchLoader`` do in three).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import _sampling as sampling
from ._validation import (
    MODES,
    as_class_ids,
    check_alphas,
    check_out_dtype,
    check_pair_partners,
    check_probabilities,
    checked_channel_floats,
)
from .ops import fused_mix

_draw_mix_params = torch.ops.mixup.draw_mix_params.default  # the overload itself: no resolution per call
TARGET_FORMS = ("dense", "index")


@dataclass
class MixParams:
    """One draw of a Mixup call, all on x's device.

    lam: ``()`` for batch mode, else ``(B,)``, float32: the weight of each
    sample itself (area-corrected for CutMix samples when asked). index:
    ``(B,)`` int64 partners. box: None, ``(4,)`` or ``(B, 4)`` int64 rows
    ``[y0, y1, x0, x1)``: a paste (pasting nothing when empty), or
    ``mixup_ext.NO_BOX`` rows for a blend.

    One order everywhere, the one ``torch.ops.mixup.draw_mix_params``
    returns: it is built as ``MixParams(index, lam, box)`` (or by keyword) and
    unpacks as ``index, lam, box = mixup.sample(x)``.
    """

    index: torch.Tensor
    lam: torch.Tensor
    box: torch.Tensor | None

    def __iter__(self):
        return iter((self.index, self.lam, self.box))


class Mixup:
    """Mixup/CutMix with per-batch, per-pair or per-element parameters.

    Args:
        mixup_alpha: Beta(alpha, alpha) for Mixup weights; Mixup is active if > 0.
        cutmix_alpha: Beta(alpha, alpha) for CutMix weights; CutMix is active if > 0.
        cutmix_minmax: ``(min, max)`` box side ratios; if set, CutMix uses these
            boxes (timm's ``rand_bbox_minmax``) and the weight is always
            area-corrected.
        prob: probability of mixing, per batch (``batch``) or per sample.
        switch_prob: probability of CutMix instead of Mixup when both are active.
        mode: ``'batch'``, ``'pair'`` or ``'elem'``.
        correct_lam: use ``1 - box_area / (H * W)`` as the CutMix weight.
        label_smoothing: label smoothing of the mixed targets.
        num_classes: number of classes.
        multi_label: targets are dense ``(B, num_classes)`` multi-hot rows
            (timm 1.0.31): each is smoothed towards 0.5, ``t * (1 - s) + 0.5 * s``,
            then mixed. Needs ``target_form='dense'``.
        pairing: ``'flip'`` (timm), ``'roll'`` (torchvision) or ``'random'``.
        generator: a ``torch.Generator`` on x's device, for reproducible draws.
        target_form: ``'dense'`` (``(B, C)`` float32 rows) or ``'index'``
            (``(target, index, lam)``).
        mean: per-channel normalisation of the mixed batch, in x's units
            (0-255 for uint8, as timm's prefetcher and FFCV use them): the
            output is ``(mix(x) - mean[c]) / std[c]``. A sequence of floats.
        std: the divisor of that normalisation, a sequence of non-zero floats.
        out_dtype: the output's dtype (float32, bfloat16, float16, float64);
            default float32 for uint8 x, else x's dtype.

    With ``mean``, ``std`` or ``out_dtype`` set, or a uint8 x, a call with
    ``mixup_enabled = False`` still normalises and converts (copying x).
    """

    def __init__(
        self,
        mixup_alpha=1.0,
        cutmix_alpha=0.0,
        cutmix_minmax=None,
        prob=1.0,
        switch_prob=0.5,
        mode="batch",
        correct_lam=True,
        label_smoothing=0.1,
        num_classes=1000,
        multi_label=False,
        *,
        pairing="flip",
        generator=None,
        target_form="dense",
        mean=None,
        std=None,
        out_dtype=None,
    ):
        check_alphas("Mixup", mixup_alpha, cutmix_alpha)
        if cutmix_minmax is not None:
            if len(cutmix_minmax) != 2 or not 0 < cutmix_minmax[0] < cutmix_minmax[1] <= 1:
                raise ValueError(
                    f"Mixup: cutmix_minmax must be an increasing pair inside (0, 1], got {cutmix_minmax!r}"
                )
            cutmix_alpha = 1.0  # as timm: the minmax boxes need no alpha, but mark CutMix active
        if mixup_alpha == 0 and cutmix_alpha == 0:
            raise ValueError("Mixup: one of mixup_alpha > 0, cutmix_alpha > 0 or cutmix_minmax must be set")
        check_probabilities("Mixup", prob=prob, switch_prob=switch_prob, label_smoothing=label_smoothing)
        if mode not in MODES:
            raise ValueError(f"Mixup: mode must be one of {', '.join(MODES)}, got {mode!r}")
        if pairing not in sampling.PAIRINGS:
            raise ValueError(f"Mixup: pairing must be one of {', '.join(sampling.PAIRINGS)}, got {pairing!r}")
        check_pair_partners("Mixup", mode, pairing)
        if num_classes <= 0:
            raise ValueError(f"Mixup: num_classes must be > 0, got {num_classes}")
        if target_form not in TARGET_FORMS:
            raise ValueError(f"Mixup: target_form must be one of {', '.join(TARGET_FORMS)}, got {target_form!r}")
        if multi_label and target_form != "dense":
            raise ValueError("Mixup: multi_label=True mixes dense (B, num_classes) rows; it needs target_form='dense'")
        check_out_dtype("Mixup", out_dtype)
        self.mean = checked_channel_floats("Mixup", "mean", mean)
        self.std = checked_channel_floats("Mixup", "std", std)
        self.out_dtype = out_dtype
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.cutmix_minmax = cutmix_minmax
        self.mix_prob = prob
        self.switch_prob = switch_prob
        self.mode = mode
        self.correct_lam = correct_lam
        self.label_smoothing = label_smoothing
        self.num_classes = num_classes
        self.multi_label = bool(multi_label)
        self.pairing = pairing
        self.generator = generator
        self.target_form = target_form
        self.mixup_enabled = True  # set to False to turn mixing off (timm's switch)

    def __call__(self, x: torch.Tensor, target: torch.Tensor):
        target = as_class_ids(target, "Mixup")  # timm takes class ids of any integer dtype
        if not self.mixup_enabled:
            if self._converts(x):  # still normalise and convert: the model expects it
                return self.apply(x, target, _identity_params(x))
            return x, self._unmixed_target(x, target)
        return self.apply(x, target, self.sample(x))

    def _converts(self, x: torch.Tensor) -> bool:
        return self.mean is not None or self.std is not None or self.out_dtype is not None or x.dtype == torch.uint8

    def _normalize_args(self, x: torch.Tensor) -> dict:
        """mean/std/out_dtype for fused_mix; the sequences become device
        tensors once (cached by fused_mix), so a call pays no copy."""
        for name, values in (("mean", self.mean), ("std", self.std)):
            if values is not None and (x.dim() < 2 or len(values) != x.shape[1]):
                raise ValueError(
                    f"Mixup: {name} has {len(values)} values, one per channel, but x of shape {tuple(x.shape)} "
                    f"has {x.shape[1] if x.dim() >= 2 else 'no'} channels (dim 1)"
                )
        return {"mean": self.mean, "std": self.std, "out_dtype": self.out_dtype}

    def sample(self, x: torch.Tensor) -> MixParams:
        """Draws this call's partners, weights and boxes for a batch like x:
        one launch (``mixup::draw_mix_params``), on x's device, no sync."""
        index, lam, box = _draw_mix_params(
            x,
            self.mode,
            self.pairing,
            float(self.mixup_alpha),
            float(self.cutmix_alpha),
            float(self.mix_prob),
            float(self.switch_prob),
            self._minmax,
            bool(self.correct_lam),
            True,  # full_side: timm >= 1.0.2x's CutMix box, int(H * sqrt(1 - lam)) rows before clipping
            self.generator,
        )
        return MixParams(lam=lam, index=index, box=box if self.cutmix_alpha > 0 else None)

    @property
    def _minmax(self):
        return None if self.cutmix_minmax is None else [float(v) for v in self.cutmix_minmax]

    def apply(self, x: torch.Tensor, target: torch.Tensor, params: MixParams):
        """Mixes x and target with given parameters: one fused_mix launch."""
        norm = self._normalize_args(x)
        target = as_class_ids(target, "Mixup")  # timm takes class ids of any integer dtype
        if self.multi_label:  # smoothed towards 0.5 here: the op only mixes the rows
            target = self._smoothed_multi_label(target, x)
            return fused_mix(x, target, params.index, params.lam, params.box, self.num_classes, 0.0, **norm)
        if self.target_form == "index":
            # The loss mixes the class ids itself: no target work here at all.
            mixed_x, _ = fused_mix(x, None, params.index, params.lam, params.box, **norm)
            lam = params.lam if params.lam.dim() == 1 else params.lam.expand(x.shape[0])
            return mixed_x, (target, params.index, lam)
        return fused_mix(
            x, target, params.index, params.lam, params.box, self.num_classes, self.label_smoothing, **norm
        )

    def _smoothed_multi_label(self, target, x: torch.Tensor) -> torch.Tensor:
        """timm's multi-label targets: float32 rows smoothed towards 0.5, in
        timm's order (smooth, then mix), so the values match it bit for bit."""
        if not isinstance(target, torch.Tensor) or target.dim() != 2 or target.shape != (x.shape[0], self.num_classes):
            got = f"shape {tuple(target.shape)}" if isinstance(target, torch.Tensor) else type(target).__name__
            raise ValueError(
                f"Mixup: multi_label=True needs target as a dense (B, num_classes) = "
                f"({x.shape[0]}, {self.num_classes}) "
                f"tensor of multi-hot rows, got {got}"
            )
        return target.float() * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing  # a new tensor, always

    def _unmixed_target(self, x: torch.Tensor, target: torch.Tensor):
        if self.multi_label:
            return self._smoothed_multi_label(target, x)
        index = torch.arange(x.shape[0], device=x.device)
        ones = torch.ones(x.shape[0], dtype=torch.float32, device=x.device)
        if self.target_form == "index":
            return target, index, ones
        # Smoothed one-hot rows, without touching x: mix the targets of a 0-wide batch.
        empty = torch.empty((x.shape[0], 0), dtype=torch.float32, device=x.device)
        return fused_mix(empty, target, index, ones, None, self.num_classes, self.label_smoothing)[1]


def _identity_params(x: torch.Tensor) -> MixParams:
    """Every sample its own partner with weight 1: the mix is a copy. With
    H and W, an empty batch box makes it a paste of nothing, so the values
    pass through untouched (a blend would turn inf into NaN via 0 * inf)."""
    batch = x.shape[0]
    box = torch.zeros(4, dtype=torch.int64, device=x.device) if x.dim() >= 3 else None
    return MixParams(
        lam=torch.ones((), dtype=torch.float32, device=x.device),
        index=torch.arange(batch, device=x.device),
        box=box,
    )

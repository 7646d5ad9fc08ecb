"""A drop-in for timm's ``NaFlexMixup`` (timm 1.0.31,
``timm/data/naflex_mixup.py``): Mixup and CutMix on a *list* of images of
different sizes, as ``train.py --naflex-loader`` mixes them inside the loader
workers, in one op call per batch (``torch.ops.mixup.naflex_mix``) instead of
a Python loop of clones and slices per image.

    from mixup_ext import NaFlexMixup
    naflex_mixup_fn = NaFlexMixup(num_classes=1000, mixup_alpha=0.8, cutmix_alpha=1.0)
    mixed_images, target_rows = naflex_mixup_fn(images, labels)

The semantics are timm's (see ``NaFlexMixup``): the pairing by aspect ratio
with a local shuffle, the central overlap of each pair, the blend or the
paste inside it, the area-corrected weights and the odd one out. What differs:

* the draws come from torch's CPU generator (``generator=``, else the global
  one), where timm mixes Python's ``random`` with torch's global generator,
  so a seed gives other (equally distributed) draws than timm's;
* uint8 blends round to nearest, where timm truncates;
* 16-bit float blends are computed in float32 and rounded once, where timm
  rounds the product to the image dtype first (at most one unit in the last
  place apart);
* ``mode="pair"`` draws a weight and a Mixup/CutMix choice per pair;
* ``in_place=True`` mixes into the caller's images instead of copies.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from . import sampling
from ._validation import check_alphas, check_probabilities

__all__ = ["NaFlexMixup", "NaFlexParams"]

_naflex_mix = torch.ops.mixup.naflex_mix.default
_naflex_mix_ = torch.ops.mixup.naflex_mix_.default


@dataclass(frozen=True)
class NaFlexParams:
    """Everything random about one call, drawn on the host (the pairing
    follows the images' sizes, which only the host holds).

    Attributes:
        pairs: ``(P, 2)`` int64, the pairs ``(order[0], order[1])``, ... of the
            shuffled aspect-ratio order.
        lam: ``(P,)`` float64, each pair's drawn weight (the blend weight).
        box: ``(P, 6)`` int64, per pair a row of -1 (a blend) or
            ``[h, w, y_i, x_i, y_j, x_j]``: the pasted box's size and its
            corner inside the overlap for each side (``torch.ops.mixup.naflex_mix``).
        weight: ``(B,)`` float64, each image's own share after timm's area
            correction (1 for an image in no pair).
        partner: ``(B,)`` int64, each image's partner (itself when in no pair).
    """

    pairs: torch.Tensor
    lam: torch.Tensor
    box: torch.Tensor
    weight: torch.Tensor
    partner: torch.Tensor

    @staticmethod
    def unmixed(batch: int) -> "NaFlexParams":
        return NaFlexParams(
            torch.empty((0, 2), dtype=torch.int64),
            torch.empty((0,), dtype=torch.float64),
            torch.empty((0, 6), dtype=torch.int64),
            torch.ones(batch, dtype=torch.float64),
            torch.arange(batch),
        )

    @staticmethod
    def from_draws(sizes, order, use_cutmix, lam, offsets) -> "NaFlexParams":
        """The parameters that timm's ``mix_batch_variable_size`` derives
        from its draws, for images of ``sizes`` (``(H, W)`` each).

        Args:
            order: ``(B,)`` the shuffled aspect-ratio order; consecutive
                entries pair up, and with an odd batch the last stays unmixed.
            use_cutmix: ``(P,)`` bool, per pair.
            lam: ``(P,)`` float, the drawn weight per pair.
            offsets: ``(P, 4)`` uniforms in [0, 1): the CutMix box's corner
                inside the overlap, ``(y, x)`` for the pair's first image, then
                for its second, each mapped to ``randint(0, oh - ch)`` and
                ``randint(0, ow - cw)`` (unused for blends).
        """
        batch = len(sizes)
        order = torch.as_tensor(order, dtype=torch.int64)
        count = batch // 2
        pairs = order[: 2 * count].view(count, 2)
        hw = torch.as_tensor(sizes, dtype=torch.int64).view(batch, 2)
        side_i, side_j = hw[pairs[:, 0]], hw[pairs[:, 1]]
        overlap = torch.minimum(side_i, side_j)  # (P, 2): oh, ow
        lam = torch.as_tensor(lam, dtype=torch.float64).view(count)
        use_cutmix = torch.as_tensor(use_cutmix, dtype=torch.bool).view(count)

        # timm: int(o * sqrt(1 - lam)) per dim, offsets randint(0, o - c) per image.
        cut = (overlap.double() * (1.0 - lam).sqrt().unsqueeze(1)).floor().long()
        room = overlap - cut  # (P, 2)
        corner = (torch.as_tensor(offsets, dtype=torch.float64).view(count, 2, 2) * (room + 1).unsqueeze(1)).floor()
        corner = torch.minimum(corner.long(), room.unsqueeze(1))  # u < 1, but guard the rounding
        box = torch.cat([cut, corner.view(count, 4)], dim=1)
        box[~use_cutmix] = sampling.NO_BOX

        # timm's corrected weights, in its float64 order of operations.
        area = hw.prod(1).double()
        overlap_area = overlap.prod(1).double()
        cut_area = cut.prod(1).double()
        weight = torch.ones(batch, dtype=torch.float64)
        partner = torch.arange(batch)
        for side, other in ((0, 1), (1, 0)):
            own, theirs = pairs[:, side], pairs[:, other]
            dest = area[own]
            blended = (dest - overlap_area) / dest + lam * overlap_area / dest
            pasted = 1.0 - cut_area / dest
            weight[own] = torch.where(use_cutmix, pasted, blended)
            partner[own] = theirs
        return NaFlexParams(pairs.contiguous(), lam.contiguous(), box.contiguous(), weight, partner)


class NaFlexMixup:
    """timm's ``NaFlexMixup``, fused: the same constructor, ``set_epoch`` and
    call, with every pair of the batch mixed by one op call.

    Args (timm's, keyword-only, with its defaults):
        num_classes: classes of the targets.
        mixup_alpha: Beta(alpha, alpha) for Mixup; 0 turns Mixup off.
        cutmix_alpha: likewise for CutMix.
        switch_prob: the chance of CutMix when both are on.
        prob: the chance that a batch is mixed at all.
        local_shuffle: after sorting by aspect ratio (W / H), the images are
            shuffled inside consecutive windows of this many, then paired.
        label_smoothing: of the one-hot (or multi-label) targets.
        mixup_off_epoch: mixing stops at this epoch (``set_epoch``); 0 never.
        multi_label: targets are dense ``(B, num_classes)`` rows, smoothed
            towards 0.5 as timm's ``mixup_target`` does.

    Beyond timm:
        mode: ``"batch"`` (timm's: one Mixup/CutMix choice and one weight per
            batch) or ``"pair"`` (one of each per pair).
        generator: a CPU ``torch.Generator`` for every draw (reproducible);
            None uses torch's global generator.
        in_place: mix into the given images (only each pair's overlap is
            written) instead of into copies; for images the caller owns and
            will not read again, such as a loader's freshly transformed ones.

    The call takes a list of ``(C, H_i, W_i)`` images (uint8, float16,
    bfloat16, float32 or float64, on one device) and ``(B,)`` class ids (a
    tensor or a list of ints) or dense ``(B, num_classes)`` rows, and returns
    ``(images, targets.unbind(0))`` as timm does: the mixed images in the
    input's order and shapes, and one float32 target row per image.
    """

    def __init__(self, *, num_classes: int, mixup_alpha: float = 0.8, cutmix_alpha: float = 1.0,
                 switch_prob: float = 0.5, prob: float = 1.0, local_shuffle: int = 4, label_smoothing: float = 0.0,
                 mixup_off_epoch: int = 0, multi_label: bool = False, mode: str = "batch", generator=None,
                 in_place: bool = False) -> None:
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise ValueError(f"NaFlexMixup: num_classes must be a positive int, got {num_classes!r}")
        check_alphas("NaFlexMixup", mixup_alpha, cutmix_alpha)
        if mixup_alpha == 0 and cutmix_alpha == 0:
            raise ValueError("NaFlexMixup: mixup_alpha and cutmix_alpha are both 0, so there is nothing to mix")
        check_probabilities("NaFlexMixup", prob=prob, switch_prob=switch_prob, label_smoothing=label_smoothing)
        if isinstance(local_shuffle, bool) or not isinstance(local_shuffle, int):
            raise ValueError(f"NaFlexMixup: local_shuffle must be an int (a window size), got {local_shuffle!r}")
        if mode not in ("batch", "pair"):
            raise ValueError(f"NaFlexMixup: mode must be 'batch' or 'pair', got {mode!r}")
        if generator is not None and (not isinstance(generator, torch.Generator) or generator.device.type != "cpu"):
            raise ValueError(f"NaFlexMixup: generator must be a CPU torch.Generator (the draws are made on the host, "
                             f"where the images' sizes are), got {generator!r}")
        self.num_classes = num_classes
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.switch_prob = switch_prob
        self.prob = prob
        self.local_shuffle = local_shuffle
        self.smoothing = label_smoothing
        self.mixup_off_epoch = mixup_off_epoch
        self.multi_label = multi_label
        self.mode = mode
        self.generator = generator
        self.in_place = in_place
        self.mixup_enabled = True
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        """Mixing stops from ``mixup_off_epoch`` on (0 keeps it on), as in timm."""
        self.mixup_enabled = not self.mixup_off_epoch or epoch < self.mixup_off_epoch

    # -- draws ------------------------------------------------------------

    def _rand(self, *shape) -> torch.Tensor:
        return torch.rand(shape, dtype=torch.float64, generator=self.generator)

    def _mode_and_lam(self, count: int):
        """Per pair: CutMix or not, and the drawn weight (one draw shared by
        every pair in batch mode)."""
        draws = count if self.mode == "pair" else 1
        if self.mixup_alpha > 0 and self.cutmix_alpha > 0:
            use_cutmix = self._rand(draws) < self.switch_prob
        else:
            use_cutmix = torch.full((draws,), self.cutmix_alpha > 0)
        alpha = torch.where(use_cutmix, float(self.cutmix_alpha), float(self.mixup_alpha))
        lam = torch.stack([sampling.beta(float(a), (), "cpu", self.generator).double() for a in alpha.tolist()])
        lam = lam.clamp(0.0, 1.0)
        return use_cutmix.expand(count), lam.expand(count)

    def _order(self, sizes) -> torch.Tensor:
        """Sorted by aspect ratio W / H (stably, as Python's sorted), then
        shuffled inside windows of local_shuffle."""
        aspect = torch.tensor([w / h for h, w in sizes], dtype=torch.float64)
        order = torch.sort(aspect, stable=True).indices
        if self.local_shuffle > 1:
            window = torch.arange(len(sizes), dtype=torch.float64) // self.local_shuffle
            order = order[torch.argsort(window + self._rand(len(sizes)))]
        return order

    def sample(self, images) -> NaFlexParams:
        """Draws one call's parameters for these images (their sizes only)."""
        sizes = [(img.shape[-2], img.shape[-1]) for img in images]
        batch = len(sizes)
        if batch < 2 or not self.mixup_enabled or self._rand(1).item() > self.prob:
            return NaFlexParams.unmixed(batch)
        count = batch // 2
        use_cutmix, lam = self._mode_and_lam(count)
        order = self._order(sizes)
        return NaFlexParams.from_draws(sizes, order, use_cutmix, lam, self._rand(count, 4))

    # -- mixing -----------------------------------------------------------

    def _encoded(self, targets, batch: int) -> torch.Tensor:
        """timm's ``mixup_target(targets, num_classes, smoothing=s)`` at lam 1."""
        if self.multi_label:
            if targets.dim() != 2 or targets.shape != (batch, self.num_classes):
                raise ValueError(f"NaFlexMixup: multi_label=True needs targets as dense (B, num_classes) = "
                                 f"({batch}, {self.num_classes}) rows, got shape {tuple(targets.shape)}")
            return targets.float() * (1.0 - self.smoothing) + 0.5 * self.smoothing
        if targets.dim() != 1 or targets.shape[0] != batch or targets.is_floating_point() or targets.is_complex():
            raise ValueError(f"NaFlexMixup: targets must be ({batch},) class ids (integers), got "
                             f"{targets.dtype} of shape {tuple(targets.shape)}")
        off = self.smoothing / self.num_classes
        on = 1.0 - self.smoothing + off
        encoded = torch.full((batch, self.num_classes), off, device=targets.device)
        return encoded.scatter_(1, targets.long().view(-1, 1), on)

    def apply(self, images, targets, params: NaFlexParams):
        """Mixes images and targets with given parameters (``sample``'s)."""
        images = list(images)
        if not isinstance(targets, torch.Tensor):
            targets = torch.utils.data.default_collate(targets)
        encoded = self._encoded(targets, len(images))
        if params.pairs.shape[0] == 0:
            return images, encoded.unbind(0)
        if self.in_place:
            _naflex_mix_(images, params.pairs, params.lam, params.box)
            mixed = images
        else:
            mixed = _naflex_mix(images, params.pairs, params.lam, params.box)
        # timm's pairwise_mixup_target: row i = w_i * s_i + (1 - w_i) * s_partner.
        device = encoded.device
        own = params.weight.to(torch.float32).to(device).unsqueeze(1)
        other = (1.0 - params.weight).to(torch.float32).to(device).unsqueeze(1)
        target = encoded * own
        target.addcmul_(encoded[params.partner.to(device)], other)
        return mixed, target.unbind(0)

    def __call__(self, images, targets):
        return self.apply(images, targets, self.sample(images))

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

import array
import math
from dataclasses import dataclass

import torch

from . import _sampling as sampling
from ._validation import _describe, check_alphas, check_probabilities
from .ops import fused_mix

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
    def unmixed(batch: int) -> NaFlexParams:
        return NaFlexParams(
            torch.empty((0, 2), dtype=torch.int64),
            torch.empty((0,), dtype=torch.float64),
            torch.empty((0, 6), dtype=torch.int64),
            torch.ones(batch, dtype=torch.float64),
            torch.arange(batch),
        )

    @staticmethod
    def from_draws(sizes, order, use_cutmix, lam, offsets) -> NaFlexParams:
        """The parameters that timm's ``mix_batch_variable_size`` derives
        from its draws, for images of ``sizes`` (``(H, W)`` each), in its
        Python float arithmetic (a loop over at most B / 2 pairs: the host
        work of a call, cheaper in plain Python than in small tensor ops).

        Args:
            order: ``(B,)`` the shuffled aspect-ratio order; consecutive
                entries pair up, and with an odd batch the last stays unmixed.
            use_cutmix: ``(P,)`` bools, per pair.
            lam: ``(P,)`` floats, the drawn weight per pair.
            offsets: ``(P, 4)`` uniforms in [0, 1): the CutMix box's corner
                inside the overlap, ``(y, x)`` for the pair's first image, then
                for its second, each mapped to ``randint(0, oh - ch)`` and
                ``randint(0, ow - cw)`` (unused for blends).
        """

        def as_list(values):
            return values.tolist() if isinstance(values, torch.Tensor) else list(values)

        order, use_cutmix, lam, offsets = (as_list(v) for v in (order, use_cutmix, lam, offsets))
        batch = len(sizes)
        count = batch // 2
        # Flat typed arrays become tensors without a per-element conversion.
        pairs, boxes = array.array("q"), array.array("q")
        weight, partner = array.array("d", [1.0]) * batch, array.array("q", range(batch))
        no_box = [sampling.NO_BOX] * 6
        for p in range(count):
            i, j = order[2 * p], order[2 * p + 1]
            h_i, w_i = sizes[i]
            h_j, w_j = sizes[j]
            oh, ow = min(h_i, h_j), min(w_i, w_j)
            area_i, area_j = h_i * w_i, h_j * w_j
            raw = float(lam[p])
            if use_cutmix[p]:
                ratio = math.sqrt(1.0 - raw)
                ch, cw = int(oh * ratio), int(ow * ratio)
                room_y, room_x = oh - ch, ow - cw
                u_yi, u_xi, u_yj, u_xj = offsets[p]
                boxes.extend(
                    (
                        ch,
                        cw,
                        min(int(u_yi * (room_y + 1)), room_y),
                        min(int(u_xi * (room_x + 1)), room_x),
                        min(int(u_yj * (room_y + 1)), room_y),
                        min(int(u_xj * (room_x + 1)), room_x),
                    )
                )
                weight[i] = 1.0 - ch * cw / float(area_i)
                weight[j] = 1.0 - ch * cw / float(area_j)
            else:
                overlap = oh * ow
                boxes.extend(no_box)
                weight[i] = (area_i - overlap) / area_i + raw * overlap / area_i
                weight[j] = (area_j - overlap) / area_j + raw * overlap / area_j
            pairs.extend((i, j))
            partner[i], partner[j] = j, i

        def tensor(values, dtype, *shape):
            return (
                torch.frombuffer(values, dtype=dtype).view(*shape) if len(values) else torch.empty(shape, dtype=dtype)
            )

        return NaFlexParams(
            tensor(pairs, torch.int64, count, 2),
            torch.tensor(lam[:count], dtype=torch.float64).view(count),
            tensor(boxes, torch.int64, count, 6),
            tensor(weight, torch.float64, batch),
            tensor(partner, torch.int64, batch),
        )


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

    def __init__(
        self,
        *,
        num_classes: int,
        mixup_alpha: float = 0.8,
        cutmix_alpha: float = 1.0,
        switch_prob: float = 0.5,
        prob: float = 1.0,
        local_shuffle: int = 4,
        label_smoothing: float = 0.0,
        mixup_off_epoch: int = 0,
        multi_label: bool = False,
        mode: str = "batch",
        generator=None,
        in_place: bool = False,
    ) -> None:
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
            raise ValueError(
                f"NaFlexMixup: generator must be a CPU torch.Generator (the draws are made on the host, "
                f"where the images' sizes are), got {generator!r}"
            )
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
        both = self.mixup_alpha > 0 and self.cutmix_alpha > 0
        use_cutmix = self._rand(draws) < self.switch_prob if both else torch.full((draws,), self.cutmix_alpha > 0)
        lam = {}
        for name, alpha in (("cutmix", self.cutmix_alpha), ("mixup", self.mixup_alpha)):
            if alpha > 0:
                lam[name] = sampling.beta(float(alpha), (draws,), "cpu", self.generator).double()
        chosen = torch.where(use_cutmix, lam["cutmix"], lam["mixup"]) if both else next(iter(lam.values()))
        return use_cutmix.expand(count).tolist(), chosen.clamp(0.0, 1.0).expand(count).tolist()

    def _order(self, sizes) -> list:
        """Sorted by aspect ratio W / H (stably, as timm's sorted()), then
        shuffled inside windows of local_shuffle."""
        order = sorted(range(len(sizes)), key=lambda i: sizes[i][1] / sizes[i][0])
        if self.local_shuffle > 1:
            window = self.local_shuffle
            keys = self._rand(len(sizes)).tolist()  # k // window + u < the next window's keys
            order = [order[k] for k in sorted(range(len(sizes)), key=lambda k: k // window + keys[k])]
        return order

    @staticmethod
    def _sizes(images) -> list:
        """Each image's (H, W), once the list is checked: what the pairing
        reads before any op sees the images."""
        if isinstance(images, torch.Tensor) or not isinstance(images, (list, tuple)) or not images:
            got = _describe(images) if isinstance(images, torch.Tensor) else repr(images)[:80]
            raise ValueError(f"NaFlexMixup: images must be a non-empty list of (C, H, W) tensors, got {got}")
        for k, img in enumerate(images):
            if not isinstance(img, torch.Tensor) or img.dim() != 3 or min(img.shape) < 1:
                got = _describe(img) if isinstance(img, torch.Tensor) else f"a {type(img).__name__}"
                raise ValueError(f"NaFlexMixup: images[{k}] must be a (C, H, W) tensor with C, H and W >= 1, got {got}")
        return [(img.shape[-2], img.shape[-1]) for img in images]

    def sample(self, images) -> NaFlexParams:
        """Draws one call's parameters for these images (their sizes only)."""
        sizes = self._sizes(images)
        batch = len(sizes)
        if batch < 2 or not self.mixup_enabled or self._rand(1).item() > self.prob:
            return NaFlexParams.unmixed(batch)
        count = batch // 2
        use_cutmix, lam = self._mode_and_lam(count)
        order = self._order(sizes)
        return NaFlexParams.from_draws(sizes, order, use_cutmix, lam, self._rand(count, 4))

    # -- mixing -----------------------------------------------------------

    def _target_rows(self, targets, params: NaFlexParams) -> torch.Tensor:
        """timm's ``pairwise_mixup_target``: row i = w_i s(t_i) + (1 - w_i)
        s(t_partner), with s timm's ``mixup_target`` at lam 1 (smoothed
        one-hot rows, or dense rows smoothed towards 0.5), in one fused_mix
        launch on the targets' device. The weights and partners travel in one
        non-blocking copy from pinned memory, so a CUDA call never waits."""
        batch = params.weight.shape[0]
        if self.multi_label:
            if targets.dim() != 2 or tuple(targets.shape) != (batch, self.num_classes):
                raise ValueError(
                    f"NaFlexMixup: multi_label=True needs targets as dense (B, num_classes) = "
                    f"({batch}, {self.num_classes}) rows, got shape {tuple(targets.shape)}"
                )
            rows, smoothing = targets.float() * (1.0 - self.smoothing) + 0.5 * self.smoothing, 0.0
        else:
            if targets.dim() != 1 or targets.shape[0] != batch or targets.is_floating_point() or targets.is_complex():
                raise ValueError(
                    f"NaFlexMixup: targets must be ({batch},) class ids (integers), got "
                    f"{targets.dtype} of shape {tuple(targets.shape)}"
                )
            rows, smoothing = targets, self.smoothing
        device = targets.device
        packed = torch.stack([params.weight, params.partner.double()])  # partners < 2^53: exact
        if device.type == "cuda":
            packed = packed.pin_memory().to(device, non_blocking=True)
        weight, partner = packed[0].float(), packed[1].long()
        no_pixels = torch.empty((batch, 0), device=device)
        return fused_mix(no_pixels, rows, partner, weight, None, self.num_classes, smoothing)[1]

    def apply(self, images, targets, params: NaFlexParams):
        """Mixes images and targets with given parameters (``sample``'s)."""
        self._sizes(images)
        images = list(images)
        if not isinstance(targets, torch.Tensor):
            targets = torch.utils.data.default_collate(targets)
        rows = self._target_rows(targets, params)
        if params.pairs.shape[0] == 0:
            return images, rows.unbind(0)
        if self.in_place:
            _naflex_mix_(images, params.pairs, params.lam, params.box)
            mixed = images
        else:
            mixed = _naflex_mix(images, params.pairs, params.lam, params.box)
        return mixed, rows.unbind(0)

    def __call__(self, images, targets):
        return self.apply(images, targets, self.sample(images))

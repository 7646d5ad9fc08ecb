"""Device-side sampling for Mixup and CutMix: weights, pairings and boxes.

Every function here returns tensors on the requested device and never reads a
value back to the host, so a whole Mixup call can be captured in a CUDA graph
or traced by ``torch.compile(fullgraph=True)``. Pass a ``torch.Generator`` (on
the same device) to make every draw reproducible.

The box rules are timm 1.0's (``rand_bbox`` / ``rand_bbox_minmax``, with the
side-length fix of timm 1.0.2x: a box is exactly ``int(H * sqrt(1 - lam))``
tall before clipping). torchvision's CutMix keeps the older rule, whose box
loses a row and a column for odd sides: ``full_side=False``.
"""

from __future__ import annotations

import torch

PAIRINGS = ("flip", "roll", "random")

#: The box row ``[-1, -1, -1, -1]`` tells ``fused_mix`` that a sample has no
#: box and is blended. Any other row is a paste, an empty one included (it
#: pastes nothing): a CutMix sample is never blended.
NO_BOX = -1


def beta(alpha: float, shape, device, generator=None) -> torch.Tensor:
    """Beta(alpha, alpha) samples in float64, as G1 / (G1 + G2) with Gi ~ Gamma(alpha).

    (``torch.distributions.Beta`` takes no generator.) Two Gamma draws that both
    underflow to zero -- possible for tiny alpha -- give 0.5, the distribution's
    mean, instead of 0 / 0.
    """
    concentration = torch.full((2, *shape), float(alpha), dtype=torch.float64, device=device)
    g1, g2 = torch._standard_gamma(concentration, generator=generator).unbind(0)
    total = g1 + g2
    return torch.where(total > 0, g1 / total.clamp_min(torch.finfo(torch.float64).tiny), 0.5)


def uniform(shape, device, generator=None) -> torch.Tensor:
    return torch.rand(shape, dtype=torch.float64, device=device, generator=generator)


def pairing_index(pairing: str, batch: int, device, generator=None, symmetric: bool = False) -> torch.Tensor:
    """Sample i mixes with sample index[i].

    flip: B-1-i (timm). roll: i-1 (torchvision). random: a random permutation,
    or with ``symmetric`` a random perfect matching (partners of partners are
    themselves; with an odd batch one sample is its own partner).
    """
    if pairing == "flip":
        return torch.arange(batch - 1, -1, -1, device=device)
    if pairing == "roll":
        if symmetric:
            from ._validation import check_pair_partners  # here: _validation imports this module

            check_pair_partners("sampling.pairing_index", "pair", pairing)
        return torch.arange(batch, device=device).roll(1)
    if pairing == "random":
        order = torch.randperm(batch, device=device, generator=generator)
        if not symmetric:
            return order
        # Pair consecutive entries of a random order: order[2k] <-> order[2k+1].
        position = torch.arange(batch, device=device)
        partner_position = torch.where(position % 2 == 0, position + 1, position - 1).clamp_max(batch - 1)
        index = torch.empty_like(order)
        index[order] = order[partner_position]
        return index
    raise ValueError(f"pairing must be one of {', '.join(PAIRINGS)}, got {pairing!r}")


def centred_box(
    lam: torch.Tensor, u_y: torch.Tensor, u_x: torch.Tensor, height: int, width: int, full_side: bool = True
) -> torch.Tensor:
    """timm's rand_bbox, vectorised: sides cut = int(H * sqrt(1 - lam)) (and W)
    around a uniform centre (u in [0, 1) picks the pixel), clipped to the image.

    The box spans [c - cut // 2, c + (cut + 1) // 2): exactly cut pixels, as in
    timm 1.0.2x. ``full_side=False`` gives [c - cut // 2, c + cut // 2), the
    rule of torchvision's CutMix and of older timm. Returns int64 rows
    [y0, y1, x0, x1).
    """
    ratio = (1 - lam).clamp_min(0).sqrt()
    cut_h = (height * ratio).floor().long()
    cut_w = (width * ratio).floor().long()
    cy = (u_y * height).floor().long()
    cx = (u_x * width).floor().long()
    extra = 1 if full_side else 0
    return torch.stack(
        [
            (cy - cut_h // 2).clamp(0, height),
            (cy + (cut_h + extra) // 2).clamp(0, height),
            (cx - cut_w // 2).clamp(0, width),
            (cx + (cut_w + extra) // 2).clamp(0, width),
        ],
        dim=-1,
    )


def minmax_box(u: torch.Tensor, minmax, height: int, width: int) -> torch.Tensor:
    """timm's rand_bbox_minmax, vectorised: side lengths uniform in
    [int(H * min), int(H * max)) (and W), the box placed uniformly among the
    H - side + 1 positions inside. ``u`` holds four uniforms per box."""
    lo, hi = minmax
    cut_h = int(height * lo) + (u[..., 0] * (int(height * hi) - int(height * lo))).floor().long()
    cut_w = int(width * lo) + (u[..., 1] * (int(width * hi) - int(width * lo))).floor().long()
    y0 = (u[..., 2] * (height - cut_h + 1)).floor().long()
    x0 = (u[..., 3] * (width - cut_w + 1)).floor().long()
    return torch.stack([y0, y0 + cut_h, x0, x0 + cut_w], dim=-1)


def box_area_weight(box: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """The area-corrected weight 1 - box_area / (H * W), in float64."""
    area = ((box[..., 1] - box[..., 0]).clamp_min(0) * (box[..., 3] - box[..., 2]).clamp_min(0)).double()
    return 1 - area / (height * width)

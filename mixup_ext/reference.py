"""The pure-PyTorch reference of ``mixup::fused_mix``.

It serves twice: as the oracle that the equivalence tests hold the compiled
kernels to, and as the fallback backend when no compiled library can be
loaded. It is written for clarity, not speed: several passes over x, and an
``index_add`` (atomics on CUDA) in ``_fused_mix_backward``.

Semantics (the contract; csrc/fused_mix_math.h is the kernels' version of it):

* ``out[i] = lam[i] * x[i] + (1 - lam[i]) * x[index[i]]``, computed in float32
  (float64 when x or the output is float64) and rounded once to ``out_dtype``
  (default: float32 for uint8 x, else x's dtype).
* With ``mean``/``std`` the output is ``(out - mean[c]) / std[c]`` per channel
  (dim 1), in the same float32 (float64) math before that one rounding.
* With a ``box[i] = [y0, y1, x0, x1)`` over the last two dims, sample i is not
  blended: inside the box it is ``x[index[i]]``, outside it is ``x[i]``; an
  empty box pastes nothing (``x[i]`` exactly). Rows of ``NO_BOX`` (-1) mark
  blended samples in a batch that also has boxes.
* ``s(t) = (1 - smoothing) * t + smoothing / num_classes`` with ``t`` one-hot
  (int64 class ids) or soft, and ``mixed[i] = lam[i] * s(t_i) + (1 - lam[i]) *
  s(t_index[i])``, always weighted by ``lam`` (pass the area-corrected weight
  for boxed samples).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from . import _sampling as sampling
from . import _validation
from ._contract import GAMMAS, UNIFORMS, GammaSlot, UniformSlot
from ._validation import (
    NAFLEX,
    NAFLEX_INPLACE,
    accumulation_dtype,
    as_lam_tensor,
    as_per_channel,
    check_backward,
    check_binary_cross_entropy,
    check_draw,
    check_forward,
    check_forward_values,
    check_loss_inputs,
    check_naflex_mix,
    check_out_dtype,
    check_reduction,
    check_sample,
    infer_num_classes,
    output_dtype,
    output_memory_format,
)

__all__ = [
    "fused_mix",
    "_fused_mix_backward",
    "draw_mix_params",
    "_sample_mix_params",
    "mixup_cross_entropy",
    "_mixup_cross_entropy_with_grad",
    "_mixup_cross_entropy_backward",
    "_mixup_cross_entropy_apply_grad_output",
    "mixup_binary_cross_entropy",
    "_mixup_binary_cross_entropy_with_grad",
    "_mixup_binary_cross_entropy_backward",
    "_mixup_binary_cross_entropy_apply_grad_output",
    "naflex_mix",
    "naflex_mix_",
    "_cpu_vector_isa",
    "_set_value_checks",
    "_set_cuda_tile",
]


def fused_mix(x, target, index, lam, box=None, num_classes=None, smoothing=0.0, *, mean=None, std=None, out_dtype=None):
    """Same signature and semantics as :func:`mixup_ext.fused_mix`."""
    check_out_dtype("mixup::fused_mix", out_dtype)
    acc = accumulation_dtype(x.dtype, output_dtype(x, out_dtype))
    return fused_mix_op(
        x,
        target,
        index,
        as_lam_tensor(lam, x),
        box,
        infer_num_classes(target, num_classes),
        float(smoothing),
        as_per_channel("mixup::fused_mix", "mean", mean, x, acc),
        as_per_channel("mixup::fused_mix", "std", std, x, acc),
        out_dtype,
    )


def fused_mix_op(x, target, index, lam, box, num_classes: int, smoothing: float, mean=None, std=None, out_dtype=None):
    """``mixup::fused_mix`` with the op's exact positional signature."""
    check_forward(x, target, index, lam, box, num_classes, smoothing, mean, std, out_dtype)
    check_forward_values(x, target, index, box, num_classes, mean, std)
    out_dtype = output_dtype(x, out_dtype)
    acc = accumulation_dtype(x.dtype, out_dtype)
    own = x.to(acc)
    partner = own.index_select(0, index)
    weight = _per_row(lam.to(acc), x)
    out = weight * own + (1 - weight) * partner
    if box is not None:
        paste, keep = _box_masks(box, x)
        out = torch.where(paste, partner, torch.where(keep, own, out))
    if mean is not None:
        out = out - _per_channel(mean.to(acc), x)
    if std is not None:
        out = out / _per_channel(std.to(acc), x)
    out = out.to(out_dtype).contiguous(memory_format=output_memory_format(x))
    if target is None:  # the loss mixes class ids itself: nothing to mix here
        return out, torch.empty((x.shape[0], 0), dtype=torch.float32, device=x.device)
    return out, _mix_targets(target, index, lam, num_classes, smoothing)


def _fused_mix_backward(grad, index, lam, box, scale: float, std=None):
    """``mixup::_fused_mix_backward``: the adjoint of the mix, times ``scale``,
    divided per channel by ``std`` (the adjoint of a normalised output).

    ``grad_in[j] = scale * (own_j * grad[j] + sum over i with index[i] == j of
    partner_i * grad[i]) / std[c]``; (own, partner) is (lam, 1 - lam) for a
    blended row and the box's (outside, inside) masks for a boxed one.
    """
    check_backward(grad, index, lam, box, std)
    acc = accumulation_dtype(grad.dtype)
    g = grad.to(acc)
    weight = _per_row(lam.to(acc), grad)
    own_term = weight * g
    partner_term = (1 - weight) * g
    if box is not None:
        # Selects rather than 0/1 products, so a NaN in a masked-off element
        # stays masked off, exactly as in the forward's select.
        paste, keep = _box_masks(box, grad)
        zero = torch.zeros((), dtype=acc, device=grad.device)
        own_term = torch.where(paste, zero, torch.where(keep, g, own_term))
        partner_term = torch.where(paste, g, torch.where(keep, zero, partner_term))
    gathered = torch.zeros_like(g).index_add_(0, index, partner_term)
    out = scale * (own_term + gathered)
    if std is not None:
        out = out / _per_channel(std.to(acc), grad)
    return out.to(grad.dtype).contiguous(memory_format=output_memory_format(grad))


def _per_row(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A () or (B,) tensor shaped (B, 1, ..., 1) to broadcast over like's rows."""
    batch = like.shape[0]
    return values.expand(batch).reshape((batch,) + (1,) * (like.dim() - 1))


def _per_channel(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A (C,) tensor shaped (1, C, 1, ..., 1) to broadcast over like's channels (dim 1)."""
    return values.reshape((1, -1) + (1,) * (like.dim() - 2))


def _box_masks(box: torch.Tensor, like: torch.Tensor):
    """(paste, keep) masks broadcastable to like: paste marks the elements taken
    from the partner (inside the box), keep the rest of a boxed row; rows
    marked NO_BOX are in neither (they blend)."""
    batch, height, width = like.shape[0], like.shape[-2], like.shape[-1]
    y0, y1, x0, x1 = box.reshape(-1, 4).expand(batch, 4).unbind(1)
    rows = torch.arange(height, device=like.device)
    cols = torch.arange(width, device=like.device)
    in_y = (rows >= y0[:, None]) & (rows < y1[:, None])  # (B, H)
    in_x = (cols >= x0[:, None]) & (cols < x1[:, None])  # (B, W)
    boxed = (y0 != sampling.NO_BOX)[:, None, None]  # (B, 1, 1): a paste, even of an empty box
    inside = in_y[:, :, None] & in_x[:, None, :]  # (B, H, W)
    shape = (batch,) + (1,) * (like.dim() - 3) + (height, width)
    return (boxed & inside).reshape(shape), (boxed & ~inside).reshape(shape)


def _mix_targets(target, index, lam, num_classes: int, smoothing: float):
    batch = target.shape[0]
    if target.dtype == torch.int64:
        out_dtype = torch.float32
        acc = torch.float32
        # scatter_, not one_hot: on CUDA it bounds-checks on the device,
        # where one_hot would synchronise to check the labels on the host.
        t = torch.zeros(batch, num_classes, dtype=acc, device=target.device)
        t = t.scatter_(1, target.unsqueeze(1), 1.0)
    else:
        out_dtype = target.dtype
        acc = accumulation_dtype(target.dtype)
        t = target.to(acc)
    s = (1 - smoothing) * t + smoothing / num_classes
    weight = _per_row(lam.to(acc), s)
    mixed = weight * s + (1 - weight) * s.index_select(0, index)
    return mixed.to(out_dtype)


def _sample_mix_params(
    uniforms,
    gammas,
    pair_index,
    height: int,
    width: int,
    mix_prob: float,
    switch_prob: float,
    mixup_on: bool,
    cutmix_on: bool,
    minmax,
    correct_lam: bool,
    full_side: bool,
):
    """``mixup::_sample_mix_params`` in torch ops: per-draw weights (float32)
    and boxes (int64 rows as fused_mix reads them: a CutMix box, ``NO_BOX``
    rows for a blend, empty rows for an unmixed sample) from uniforms
    ``(n, UNIFORMS)`` and Gamma draws ``(GAMMAS, n)``, by the slots of
    csrc/sample_mix_params_slots.def (``UniformSlot``, ``GammaSlot``). With ``pair_index``, row i takes the draw of
    ``min(i, pair_index[i])`` so that partners agree."""
    check_sample(uniforms, gammas, pair_index, height, width, mixup_on, cutmix_on, minmax)
    draws = uniforms.shape[0]
    if pair_index is not None:
        leader = torch.minimum(torch.arange(draws, device=uniforms.device), pair_index)
        uniforms, gammas = uniforms[leader], gammas[:, leader]
    u = uniforms.unbind(1)
    apply = u[UniformSlot.APPLY] < mix_prob
    use_cutmix = (
        (u[UniformSlot.SWITCH] < switch_prob) if (mixup_on and cutmix_on) else torch.full_like(apply, cutmix_on)
    )
    lam = torch.where(
        use_cutmix,
        _beta(gammas[GammaSlot.CUTMIX_G1], gammas[GammaSlot.CUTMIX_G2]),
        _beta(gammas[GammaSlot.MIXUP_G1], gammas[GammaSlot.MIXUP_G2]),
    )
    # A blended draw gets the no-box row, an unmixed one the empty box (copied
    # whole), a CutMix draw its box: a paste even when empty.
    box = torch.where(apply, sampling.NO_BOX, 0).to(torch.int64).unsqueeze(-1).expand(draws, 4)
    if cutmix_on:
        if minmax is not None:
            cut = sampling.minmax_box(
                uniforms[:, UniformSlot.MINMAX_H : UniformSlot.MINMAX_X + 1], minmax, height, width
            )
        else:
            cut = sampling.centred_box(lam, u[UniformSlot.CENTRE_Y], u[UniformSlot.CENTRE_X], height, width, full_side)
        pasted = apply & use_cutmix
        box = torch.where(pasted.unsqueeze(-1), cut, box)
        if (correct_lam or minmax is not None) and height * width > 0:  # an empty image has nothing to correct by
            lam = torch.where(pasted, sampling.box_area_weight(box, height, width), lam)
    lam = torch.where(apply, lam, torch.ones_like(lam)).float()
    return lam, box


def draw_mix_params(
    x,
    mode: str,
    pairing: str,
    mixup_alpha: float,
    cutmix_alpha: float,
    mix_prob: float,
    switch_prob: float,
    minmax,
    correct_lam: bool,
    full_side: bool,
    generator=None,
):
    """``mixup::draw_mix_params`` in torch ops: the same distributions as the
    kernels (partners, Beta weights, timm's boxes), drawn from torch's own
    random streams (``randperm``, ``rand``, ``_standard_gamma``) rather than the
    kernels' Philox streams, so the values differ for one seed. Returns
    ``(index, lam, box)``; lam ``()`` and box ``(4,)`` in batch mode."""
    check_draw(x, mode, pairing, mixup_alpha, cutmix_alpha, mix_prob, switch_prob, minmax, generator)
    batch, device = x.shape[0], x.device
    index = sampling.pairing_index(pairing, batch, device, generator, symmetric=mode == "pair")
    draws = 1 if mode == "batch" else batch
    height, width = (x.shape[-2], x.shape[-1]) if x.dim() >= 3 else (1, 1)
    uniforms = sampling.uniform((draws, UNIFORMS), device, generator)
    concentration = torch.empty((GAMMAS, draws), dtype=torch.float64, device=device)
    concentration[[GammaSlot.MIXUP_G1, GammaSlot.MIXUP_G2]] = mixup_alpha or 1.0  # an unused alpha: any valid value
    concentration[[GammaSlot.CUTMIX_G1, GammaSlot.CUTMIX_G2]] = cutmix_alpha or 1.0
    gammas = torch._standard_gamma(concentration, generator=generator)
    cutmix_on = cutmix_alpha > 0 or minmax is not None
    lam, box = _sample_mix_params(
        uniforms,
        gammas,
        index if mode == "pair" else None,
        height,
        width,
        mix_prob,
        switch_prob,
        mixup_alpha > 0,
        cutmix_on,
        minmax,
        correct_lam,
        full_side,
    )
    if mode == "batch":
        lam, box = lam.reshape(()), box.reshape(4)
    return index, lam, box


def _beta(g1, g2):
    total = g1 + g2
    return torch.where(total > 0, g1 / total.clamp_min(torch.finfo(torch.float64).tiny), 0.5)


def _reduce(rows, reduction: str):
    return {"mean": rows.mean, "sum": rows.sum}.get(reduction, lambda: rows)()


def _upstream_rows(grad_loss, reduction: str, batch: int, dtype):
    """Each row's share of grad_loss (csrc/mixup_loss.h: UpstreamGrad): the
    (B,) values for "none", the () value for "sum", and that over B for
    "mean", divided in ``dtype`` as autograd's MeanBackward divides."""
    g = grad_loss.to(dtype)
    if reduction == "none":
        return g
    return (g / batch if reduction == "mean" else g).expand(batch)


def _unit_grad_loss(logits, reduction: str):
    """The grad_output that ``loss.backward()`` passes."""
    shape = (logits.shape[0],) if reduction == "none" else ()
    return torch.ones(shape, dtype=accumulation_dtype(logits.dtype), device=logits.device)


def _rewrite_where_not_unit(grad, grad_loss, reduction: str, fresh) -> None:
    """The apply ops: rows whose grad_loss is 1 keep the forward's gradient."""
    unit = (grad_loss == 1).expand(grad.shape[0]) if reduction != "none" else grad_loss == 1
    grad.copy_(torch.where(unit[:, None], grad, fresh))


def mixup_cross_entropy(logits, y_a, y_b, lam, smoothing: float, reduction: str = "none"):
    """``mixup::mixup_cross_entropy``: per-row ``lam * CE_eps(logits, y_a) +
    (1 - lam) * CE_eps(logits, y_b)`` through F.cross_entropy, reduced, and the
    per-row ``logsumexp(z) - z[:, 0]`` (shifted: see csrc/mixup_cross_entropy_math.h), both
    in float32 (float64 for float64 logits)."""
    op = "mixup::mixup_cross_entropy"
    check_loss_inputs(op, logits, y_a, y_b, lam, smoothing)
    check_reduction(op, reduction)
    z = logits.to(accumulation_dtype(logits.dtype))
    w = lam.to(z.dtype).expand(z.shape[0])
    loss = w * F.cross_entropy(z, y_a, reduction="none", label_smoothing=smoothing) + (1 - w) * F.cross_entropy(
        z, y_b, reduction="none", label_smoothing=smoothing
    )
    return _reduce(loss, reduction), (z - z[:, :1]).logsumexp(dim=1)


def _mixup_cross_entropy_with_grad(logits, y_a, y_b, lam, smoothing: float, reduction: str):
    """``mixup::_mixup_cross_entropy_with_grad``: the forward, and the
    gradient of the logits for grad_output 1."""
    loss, shifted_lse = mixup_cross_entropy(logits, y_a, y_b, lam, smoothing, reduction)
    grad = _mixup_cross_entropy_backward(
        _unit_grad_loss(logits, reduction), logits, y_a, y_b, lam, shifted_lse, smoothing, reduction
    )
    return loss, shifted_lse, grad


def _mixup_cross_entropy_backward(
    grad_loss, logits, y_a, y_b, lam, shifted_lse, smoothing: float, reduction: str = "none"
):
    """``g_i * (softmax(z_i) - (lam_i * s(y_a) + (1 - lam_i) * s(y_b)))``, with
    ``g_i`` row i's share of grad_loss."""
    op = "mixup::_mixup_cross_entropy_backward"
    check_loss_inputs(op, logits, y_a, y_b, lam, smoothing)
    check_reduction(op, reduction)
    z = logits.to(accumulation_dtype(logits.dtype))
    classes = z.shape[1]
    w = lam.to(z.dtype).expand(z.shape[0])[:, None]
    s_a = (1 - smoothing) * F.one_hot(y_a, classes).to(z.dtype) + smoothing / classes
    s_b = (1 - smoothing) * F.one_hot(y_b, classes).to(z.dtype) + smoothing / classes
    softmax = ((z - z[:, :1]) - shifted_lse.to(z.dtype)[:, None]).exp()
    g = _upstream_rows(grad_loss, reduction, z.shape[0], z.dtype)
    grad = g[:, None] * (softmax - (w * s_a + (1 - w) * s_b))
    return grad.to(logits.dtype)


def _mixup_cross_entropy_apply_grad_output(
    grad, grad_loss, logits, y_a, y_b, lam, shifted_lse, smoothing: float, reduction: str
) -> None:
    """``mixup::_mixup_cross_entropy_apply_grad_output``: ``grad`` (the
    forward's, for grad_output 1) becomes the gradient for grad_loss, in place."""
    fresh = _mixup_cross_entropy_backward(grad_loss, logits, y_a, y_b, lam, shifted_lse, smoothing, reduction)
    _rewrite_where_not_unit(grad, grad_loss, reduction, fresh)


def _mixed_binary_target(z, y_a, y_b, lam, smoothing: float, threshold):
    """timm's dense target: lam * s(y_a) + (1 - lam) * s(y_b), binarised when
    a threshold is given."""
    classes = z.shape[1]
    off = smoothing / classes
    on = 1.0 - smoothing + off
    w = lam.to(z.dtype).expand(z.shape[0])[:, None]
    s_a = torch.full_like(z, off).scatter_(1, y_a[:, None], on)
    s_b = torch.full_like(z, off).scatter_(1, y_b[:, None], on)
    t = w * s_a + (1 - w) * s_b
    return t if threshold is None else (t > threshold).to(z.dtype)


def mixup_binary_cross_entropy(
    logits, y_a, y_b, lam, smoothing: float, threshold, pos_weight, sum_classes: bool, reduction: str = "none"
):
    """``mixup::mixup_binary_cross_entropy``: per row, the sum (``sum_classes``)
    or mean over classes of ``F.binary_cross_entropy_with_logits`` against
    the dense mixed target, reduced, in float32 (float64 for float64 logits)."""
    op = "mixup::mixup_binary_cross_entropy"
    check_binary_cross_entropy(op, logits, y_a, y_b, lam, smoothing, threshold, pos_weight)
    check_reduction(op, reduction)
    z = logits.to(accumulation_dtype(logits.dtype))
    t = _mixed_binary_target(z, y_a, y_b, lam, smoothing, threshold)
    weight = None if pos_weight is None else pos_weight.to(z.dtype).reshape(-1)
    per_class = F.binary_cross_entropy_with_logits(z, t, pos_weight=weight, reduction="none")
    return _reduce(per_class.sum(1) if sum_classes else per_class.mean(1), reduction)


def _mixup_binary_cross_entropy_with_grad(
    logits, y_a, y_b, lam, smoothing: float, threshold, pos_weight, sum_classes: bool, reduction: str
):
    """``mixup::_mixup_binary_cross_entropy_with_grad``: the forward, and the
    gradient of the logits for grad_output 1."""
    loss = mixup_binary_cross_entropy(logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction)
    grad = _mixup_binary_cross_entropy_backward(
        _unit_grad_loss(logits, reduction),
        logits,
        y_a,
        y_b,
        lam,
        smoothing,
        threshold,
        pos_weight,
        sum_classes,
        reduction,
    )
    return loss, grad


def _mixup_binary_cross_entropy_backward(
    grad_loss,
    logits,
    y_a,
    y_b,
    lam,
    smoothing: float,
    threshold,
    pos_weight,
    sum_classes: bool,
    reduction: str = "none",
):
    """``g_i * scale * ((1 - t) * sigmoid(z) - t * pos_weight * sigmoid(-z))``,
    ``g_i`` row i's share of grad_loss, scale 1 for the sum over classes, 1 / C
    for the mean."""
    op = "mixup::_mixup_binary_cross_entropy_backward"
    check_binary_cross_entropy(op, logits, y_a, y_b, lam, smoothing, threshold, pos_weight)
    check_reduction(op, reduction)
    z = logits.to(accumulation_dtype(logits.dtype))
    t = _mixed_binary_target(z, y_a, y_b, lam, smoothing, threshold)
    weight = 1.0 if pos_weight is None else pos_weight.to(z.dtype).reshape(-1)
    scale = 1.0 if sum_classes else 1.0 / z.shape[1]
    grad = (1 - t) * torch.sigmoid(z) - t * weight * torch.sigmoid(-z)
    g = _upstream_rows(grad_loss, reduction, z.shape[0], z.dtype)
    return (g[:, None] * scale * grad).to(logits.dtype)


def _mixup_binary_cross_entropy_apply_grad_output(
    grad, grad_loss, logits, y_a, y_b, lam, smoothing: float, threshold, pos_weight, sum_classes: bool, reduction: str
) -> None:
    """``mixup::_mixup_binary_cross_entropy_apply_grad_output``: ``grad`` (the
    forward's, for grad_output 1) becomes the gradient for grad_loss, in place."""
    fresh = _mixup_binary_cross_entropy_backward(
        grad_loss, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction
    )
    _rewrite_where_not_unit(grad, grad_loss, reduction, fresh)


def _naflex_blend(own: torch.Tensor, partner: torch.Tensor, lam: float) -> torch.Tensor:
    """own * lam + partner * (1 - lam) as the kernels compute it: each
    product and the sum rounded in float32 (float64 for float64 images),
    then rounded once to the image dtype; uint8 rounds to nearest, ties to
    even. The weights are lam and 1 - lam taken in double, then rounded."""
    acc = torch.float64 if own.dtype == torch.float64 else torch.float32
    w_own, w_partner = torch.tensor(lam, dtype=acc), torch.tensor(1.0 - lam, dtype=acc)
    mixed = own.to(acc) * w_own + partner.to(acc) * w_partner
    if own.dtype == torch.uint8:
        return mixed.round().to(torch.uint8)
    return mixed.to(own.dtype)


def _naflex_mix_into(sources, outputs, pairs, lam, box) -> None:
    """Writes every pair's mixed overlap into outputs, from sources (which
    may be the outputs themselves: each pair's patches are read first)."""
    for (i, j), weight, b in zip(pairs.tolist(), lam.double().tolist(), box.tolist()):
        height = min(sources[i].shape[1], sources[j].shape[1])
        width = min(sources[i].shape[2], sources[j].shape[2])

        def overlap(img):
            top, left = (img.shape[1] - height) // 2, (img.shape[2] - width) // 2
            return img[:, top : top + height, left : left + width]

        patch_i, patch_j = overlap(sources[i]).clone(), overlap(sources[j]).clone()
        if b[0] == sampling.NO_BOX:
            mixed_i, mixed_j = _naflex_blend(patch_i, patch_j, weight), _naflex_blend(patch_j, patch_i, weight)
        else:
            h, w, y_i, x_i, y_j, x_j = b
            mixed_i, mixed_j = patch_i.clone(), patch_j.clone()
            mixed_i[:, y_i : y_i + h, x_i : x_i + w] = patch_j[:, y_i : y_i + h, x_i : x_i + w]
            mixed_j[:, y_j : y_j + h, x_j : x_j + w] = patch_i[:, y_j : y_j + h, x_j : x_j + w]
        overlap(outputs[i]).copy_(mixed_i)
        overlap(outputs[j]).copy_(mixed_j)


def naflex_mix(images, pairs, lam, box):
    """Variable-size images mixed in pairs; see csrc/mixup_schemas.def."""
    check_naflex_mix(NAFLEX, images, pairs, lam, box)
    outputs = [img.clone() for img in images]
    _naflex_mix_into(images, outputs, pairs, lam, box)
    return outputs


def naflex_mix_(images, pairs, lam, box) -> None:
    """The same, into the images."""
    check_naflex_mix(NAFLEX_INPLACE, images, pairs, lam, box)
    _naflex_mix_into(images, images, pairs, lam, box)


def _cpu_vector_isa() -> str:
    """``mixup::_cpu_vector_isa``: the reference backend has no vector loops."""
    return "none"


def _set_value_checks(enabled: bool) -> bool:
    """``mixup::_set_value_checks``: the switch that the reference's checks read."""
    previous, _validation.value_checks = _validation.value_checks, bool(enabled)
    return previous


_cuda_tile = "by_size"


def _set_cuda_tile(tile: str) -> str:
    """``mixup::_set_cuda_tile``: the reference has no tiles; it keeps the
    setting, and refuses an unknown one, as the compiled library does."""
    global _cuda_tile
    if tile not in ("by_size", "wide", "small"):
        raise ValueError(f"mixup::_set_cuda_tile: tile must be one of by_size, wide, small, got '{tile}'")
    previous, _cuda_tile = _cuda_tile, tile
    return previous

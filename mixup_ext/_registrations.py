"""Fake (meta) kernels for the compiled `mixup` ops, and the whole library
from Python when there is no compiled one.

Autograd lives in C++ (csrc/autograd/, under the Autograd key), so a training
step pays no Python for it. ``register_compiled`` adds the fake kernels that
torch.compile and FakeTensorMode need, once, after the compiled library
(AOT or JIT) is loaded; ``register_reference`` defines the same ops from
Python when there is none, so ``torch.ops.mixup.*`` exist on every backend.
"""

from __future__ import annotations

import torch

from . import _contract, reference
from ._validation import (
    NAFLEX,
    NAFLEX_INPLACE,
    accumulation_dtype,
    check_backward,
    check_binary_cross_entropy,
    check_draw,
    check_forward,
    check_loss_inputs,
    check_naflex_mix,
    check_reduction,
    check_sample,
    output_dtype,
    output_memory_format,
)

_registered = False
_reference_library = None  # keeps the Python-defined library alive


def _fused_mix_fake(x, target, index, lam, box, num_classes, smoothing, mean=None, std=None, out_dtype=None):
    check_forward(x, target, index, lam, box, num_classes, smoothing, mean, std, out_dtype)
    out = torch.empty(x.shape, dtype=output_dtype(x, out_dtype), device=x.device, memory_format=output_memory_format(x))
    if target is None:
        return out, torch.empty((x.shape[0], 0), dtype=torch.float32, device=x.device)
    target_dtype = torch.float32 if target.dtype == torch.int64 else target.dtype
    mixed = torch.empty((x.shape[0], num_classes), dtype=target_dtype, device=x.device)
    return out, mixed


def _fused_mix_backward_fake(grad, index, lam, box, scale, std=None):
    check_backward(grad, index, lam, box, std)
    return torch.empty(grad.shape, dtype=grad.dtype, device=grad.device, memory_format=output_memory_format(grad))


def _sample_mix_params_fake(
    uniforms,
    gammas,
    pair_index,
    height,
    width,
    mix_prob,
    switch_prob,
    mixup_on,
    cutmix_on,
    minmax,
    correct_lam,
    full_side,
):
    check_sample(uniforms, gammas, pair_index, height, width, mixup_on, cutmix_on, minmax)
    draws = uniforms.shape[0]
    return (
        torch.empty((draws,), dtype=torch.float32, device=uniforms.device),
        torch.empty((draws, 4), dtype=torch.int64, device=uniforms.device),
    )


def _draw_mix_params_fake(
    x, mode, pairing, mixup_alpha, cutmix_alpha, mix_prob, switch_prob, minmax, correct_lam, full_side, generator=None
):
    check_draw(x, mode, pairing, mixup_alpha, cutmix_alpha, mix_prob, switch_prob, minmax, generator)
    batch, device = x.shape[0], x.device
    per_batch = mode == "batch"
    return (
        torch.empty((batch,), dtype=torch.int64, device=device),
        torch.empty(() if per_batch else (batch,), dtype=torch.float32, device=device),
        torch.empty((4,) if per_batch else (batch, 4), dtype=torch.int64, device=device),
    )


def _loss_shape(logits, reduction: str):
    return (logits.shape[0],) if reduction == "none" else ()


def _mixup_cross_entropy_fake(logits, y_a, y_b, lam, smoothing, reduction="none"):
    op = "mixup::mixup_cross_entropy"
    check_loss_inputs(op, logits, y_a, y_b, lam, smoothing)
    check_reduction(op, reduction)
    acc = accumulation_dtype(logits.dtype)
    loss = torch.empty(_loss_shape(logits, reduction), dtype=acc, device=logits.device)
    return loss, torch.empty((logits.shape[0],), dtype=acc, device=logits.device)


def _gradient_fake(logits):
    return torch.empty(logits.shape, dtype=logits.dtype, device=logits.device)


def _mixup_cross_entropy_with_grad_fake(logits, y_a, y_b, lam, smoothing, reduction):
    loss, shifted_lse = _mixup_cross_entropy_fake(logits, y_a, y_b, lam, smoothing, reduction)
    return loss, shifted_lse, _gradient_fake(logits)


def _mixup_cross_entropy_backward_fake(grad_loss, logits, y_a, y_b, lam, shifted_lse, smoothing, reduction="none"):
    return _gradient_fake(logits)


def _mixup_cross_entropy_apply_grad_output_fake(
    grad, grad_loss, logits, y_a, y_b, lam, shifted_lse, smoothing, reduction
):
    return None


def _mixup_binary_cross_entropy_fake(
    logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction="none"
):
    op = "mixup::mixup_binary_cross_entropy"
    check_binary_cross_entropy(op, logits, y_a, y_b, lam, smoothing, threshold, pos_weight)
    check_reduction(op, reduction)
    return torch.empty(_loss_shape(logits, reduction), dtype=accumulation_dtype(logits.dtype), device=logits.device)


def _mixup_binary_cross_entropy_with_grad_fake(
    logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction
):
    loss = _mixup_binary_cross_entropy_fake(
        logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction
    )
    return loss, _gradient_fake(logits)


def _mixup_binary_cross_entropy_backward_fake(
    grad_loss, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction="none"
):
    return _gradient_fake(logits)


def _mixup_binary_cross_entropy_apply_grad_output_fake(
    grad, grad_loss, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction
):
    return None


def _naflex_mix_fake(images, pairs, lam, box):
    check_naflex_mix(NAFLEX, images, pairs, lam, box)
    return [torch.empty_like(img) for img in images]


def _naflex_mix_inplace_fake(images, pairs, lam, box):
    check_naflex_mix(NAFLEX_INPLACE, images, pairs, lam, box)
    return None


#: Every op's fake kernel (None for one without tensors) and reference kernel,
#: by the op's name in csrc/mixup_schemas.def.
_KERNELS = {
    "fused_mix": (_fused_mix_fake, reference.fused_mix_op),
    "_fused_mix_backward": (_fused_mix_backward_fake, reference._fused_mix_backward),
    "_sample_mix_params": (_sample_mix_params_fake, reference._sample_mix_params),
    "draw_mix_params": (_draw_mix_params_fake, reference.draw_mix_params),
    "mixup_cross_entropy": (_mixup_cross_entropy_fake, reference.mixup_cross_entropy),
    "_mixup_cross_entropy_with_grad": (_mixup_cross_entropy_with_grad_fake, reference._mixup_cross_entropy_with_grad),
    "_mixup_cross_entropy_backward": (_mixup_cross_entropy_backward_fake, reference._mixup_cross_entropy_backward),
    "_mixup_cross_entropy_apply_grad_output": (
        _mixup_cross_entropy_apply_grad_output_fake,
        reference._mixup_cross_entropy_apply_grad_output,
    ),
    "mixup_binary_cross_entropy": (_mixup_binary_cross_entropy_fake, reference.mixup_binary_cross_entropy),
    "_mixup_binary_cross_entropy_with_grad": (
        _mixup_binary_cross_entropy_with_grad_fake,
        reference._mixup_binary_cross_entropy_with_grad,
    ),
    "_mixup_binary_cross_entropy_backward": (
        _mixup_binary_cross_entropy_backward_fake,
        reference._mixup_binary_cross_entropy_backward,
    ),
    "_mixup_binary_cross_entropy_apply_grad_output": (
        _mixup_binary_cross_entropy_apply_grad_output_fake,
        reference._mixup_binary_cross_entropy_apply_grad_output,
    ),
    "naflex_mix": (_naflex_mix_fake, reference.naflex_mix),
    "naflex_mix_": (_naflex_mix_inplace_fake, reference.naflex_mix_),
    "_cpu_vector_isa": (None, reference._cpu_vector_isa),
    "_set_value_checks": (None, reference._set_value_checks),
    "_set_cuda_tile": (None, reference._set_cuda_tile),
}


def _check_every_op_has_kernels() -> None:
    missing, extra = set(_contract.SCHEMAS) - set(_KERNELS), set(_KERNELS) - set(_contract.SCHEMAS)
    if missing or extra:
        raise RuntimeError(
            f"mixup_ext: csrc/{_contract.SCHEMAS_FILE} and _registrations._KERNELS disagree: no Python kernels for "
            f"{sorted(missing)}, kernels for unknown ops {sorted(extra)}"
        )


def register_compiled() -> None:
    """Fake kernels for the C++ library. Call once, after loading it."""
    global _registered
    if _registered:
        return
    _check_every_op_has_kernels()
    for op in _contract.SCHEMAS.values():
        fake, _ = _KERNELS[op.name]
        if fake is not None:
            torch.library.register_fake(op.qualified_name)(fake)
    _registered = True


def register_reference() -> None:
    """Defines the ops from Python with the reference as their kernels.

    CompositeImplicitAutograd: autograd, fake tensors and torch.compile see
    through to the plain-PyTorch ops the reference is written in. An op
    without tensors (_cpu_vector_isa, _set_value_checks, _set_cuda_tile) has nothing to see
    through.
    """
    global _registered, _reference_library
    if _registered:
        return
    _check_every_op_has_kernels()
    lib = torch.library.Library(_contract.NAMESPACE, "DEF")
    for op in _contract.SCHEMAS.values():
        fake, kernel = _KERNELS[op.name]
        lib.define(op.schema, tags=op.tags)
        lib.impl(op.name, kernel, "CompositeImplicitAutograd" if fake is not None else "CompositeExplicitAutograd")
    _reference_library = lib
    _registered = True

"""Autograd and fake (meta) kernels for the `mixup` ops, registered from
Python after the library is loaded, as PyTorch's custom-op guide recommends.

``register_compiled`` runs once for a compiled library (AOT or JIT);
``register_reference`` defines the same ops from Python when there is none, so
``torch.ops.mixup.fused_mix`` exists on every backend.
"""

from __future__ import annotations

import torch

from . import _schema, reference
from ._validation import check_backward, check_forward, output_memory_format

_FORWARD = f"{_schema.NAMESPACE}::fused_mix"
_BACKWARD = f"{_schema.NAMESPACE}::fused_mix_backward"
_SAMPLE = f"{_schema.NAMESPACE}::sample_mix_params"
_LOSS = f"{_schema.NAMESPACE}::mixup_cross_entropy"
_LOSS_BACKWARD = f"{_schema.NAMESPACE}::mixup_cross_entropy_backward"
_registered = False
_reference_library = None  # keeps the Python-defined library alive


def _fused_mix_fake(x, target, index, lam, box, num_classes, smoothing):
    check_forward(x, target, index, lam, box, num_classes, smoothing)
    out = torch.empty(x.shape, dtype=x.dtype, device=x.device, memory_format=output_memory_format(x))
    target_dtype = torch.float32 if target.dtype == torch.int64 else target.dtype
    mixed = torch.empty((x.shape[0], num_classes), dtype=target_dtype, device=x.device)
    return out, mixed


def _fused_mix_backward_fake(grad, index, lam, box, scale):
    check_backward(grad, index, lam, box)
    return torch.empty(grad.shape, dtype=grad.dtype, device=grad.device, memory_format=output_memory_format(grad))


def _sample_mix_params_fake(uniforms, gammas, pair_index, *_config):
    draws = uniforms.shape[0]
    return (
        torch.empty((draws,), dtype=torch.float32, device=uniforms.device),
        torch.empty((draws, 4), dtype=torch.int64, device=uniforms.device),
    )


def _loss_fake(logits, y_a, y_b, lam, smoothing):
    reference._check_loss("mixup::mixup_cross_entropy", logits, y_a, y_b, lam, smoothing)
    acc = torch.float64 if logits.dtype == torch.float64 else torch.float32
    rows = torch.empty((logits.shape[0],), dtype=acc, device=logits.device)
    return rows, torch.empty_like(rows)


def _loss_backward_fake(grad_loss, logits, y_a, y_b, lam, shifted_lse, smoothing):
    return torch.empty(logits.shape, dtype=logits.dtype, device=logits.device)


def _setup_loss_context(ctx, inputs, output):
    logits, y_a, y_b, lam, smoothing = inputs
    ctx.save_for_backward(logits, y_a, y_b, lam, output[1])
    ctx.smoothing = smoothing
    ctx.mark_non_differentiable(output[1])  # the shifted log-sum-exp is a by-product for the backward


def _loss_backward(ctx, grad_loss, _grad_lse):
    logits, y_a, y_b, lam, lse = ctx.saved_tensors
    grad = None
    if ctx.needs_input_grad[0]:
        grad = torch.ops.mixup.mixup_cross_entropy_backward(grad_loss, logits, y_a, y_b, lam, lse, ctx.smoothing)
    return grad, None, None, None, None


def _setup_context(ctx, inputs, output):
    _x, target, index, lam, box, _num_classes, smoothing = inputs
    ctx.save_for_backward(index, lam, box)
    ctx.smoothing = smoothing
    if not target.is_floating_point():
        ctx.mark_non_differentiable(output[1])


def _backward(ctx, grad_out, grad_target):
    index, lam, box = ctx.saved_tensors
    grad_x = grad_soft_target = None
    if ctx.needs_input_grad[0]:
        grad_x = torch.ops.mixup.fused_mix_backward(grad_out, index, lam, box, 1.0)
    if ctx.needs_input_grad[1]:
        # d mixed / d target = (1 - smoothing) * the same mix, without the box.
        grad_soft_target = torch.ops.mixup.fused_mix_backward(grad_target, index, lam, None, 1.0 - ctx.smoothing)
    # index, lam, box, num_classes and smoothing get no gradient, by contract.
    return grad_x, grad_soft_target, None, None, None, None, None


def _setup_backward_context(ctx, inputs, output):
    _grad, index, lam, box, scale = inputs
    ctx.save_for_backward(index, lam, box)
    ctx.scale = scale


def _backward_of_backward(ctx, grad_grad_input):
    # fused_mix_backward is linear in grad: scale * A^T grad, where A is the
    # mix of x. Its adjoint is scale * A, the forward mix, which gives double
    # backward (gradient penalties through a mixed batch) for free.
    index, lam, box = ctx.saved_tensors
    grad = None
    if ctx.needs_input_grad[0]:
        labels = torch.zeros(grad_grad_input.shape[0], dtype=torch.int64, device=grad_grad_input.device)
        grad = torch.ops.mixup.fused_mix(grad_grad_input, labels, index, lam, box, 1, 0.0)[0]
        if ctx.scale != 1.0:
            grad = grad * ctx.scale
    return grad, None, None, None, None


def register_compiled() -> None:
    """Fake and autograd kernels for the C++ library. Call once, after loading it."""
    global _registered
    if _registered:
        return
    torch.library.register_fake(_FORWARD)(_fused_mix_fake)
    torch.library.register_fake(_BACKWARD)(_fused_mix_backward_fake)
    torch.library.register_fake(_SAMPLE)(_sample_mix_params_fake)
    torch.library.register_fake(_LOSS)(_loss_fake)
    torch.library.register_fake(_LOSS_BACKWARD)(_loss_backward_fake)
    torch.library.register_autograd(_LOSS, _loss_backward, setup_context=_setup_loss_context)
    torch.library.register_autograd(_FORWARD, _backward, setup_context=_setup_context)
    torch.library.register_autograd(_BACKWARD, _backward_of_backward, setup_context=_setup_backward_context)
    _registered = True


def register_reference() -> None:
    """Defines the ops from Python with the reference as their kernels.

    CompositeImplicitAutograd: autograd, fake tensors and torch.compile see
    through to the plain-PyTorch ops the reference is written in.
    """
    global _registered, _reference_library
    if _registered:
        return
    lib = torch.library.Library(_schema.NAMESPACE, "DEF")
    tags = (torch.Tag.pt2_compliant_tag,)
    lib.define(_schema.FUSED_MIX, tags=tags)
    lib.define(_schema.FUSED_MIX_BACKWARD, tags=tags)
    lib.define(_schema.SAMPLE_MIX_PARAMS, tags=tags)
    lib.define(_schema.MIXUP_CROSS_ENTROPY, tags=tags)
    lib.define(_schema.MIXUP_CROSS_ENTROPY_BACKWARD, tags=tags)
    lib.impl("fused_mix", reference.fused_mix_op, "CompositeImplicitAutograd")
    lib.impl("fused_mix_backward", reference.fused_mix_backward, "CompositeImplicitAutograd")
    lib.impl("sample_mix_params", reference.sample_mix_params, "CompositeImplicitAutograd")
    lib.impl("mixup_cross_entropy", reference.mixup_cross_entropy, "CompositeImplicitAutograd")
    lib.impl("mixup_cross_entropy_backward", reference.mixup_cross_entropy_backward, "CompositeImplicitAutograd")
    _reference_library = lib
    _registered = True

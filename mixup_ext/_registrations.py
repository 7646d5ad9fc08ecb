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

from . import _schema, reference
from ._validation import check_backward, check_draw, check_forward, output_dtype, output_memory_format

_FORWARD = f"{_schema.NAMESPACE}::fused_mix"
_BACKWARD = f"{_schema.NAMESPACE}::fused_mix_backward"
_SAMPLE = f"{_schema.NAMESPACE}::sample_mix_params"
_DRAW = f"{_schema.NAMESPACE}::draw_mix_params"
_LOSS = f"{_schema.NAMESPACE}::mixup_cross_entropy"
_LOSS_BACKWARD = f"{_schema.NAMESPACE}::mixup_cross_entropy_backward"
_BINARY_LOSS = f"{_schema.NAMESPACE}::mixup_binary_cross_entropy"
_BINARY_LOSS_BACKWARD = f"{_schema.NAMESPACE}::mixup_binary_cross_entropy_backward"
_registered = False
_reference_library = None  # keeps the Python-defined library alive


def _fused_mix_fake(x, target, index, lam, box, num_classes, smoothing, mean=None, std=None, out_dtype=None):
    check_forward(x, target, index, lam, box, num_classes, smoothing, mean, std, out_dtype)
    out = torch.empty(
        x.shape, dtype=output_dtype(x, out_dtype), device=x.device, memory_format=output_memory_format(x)
    )
    if target is None:
        return out, torch.empty((x.shape[0], 0), dtype=torch.float32, device=x.device)
    target_dtype = torch.float32 if target.dtype == torch.int64 else target.dtype
    mixed = torch.empty((x.shape[0], num_classes), dtype=target_dtype, device=x.device)
    return out, mixed


def _fused_mix_backward_fake(grad, index, lam, box, scale, std=None):
    check_backward(grad, index, lam, box, std)
    return torch.empty(grad.shape, dtype=grad.dtype, device=grad.device, memory_format=output_memory_format(grad))


def _sample_mix_params_fake(uniforms, gammas, pair_index, *_config):
    draws = uniforms.shape[0]
    return (
        torch.empty((draws,), dtype=torch.float32, device=uniforms.device),
        torch.empty((draws, 4), dtype=torch.int64, device=uniforms.device),
    )


def _draw_mix_params_fake(x, mode, pairing, mixup_alpha, cutmix_alpha, mix_prob, switch_prob, minmax, correct_lam,
                          full_side, generator=None):
    check_draw(x, mode, pairing, mixup_alpha, cutmix_alpha, mix_prob, switch_prob, minmax, generator)
    batch, device = x.shape[0], x.device
    per_batch = mode == "batch"
    return (
        torch.empty((batch,), dtype=torch.int64, device=device),
        torch.empty(() if per_batch else (batch,), dtype=torch.float32, device=device),
        torch.empty((4,) if per_batch else (batch, 4), dtype=torch.int64, device=device),
    )


def _loss_fake(logits, y_a, y_b, lam, smoothing):
    reference._check_loss("mixup::mixup_cross_entropy", logits, y_a, y_b, lam, smoothing)
    acc = torch.float64 if logits.dtype == torch.float64 else torch.float32
    rows = torch.empty((logits.shape[0],), dtype=acc, device=logits.device)
    return rows, torch.empty_like(rows)


def _loss_backward_fake(grad_loss, logits, y_a, y_b, lam, shifted_lse, smoothing):
    return torch.empty(logits.shape, dtype=logits.dtype, device=logits.device)


def _binary_loss_fake(logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes):
    reference._check_binary_loss(_BINARY_LOSS, logits, y_a, y_b, lam, smoothing, threshold, pos_weight)
    acc = torch.float64 if logits.dtype == torch.float64 else torch.float32
    return torch.empty((logits.shape[0],), dtype=acc, device=logits.device)


def _binary_loss_backward_fake(grad_loss, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes):
    return torch.empty(logits.shape, dtype=logits.dtype, device=logits.device)


def register_compiled() -> None:
    """Fake kernels for the C++ library. Call once, after loading it."""
    global _registered
    if _registered:
        return
    torch.library.register_fake(_FORWARD)(_fused_mix_fake)
    torch.library.register_fake(_BACKWARD)(_fused_mix_backward_fake)
    torch.library.register_fake(_SAMPLE)(_sample_mix_params_fake)
    torch.library.register_fake(_LOSS)(_loss_fake)
    torch.library.register_fake(_LOSS_BACKWARD)(_loss_backward_fake)
    torch.library.register_fake(_DRAW)(_draw_mix_params_fake)
    torch.library.register_fake(_BINARY_LOSS)(_binary_loss_fake)
    torch.library.register_fake(_BINARY_LOSS_BACKWARD)(_binary_loss_backward_fake)
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
    lib.define(_schema.DRAW_MIX_PARAMS, tags=tags + (torch.Tag.nondeterministic_seeded,))
    lib.define(_schema.MIXUP_CROSS_ENTROPY, tags=tags)
    lib.define(_schema.MIXUP_CROSS_ENTROPY_BACKWARD, tags=tags)
    lib.define(_schema.MIXUP_BINARY_CROSS_ENTROPY, tags=tags)
    lib.define(_schema.MIXUP_BINARY_CROSS_ENTROPY_BACKWARD, tags=tags)
    lib.define(_schema.CPU_VECTOR_ISA)
    lib.impl("fused_mix", reference.fused_mix_op, "CompositeImplicitAutograd")
    lib.impl("fused_mix_backward", reference.fused_mix_backward, "CompositeImplicitAutograd")
    lib.impl("sample_mix_params", reference.sample_mix_params, "CompositeImplicitAutograd")
    lib.impl("draw_mix_params", reference.draw_mix_params, "CompositeImplicitAutograd")
    lib.impl("mixup_cross_entropy", reference.mixup_cross_entropy, "CompositeImplicitAutograd")
    lib.impl("mixup_cross_entropy_backward", reference.mixup_cross_entropy_backward, "CompositeImplicitAutograd")
    lib.impl("mixup_binary_cross_entropy", reference.mixup_binary_cross_entropy, "CompositeImplicitAutograd")
    lib.impl("mixup_binary_cross_entropy_backward", reference.mixup_binary_cross_entropy_backward,
             "CompositeImplicitAutograd")
    lib.impl("cpu_vector_isa", reference.cpu_vector_isa, "CompositeExplicitAutograd")
    _reference_library = lib
    _registered = True

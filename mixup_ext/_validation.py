"""Every refusal of the Python side, by op, and the output layout rules.

The fake (meta) kernels and the reference both use these, so the compiled op,
its fake kernel and the fallback refuse the same inputs with the same words.
The C++ twins are csrc/<op>_plan.cpp (fused_mix, draw_mix_params,
sample_mix_params, mixup_loss, mixup_cross_entropy, mixup_binary_cross_entropy,
naflex_mix) and csrc/value_checks.cpp, which name
dtypes, tensors and numbers as this file does (csrc/messages.h);
every refusal case in the tests runs through the op, its fake kernel and the
reference (tests/helpers.py: refused_alike), which must give the same
words. Every message names the argument and
what was expected, and every refusal is a ValueError.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from collections.abc import Sequence

import torch
from torch._subclasses.fake_tensor import is_fake

from ._contract import GAMMAS, UNIFORMS
from ._sampling import NO_BOX, PAIRINGS

# The floating dtypes of data, and how refusals name them (csrc/dtypes.h: kFloatNames).
FLOAT_DTYPES = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
FLOAT_NAMES = "float64, float32, float16 or bfloat16"
FORWARD = "mixup::fused_mix"
BACKWARD = "mixup::_fused_mix_backward"


def _describe(t: torch.Tensor) -> str:
    return f"{t.dtype} tensor of shape {list(t.shape)} on {t.device}"


def accumulation_dtype(dtype: torch.dtype, out_dtype: torch.dtype | None = None) -> torch.dtype:
    """float32 math for every type but float64 (uint8 included), as the
    contract asks; float64 on either side of a mix computes in float64
    (csrc/dtypes.h: accumulation_dtype, acc_type_t)."""
    return torch.float64 if torch.float64 in (dtype, out_dtype) else torch.float32


def output_dtype(x: torch.Tensor, out_dtype) -> torch.dtype:
    """The mixed output's dtype: out_dtype, else float32 for uint8 x, else x's."""
    if out_dtype is not None:
        return out_dtype
    return torch.float32 if x.dtype == torch.uint8 else x.dtype


def check_out_dtype(op: str, out_dtype) -> None:
    if out_dtype is not None and out_dtype not in FLOAT_DTYPES:
        raise ValueError(f"{op}: out_dtype must be torch.{FLOAT_NAMES}, got {out_dtype!r}")


def check_probabilities(owner: str, **values) -> None:
    """A module's probability-like arguments (prob, switch_prob,
    label_smoothing): each must be in [0, 1]. One rule, one wording, for
    Mixup and NaFlexMixup."""
    for name, value in values.items():
        if not 0 <= value <= 1:  # refuses NaN too
            raise ValueError(f"{owner}: {name} must be in [0, 1], got {value}")


def check_pair_partners(owner: str, mode: str, pairing: str) -> None:
    """mode='pair' mixes i with index[i] and index[i] with i, so the pairing
    must be an involution: 'roll' is not. The one wording of the rule on the
    Python side (csrc/draw_mix_params_plan.cpp has the C++ twin)."""
    if mode == "pair" and pairing == "roll":
        raise ValueError(
            f"{owner}: mode='pair' needs symmetric partners, and pairing='roll' is not (i takes i-1, "
            "i-1 takes i-2); use 'flip' or 'random'"
        )


def check_alphas(owner: str, mixup_alpha: float, cutmix_alpha: float) -> None:
    """The Beta parameters of a module: each >= 0 (0 turns its mode off)."""
    if not (mixup_alpha >= 0 and cutmix_alpha >= 0):
        raise ValueError(f"{owner}: mixup_alpha and cutmix_alpha must be >= 0, got {mixup_alpha} and {cutmix_alpha}")


def _require_channels(op: str, name: str, x: torch.Tensor) -> None:
    if x.dim() < 2:
        raise ValueError(
            f"{op}: {name} normalises per channel (dim 1), so x needs at least 2 dims (B, C, ...), "
            f"got x of shape {list(x.shape)}"
        )


def check_per_channel(op: str, name: str, t, x: torch.Tensor) -> None:
    """mean or std of the output's normalisation: one value per channel (dim 1)."""
    if t is None:
        return
    _require_channels(op, name, x)
    _check_device(op, name, t, x)
    if not t.is_floating_point() or t.dim() != 1 or t.shape[0] != x.shape[1]:
        raise ValueError(
            f"{op}: {name} must be a floating tensor with one value per channel, of shape (C,) = "
            f"({x.shape[1]},), got {_describe(t)}"
        )


def output_memory_format(t: torch.Tensor) -> torch.memory_format:
    """x's memory format when x is contiguous or channels_last, else contiguous.

    Mirrors dense_rows() in csrc/fused_mix_plan.cpp, check for check, so the
    fake kernel's strides equal the real kernel's.
    """
    if t.is_contiguous():
        return torch.contiguous_format
    if t.dim() == 4 and t.is_contiguous(memory_format=torch.channels_last):
        return torch.channels_last
    if t.dim() == 5 and t.is_contiguous(memory_format=torch.channels_last_3d):
        return torch.channels_last_3d
    return torch.contiguous_format


def _check_device(op: str, name: str, t: torch.Tensor, x: torch.Tensor) -> None:
    if t.device != x.device:
        raise ValueError(f"{op}: {name} must be on the same device as x ({x.device}), got {t.device}")


def check_rows(op: str, name: str, t: torch.Tensor) -> None:
    if t.dim() < 1:
        raise ValueError(f"{op}: {name} must have a batch dimension (B, ...), got a 0-d tensor")
    if t.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{op}: {name} must be {FLOAT_NAMES}, got {_describe(t)}")


def check_mix(op: str, x: torch.Tensor, index: torch.Tensor, lam: torch.Tensor, box) -> None:
    batch = x.shape[0]
    _check_device(op, "index", index, x)
    if index.dtype != torch.int64 or index.dim() != 1 or index.shape[0] != batch:
        raise ValueError(f"{op}: index must be an int64 tensor of shape (B,) = ({batch},), got {_describe(index)}")
    _check_device(op, "lam", lam, x)
    if not lam.is_floating_point() or not (lam.dim() == 0 or (lam.dim() == 1 and lam.shape[0] == batch)):
        raise ValueError(f"{op}: lam must be a floating tensor of shape () or (B,) = ({batch},), got {_describe(lam)}")
    if _values_readable(lam):
        check_lam_values(op, lam)
    if box is None:
        return
    _check_device(op, "box", box, x)
    if x.dim() < 3:
        raise ValueError(f"{op}: box needs x with at least 3 dims (B, ..., H, W), got x of shape {list(x.shape)}")
    good_shape = (box.dim() == 1 and box.shape[0] == 4) or (
        box.dim() == 2 and box.shape[0] == batch and box.shape[1] == 4
    )
    if box.dtype != torch.int64 or not good_shape:
        raise ValueError(
            f"{op}: box must be an int64 tensor of shape (4,) or (B, 4) = ({batch}, 4) "
            f"with rows [y0, y1, x0, x1], got {_describe(box)}"
        )


def check_forward(
    x, target, index, lam, box, num_classes: int, smoothing: float, mean=None, std=None, out_dtype=None
) -> None:
    """Metadata checks of mixup::fused_mix: dtypes, shapes, devices, scalars.
    Without a target, num_classes and smoothing are unused and unchecked."""
    if x.dim() < 1:
        raise ValueError(f"{FORWARD}: x must have a batch dimension (B, ...), got a 0-d tensor")
    if x.dtype != torch.uint8 and x.dtype not in FLOAT_DTYPES:
        raise ValueError(f"{FORWARD}: x must be uint8, {FLOAT_NAMES}, got {_describe(x)}")
    check_out_dtype(FORWARD, out_dtype)
    check_mix(FORWARD, x, index, lam, box)
    check_per_channel(FORWARD, "mean", mean, x)
    check_per_channel(FORWARD, "std", std, x)
    if target is None:
        return
    if num_classes <= 0:
        raise ValueError(f"{FORWARD}: num_classes must be > 0, got {num_classes}")
    if not 0.0 <= smoothing <= 1.0:  # also refuses NaN
        raise ValueError(f"{FORWARD}: smoothing must be in [0, 1], got {float(smoothing)}")
    batch = x.shape[0]
    _check_device(FORWARD, "target", target, x)
    labels = target.dtype == torch.int64 and target.dim() == 1 and target.shape[0] == batch
    soft = (
        target.dtype in FLOAT_DTYPES
        and target.dim() == 2
        and target.shape[0] == batch
        and target.shape[1] == num_classes
    )
    if not (labels or soft):
        raise ValueError(
            f"{FORWARD}: target must be int64 class ids of shape (B,) = ({batch},) or floating soft "
            f"targets of shape (B, num_classes) = ({batch}, {num_classes}), got {_describe(target)}"
        )


#: Value checks off the CPU (csrc/value_checks.h): the reference backend's
#: copy of the switch that mixup::_set_value_checks sets.
value_checks = os.environ.get("MIXUP_EXT_CHECK_VALUES") == "1"


def _values_readable(x: torch.Tensor) -> bool:
    """Value checks read the data: always on real CPU tensors, on other
    devices only with value checks on (each read waits for the device; the
    CUDA kernels assert what would read out of bounds), and never while
    tracing (fake tensors have no values)."""
    return (x.device.type == "cpu" or value_checks) and not torch.compiler.is_compiling() and not is_fake(x)


def check_lam_values(op: str, lam: torch.Tensor) -> None:
    """lam in [0, 1], NaN refused (csrc/value_checks.cpp's words)."""
    values = lam.detach().double().cpu().reshape(-1)
    bad = (~((values >= 0) & (values <= 1))).nonzero()
    if bad.numel():
        i = int(bad[0])
        where = "" if lam.dim() == 0 else f" at position {i}"
        raise ValueError(f"{op}: lam must be in [0, 1], got {float(values[i])!r}{where}")


def _check_mix_values(op: str, x, index, box) -> None:
    batch = x.shape[0]
    index, box = _on_host(index), _on_host(box)
    bad = ((index < 0) | (index >= batch)).nonzero()
    if bad.numel():
        i = int(bad[0])
        raise ValueError(f"{op}: index values must be in [0, B) = [0, {batch}), found {int(index[i])} at position {i}")
    if box is not None:
        height, width = x.shape[-2], x.shape[-1]
        rows = box.reshape(-1, 4)
        limit = torch.tensor([height, height, width, width])
        no_box = (rows == NO_BOX).all(dim=1)
        bad = (((rows < 0) | (rows > limit)).any(dim=1) & ~no_box).nonzero()
        if bad.numel():
            r = int(bad[0])
            raise ValueError(
                f"{op}: box row {r} = {rows[r].tolist()} is neither a box inside the image (y0, y1 in "
                f"[0, H={height}], x0, x1 in [0, W={width}]) nor [-1, -1, -1, -1] (no box: blend)"
            )


def _check_class_ids(what: str, ids: torch.Tensor, bound: str, classes: int) -> None:
    """Class ids in [0, classes), the first bad one named by position."""
    ids = _on_host(ids)
    bad = ((ids < 0) | (ids >= classes)).nonzero()
    if bad.numel():
        i = int(bad[0])
        raise ValueError(
            f"{what} class ids must be in [0, {bound}) = [0, {classes}), found {int(ids[i])} at position {i}"
        )


def _on_host(t):
    """t's values where a check can read them (t itself on the CPU)."""
    return t.detach().cpu() if isinstance(t, torch.Tensor) else t


def check_normalize_values(op: str, mean, std) -> None:
    """mean finite, std finite and non-zero: on host values only (sequences,
    CPU tensors); on CUDA the kernel asserts a non-zero std."""
    mean, std = _on_host(mean), _on_host(std)
    # One channel named, as csrc/fused_mix_plan.cpp names it.
    if mean is not None and not torch.isfinite(mean).all():
        c = int((~torch.isfinite(mean)).nonzero()[0])
        raise ValueError(f"{op}: mean must be finite, got {float(mean[c])!r} for channel {c}")
    if std is not None and not (torch.isfinite(std) & (std != 0)).all():
        c = int((~(torch.isfinite(std) & (std != 0))).nonzero()[0])
        raise ValueError(f"{op}: std must be finite and non-zero, got {float(std[c])!r} for channel {c}")


def check_forward_values(x, target, index, box, num_classes: int, mean=None, std=None) -> None:
    """Value checks of mixup::fused_mix (CPU only, see _values_readable)."""
    if not _values_readable(x):
        return
    _check_mix_values(FORWARD, x, index, box)
    check_normalize_values(FORWARD, mean, std)
    if target is not None and target.dtype == torch.int64:
        _check_class_ids(f"{FORWARD}: target", target, "num_classes", num_classes)


def check_backward(grad, index, lam, box, std=None) -> None:
    """Metadata, and on CPU the values, of mixup::_fused_mix_backward's arguments."""
    check_rows(BACKWARD, "grad", grad)
    check_mix(BACKWARD, grad, index, lam, box)
    check_per_channel(BACKWARD, "std", std, grad)
    if _values_readable(grad):
        _check_mix_values(BACKWARD, grad, index, box)
        check_normalize_values(BACKWARD, None, std)


def as_lam_tensor(lam, x: torch.Tensor, op: str = FORWARD) -> torch.Tensor:
    """A Python float becomes a 0-d tensor on x's device, made by a fill kernel
    (no host-to-device copy), once checked: finite and in [0, 1]. (A tensor's
    values stay on the device unread: checking them would sync.) Under
    torch.compile pass a tensor: a Python float is baked into the graph and
    recompiles for every new value."""
    if isinstance(lam, torch.Tensor):
        return lam
    if not isinstance(lam, numbers.Real):
        raise ValueError(f"{op}: lam must be a float in [0, 1] or a floating tensor, got {lam!r}")
    value = float(lam)
    if not 0.0 <= value <= 1.0:  # NaN fails this too
        raise ValueError(f"{op}: lam must be a finite float in [0, 1], got {lam!r}")
    return torch.full((), value, dtype=accumulation_dtype(x.dtype), device=x.device)


def as_class_ids(y, op: str = FORWARD, name: str = "target", soft_targets: bool = True):
    """Class ids of any integer dtype (uint8 to int64, as timm and torchvision
    take them) as the int64 the kernels read. With ``soft_targets``, a
    floating (B, num_classes) tensor passes as it is, for the op to check;
    anything else -- a list, floats where ids belong -- is refused by name."""
    if y is None and soft_targets:
        return None
    integer = isinstance(y, torch.Tensor) and not (y.is_floating_point() or y.is_complex() or y.dtype == torch.bool)
    if integer:
        return y if y.dtype == torch.int64 else y.long()
    if soft_targets and isinstance(y, torch.Tensor) and y.dim() != 1:
        return y  # soft (or multi-hot) rows: the op, or Mixup's multi_label, checks them
    wanted = "(B,) class ids of an integer dtype" + (
        " or (B, num_classes) floating soft targets" if soft_targets else ""
    )
    got = _describe(y) if isinstance(y, torch.Tensor) else f"a {type(y).__name__}"
    raise ValueError(f"{op}: {name} must be a tensor of {wanted}, got {got}")


def as_per_channel(op: str, name: str, values, x: torch.Tensor, dtype: torch.dtype):
    """mean or std as the op takes it: a (C,) tensor of ``dtype`` on x's device.

    A sequence (or a CPU tensor) is checked on the host -- length, finite,
    and for std non-zero -- so a bad value is a ValueError on any device. A
    sequence becomes a device tensor once and is cached: a call with
    ``mean=(123.7, 116.3, 103.5)`` costs no host-to-device copy (and no
    check) after the first. A tensor already on x's device is passed as it is
    (on CUDA the kernel asserts std != 0 rather than synchronise to look).
    """
    if values is None:
        return None
    _require_channels(op, name, x)
    if isinstance(values, torch.Tensor):
        if values.device.type == "cpu" and not is_fake(values) and values.device != x.device:
            _check_channel_values(op, name, values, x.shape[1])
            return values.to(device=x.device, dtype=dtype)
        return values
    return _checked_channel_tensor(op, name, _channel_floats(op, name, values), x.shape[1], x.device, dtype)


def _channel_floats(op: str, name: str, values) -> tuple[float, ...]:
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise ValueError(f"{op}: {name} must be a sequence of floats or a 1-D tensor, got {type(values).__name__}")
    try:
        return tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(f"{op}: {name} must be a sequence of floats, got {values!r}") from None


def checked_channel_floats(owner: str, name: str, values) -> tuple[float, ...] | None:
    """mean or std given to a constructor (``Mixup(mean=...)``), before the
    channel count is known: floats, at least one, each checked by the rule
    and in the words of check_normalize_values."""
    if values is None:
        return None
    if isinstance(values, torch.Tensor):
        values = (
            values.tolist()
        )  # a constructor runs once: reading a device tensor here costs one sync, not one per call
    floats = _channel_floats(owner, name, values)
    if not floats:
        raise ValueError(f"{owner}: {name} must hold one value per channel, got an empty sequence")
    _check_named_values(owner, name, torch.tensor(floats, dtype=torch.float64))
    return floats


def _check_channel_values(op: str, name: str, t: torch.Tensor, channels: int) -> None:
    if t.dim() != 1 or t.shape[0] != channels:
        got = t.shape[0] if t.dim() == 1 else f"shape {list(t.shape)}"
        raise ValueError(f"{op}: {name} must hold one value per channel (dim 1 of x), {channels}, got {got}")
    _check_named_values(op, name, t)


def _check_named_values(op: str, name: str, t: torch.Tensor) -> None:
    """check_normalize_values for one of the two, named "mean" or "std"."""
    check_normalize_values(op, t if name == "mean" else None, t if name == "std" else None)


@functools.lru_cache(maxsize=64)
def _checked_channel_tensor(
    op: str, name: str, values: tuple, channels: int, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    # Raising leaves nothing in the cache, so a bad value is refused every time.
    _check_channel_values(op, name, torch.tensor(values, dtype=torch.float64), channels)
    return torch.tensor(values, dtype=dtype, device=device)


def infer_num_classes(target, num_classes) -> int:
    if num_classes is not None:
        return int(num_classes)
    if target is None:
        return 0  # no targets to mix: unused
    if target.is_floating_point() and target.dim() == 2:
        return int(target.shape[1])
    raise ValueError(
        f"{FORWARD}: num_classes is required with integer class ids; it can only be inferred "
        f"from (B, num_classes) soft targets, got {_describe(target)}"
    )


DRAW = "mixup::draw_mix_params"
MODES = ("batch", "pair", "elem")


def check_draw(x, mode, pairing, mixup_alpha, cutmix_alpha, mix_prob, switch_prob, minmax, generator) -> None:
    """Argument checks of mixup::draw_mix_params (csrc/draw_mix_params_plan.cpp's twin)."""
    if x.dim() < 1:
        raise ValueError(f"{DRAW}: x must have a batch dimension (B, ...), got a 0-d tensor")
    if mode not in MODES:
        raise ValueError(f"{DRAW}: mode must be one of {', '.join(MODES)}, got '{mode}'")
    if pairing not in PAIRINGS:
        raise ValueError(f"{DRAW}: pairing must be one of {', '.join(PAIRINGS)}, got '{pairing}'")
    check_pair_partners(DRAW, mode, pairing)
    if not (0 <= mixup_alpha < math.inf and 0 <= cutmix_alpha < math.inf):
        raise ValueError(
            f"{DRAW}: mixup_alpha and cutmix_alpha must be finite and >= 0, got {float(mixup_alpha)} and "
            f"{float(cutmix_alpha)}"
        )
    if minmax is not None and not (len(minmax) == 2 and 0 < minmax[0] < minmax[1] <= 1):
        raise ValueError(f"{DRAW}: minmax must be an increasing pair inside (0, 1], got {[float(v) for v in minmax]}")
    if not (mixup_alpha > 0 or cutmix_alpha > 0 or minmax is not None):
        raise ValueError(f"{DRAW}: one of mixup_alpha > 0, cutmix_alpha > 0 or minmax must be set")
    for name, p in (("mix_prob", mix_prob), ("switch_prob", switch_prob)):
        if not 0 <= p <= 1:
            raise ValueError(f"{DRAW}: {name} must be in [0, 1], got {float(p)}")
    if (cutmix_alpha > 0 or minmax is not None) and x.dim() < 3:
        raise ValueError(f"{DRAW}: CutMix needs x with at least 3 dims (B, ..., H, W), got x of shape {list(x.shape)}")
    if generator is not None and generator.device.type != x.device.type:
        raise ValueError(
            f"{DRAW}: generator must be on x's device type ({x.device.type}), got one on {generator.device}"
        )


# ---- _sample_mix_params -------------------------------------------------------

SAMPLE = "mixup::_sample_mix_params"


def check_sample(
    uniforms, gammas, pair_index, height: int, width: int, mixup_on: bool, cutmix_on: bool, minmax
) -> None:
    """mixup::_sample_mix_params (csrc/sample_mix_params_plan.cpp's twin, check
    for check, in its order): the tables laid out by
    csrc/sample_mix_params_slots.def, the image size and the method."""
    if uniforms.dtype != torch.float64 or uniforms.dim() != 2 or uniforms.shape[1] != UNIFORMS:
        raise ValueError(
            f"{SAMPLE}: uniforms must be a float64 tensor of shape (n, {UNIFORMS}), "
            f"got {uniforms.dtype} {list(uniforms.shape)}"
        )
    draws = uniforms.shape[0]
    if gammas.dtype != torch.float64 or gammas.dim() != 2 or gammas.shape[0] != GAMMAS or gammas.shape[1] != draws:
        raise ValueError(
            f"{SAMPLE}: gammas must be a float64 tensor of shape ({GAMMAS}, n) = ({GAMMAS}, {draws}), "
            f"got {gammas.dtype} {list(gammas.shape)}"
        )
    if gammas.device != uniforms.device:
        raise ValueError(f"{SAMPLE}: gammas must be on uniforms' device")
    if not (height > 0 and width > 0):
        raise ValueError(f"{SAMPLE}: height and width must be > 0, got {height} and {width}")
    if not (mixup_on or cutmix_on):
        raise ValueError(f"{SAMPLE}: one of mixup_on, cutmix_on must be true")
    if minmax is not None and not (len(minmax) == 2 and 0 < minmax[0] < minmax[1] <= 1):
        raise ValueError(f"{SAMPLE}: minmax must be an increasing pair inside (0, 1]")
    if pair_index is not None and not (
        pair_index.dtype == torch.int64
        and pair_index.dim() == 1
        and pair_index.shape[0] == draws
        and pair_index.device == uniforms.device
    ):
        raise ValueError(f"{SAMPLE}: pair_index must be an int64 tensor of shape (n,) = ({draws},) on uniforms' device")


# ---- the loss family: mixup_cross_entropy, mixup_binary_cross_entropy -------


REDUCTIONS = ("mean", "sum", "none")


def check_reduction(op: str, reduction) -> None:
    """How a loss reduces its rows (csrc/mixup_loss_plan.cpp: parse_reduction)."""
    if reduction not in REDUCTIONS:
        raise ValueError(f"{op}: reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")


def check_loss_inputs(op: str, logits, y_a, y_b, lam, smoothing: float) -> None:
    """What every op of the loss family takes (csrc/mixup_loss_plan.cpp's twin)."""
    if logits.dim() != 2 or logits.dtype not in FLOAT_DTYPES:
        raise ValueError(
            f"{op}: logits must be a (B, C) {FLOAT_NAMES} tensor, got {logits.dtype} of shape {list(logits.shape)}"
        )
    batch, classes = logits.shape
    if classes == 0:
        raise ValueError(f"{op}: logits must have at least one class, got shape {list(logits.shape)}")
    for name, y in (("y_a", y_a), ("y_b", y_b)):
        if y.dtype != torch.int64 or y.dim() != 1 or y.shape[0] != batch or y.device != logits.device:
            raise ValueError(
                f"{op}: {name} must be an int64 tensor of shape (B,) = ({batch},) on logits' device, got {y.dtype} of "
                f"shape {list(y.shape)} on {y.device}"
            )
    if (
        not lam.is_floating_point()
        or not (lam.dim() == 0 or (lam.dim() == 1 and lam.shape[0] == batch))
        or lam.device != logits.device
    ):
        raise ValueError(
            f"{op}: lam must be a floating tensor of shape () or (B,) = ({batch},) on logits' device, got "
            f"{lam.dtype} of shape {list(lam.shape)} on {lam.device}"
        )
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"{op}: label_smoothing must be in [0, 1], got {float(smoothing)}")
    if _values_readable(logits):
        check_lam_values(op, lam)
        for name, y in (("y_a", y_a), ("y_b", y_b)):
            _check_class_ids(f"{op}: {name}", y, "C", classes)


def check_binary_cross_entropy(op: str, logits, y_a, y_b, lam, smoothing: float, threshold, pos_weight) -> None:
    """mixup::mixup_binary_cross_entropy (csrc/mixup_binary_cross_entropy_plan.cpp's twin)."""
    check_loss_inputs(op, logits, y_a, y_b, lam, smoothing)
    if threshold is not None and not math.isfinite(threshold):
        raise ValueError(f"{op}: target_threshold must be a finite number or None, got {float(threshold)}")
    if pos_weight is not None:
        classes = logits.shape[1]
        one = pos_weight.dim() == 0 or (pos_weight.dim() == 1 and pos_weight.shape[0] == 1)
        if (
            not pos_weight.is_floating_point()
            or not (one or (pos_weight.dim() == 1 and pos_weight.shape[0] == classes))
            or pos_weight.device != logits.device
        ):
            raise ValueError(
                f"{op}: pos_weight must be a float or a floating tensor of shape () or (C,) = ({classes},) on "
                f"logits' device, got {pos_weight.dtype} of shape {list(pos_weight.shape)} on {pos_weight.device}"
            )


NAFLEX = "mixup::naflex_mix"
NAFLEX_INPLACE = "mixup::naflex_mix_"
#: The images' dtypes of mixup::naflex_mix: the sample dtypes (csrc/dtypes.h: is_sample_dtype).
NAFLEX_DTYPES = (torch.uint8, *FLOAT_DTYPES)


def check_naflex_mix(op: str, images, pairs, lam, box) -> None:
    """csrc/naflex_mix_plan.cpp's refusals, in its order and words, after
    the in-place op's refusal of a gradient (csrc/autograd/naflex_mix_autograd.cpp)."""
    if op == NAFLEX_INPLACE and torch.is_grad_enabled() and any(img.requires_grad for img in images):
        raise ValueError(
            f"{op}: images must not require grad: the in-place mix cannot record their history, so "
            "their gradient would be lost; use mixup::naflex_mix (NaFlexMixup(in_place=False)), which "
            "has one, or mix under torch.no_grad()"
        )
    for k, img in enumerate(images):
        if img.dim() != 3:
            raise ValueError(f"{op}: images[{k}] must be one (C, H, W) image, got {_describe(img)}")
        if img.dtype not in NAFLEX_DTYPES:
            raise ValueError(f"{op}: images[{k}] must be uint8, {FLOAT_NAMES}, got {_describe(img)}")
        first = images[0]
        if k and (img.dtype != first.dtype or img.device != first.device or img.shape[0] != first.shape[0]):
            raise ValueError(
                f"{op}: every image must have images[0]'s dtype, device and channel count "
                f"({_describe(first)}), images[{k}] is a {_describe(img)}"
            )
    if not (pairs.device.type == "cpu" and pairs.dtype == torch.int64 and pairs.dim() == 2 and pairs.shape[1] == 2):
        raise ValueError(f"{op}: pairs must be a (P, 2) torch.int64 tensor on the CPU, got {_describe(pairs)}")
    p = pairs.shape[0]
    if not (lam.device.type == "cpu" and lam.is_floating_point() and lam.dim() == 1 and lam.shape[0] == p):
        raise ValueError(
            f"{op}: lam must be a ({p},) floating tensor on the CPU (one weight per pair), got {_describe(lam)}"
        )
    if not (
        box.device.type == "cpu"
        and box.dtype == torch.int64
        and box.dim() == 2
        and box.shape[0] == p
        and box.shape[1] == 6
    ):
        raise ValueError(f"{op}: box must be a ({p}, 6) torch.int64 tensor on the CPU, got {_describe(box)}")
    count = len(images)
    if 2 * p > count:
        raise ValueError(f"{op}: pairs has {p} rows, but {count} images make at most {count // 2} pairs")
    if not all(_values_readable(t) for t in (pairs, lam, box)):
        return
    taken = set()
    for q, ((i, j), weight, b) in enumerate(zip(pairs.tolist(), lam.double().tolist(), box.tolist())):
        for k in (i, j):
            if not 0 <= k < count:
                raise ValueError(f"{op}: pairs[{q}] = [{i}, {j}] must index images in [0, {count})")
            if k in taken:
                raise ValueError(
                    f"{op}: pairs: image {k} is in more than one pair (each image mixes with one "
                    "partner, and both of a pair's outputs are written at once)"
                )
            taken.add(k)
        if not (math.isfinite(weight) and 0.0 <= weight <= 1.0):
            raise ValueError(f"{op}: lam[{q}] must be in [0, 1], got {weight!r}")
        height = min(images[i].shape[1], images[j].shape[1])
        width = min(images[i].shape[2], images[j].shape[2])
        if b[0] == NO_BOX:
            if any(v != NO_BOX for v in b[1:]):
                raise ValueError(
                    f"{op}: box[{q}] must be all -1 (a blend) or [h, w, y_i, x_i, y_j, x_j] (a paste), "
                    "got a row that starts with -1 but is not all -1"
                )
            continue
        h, w, y_i, x_i, y_j, x_j = b
        fits = (
            0 <= h <= height
            and 0 <= w <= width
            and min(y_i, x_i, y_j, x_j) >= 0
            and y_i + h <= height
            and y_j + h <= height
            and x_i + w <= width
            and x_j + w <= width
        )
        if not fits:
            raise ValueError(
                f"{op}: box[{q}] = [{', '.join(map(str, b))}] must place an h x w box inside the pair's "
                f"{height} x {width} overlap at both corners"
            )

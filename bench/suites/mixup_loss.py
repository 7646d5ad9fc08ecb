"""The mixup_loss suite: the fused losses against what users run today,
forward plus backward (``full``) and forward alone, with peak memory on
CUDA. Three losses, each with its own providers (``<loss>/<provider>``):

* ``ce`` (cross-entropy, label smoothing 0.1):
  ``fused`` is ``mixup_ext.mixup_cross_entropy`` from the class ids;
  ``dense_soft_targets`` builds ``lam * s(a) + (1 - lam) * s(b)`` as (B, C)
  rows and calls ``F.cross_entropy`` with them (timm/torchvision users' path),
  the building included; ``two_ce`` is ``lam * F.cross_entropy(z, a,
  label_smoothing=eps) + (1 - lam) * F.cross_entropy(z, b, ...)``.
* ``bce`` and ``bce_thr0.2`` (timm's ``--bce-loss``, without and with
  ``--bce-target-thresh 0.2``): ``fused`` is
  ``mixup_ext.mixup_binary_cross_entropy``; ``dense_timm`` is timm's path,
  ``mixup_target`` (``torch.full(...).scatter_`` twice, mixed) and then
  ``BinaryCrossEntropy.forward`` (threshold, ``F.binary_cross_entropy_with_logits``),
  written out here so that it runs without timm.
* ``compile`` (each loss): ``torch.compile(dynamic=False)`` of that loss's
  dense formula, the strongest alternative a user has.

    python -m bench --suite mixup_loss [--device cpu --threads 2]

A loss's providers are ratios to its own fused one (full), in the same run;
the fused ones to ``ce/fused``. The floor bytes of a training step are the
logits read once and their gradient written once (the fused forward writes
the gradient while it holds each row); a forward alone reads the
logits once, half of that.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from mixup_ext import mixup_binary_cross_entropy, mixup_cross_entropy

from ..harness import Provider, Suite

CUDA_SHAPES = [(256, 1000), (4096, 32000)]
CPU_SHAPES = [(256, 1000)]
EPS = 0.1
LOSSES = {"ce": None, "bce": None, "bce_thr0.2": 0.2}  # loss -> BCE target threshold


def _smoothed_one_hot(y, classes, like):
    """timm's one_hot(y, C, on_value=1 - eps + eps / C, off_value=eps / C)."""
    off = EPS / classes
    return torch.full((y.shape[0], classes), off, device=like.device).scatter_(1, y[:, None], 1 - EPS + off)


def _dense_ce(z, a, b, lam):
    classes = z.shape[1]
    mixed = lam * _smoothed_one_hot(a, classes, z) + (1 - lam) * _smoothed_one_hot(b, classes, z)
    return F.cross_entropy(z, mixed.to(z.dtype))


def _dense_bce(z, a, b, lam, threshold):
    classes = z.shape[1]
    target = _smoothed_one_hot(a, classes, z) * lam + _smoothed_one_hot(b, classes, z) * (1 - lam)
    if threshold is not None:
        target = target.gt(threshold).to(dtype=target.dtype)
    return F.binary_cross_entropy_with_logits(z, target)


def _compiled(dense):
    """``torch.compile`` of the dense formula, as a user would wrap it:
    static shapes, compiled on first call (the harness warms it up)."""
    return torch.compile(dense, dynamic=False)


def ce_providers(z, a, b, lam):
    compiled = _compiled(_dense_ce)
    return {
        "fused": lambda: mixup_cross_entropy(z, a, b, lam, EPS),
        "dense_soft_targets": lambda: _dense_ce(z, a, b, lam),
        "compile": lambda: compiled(z, a, b, lam),
        "two_ce": lambda: (
            lam * F.cross_entropy(z, a, label_smoothing=EPS) + (1 - lam) * F.cross_entropy(z, b, label_smoothing=EPS)
        ),
    }


def bce_providers(z, a, b, lam, threshold):
    compiled = _compiled(_dense_bce)
    return {
        "fused": lambda: mixup_binary_cross_entropy(z, a, b, lam, EPS, threshold),
        "dense_timm": lambda: _dense_bce(z, a, b, lam, threshold),
        "compile": lambda: compiled(z, a, b, lam, threshold),
    }


@dataclass(frozen=True)
class Case:
    batch: int
    classes: int
    dtype: torch.dtype

    @property
    def id(self) -> str:
        return f"{self.batch}x{self.classes}-{str(self.dtype).removeprefix('torch.')}"


DTYPES = (torch.bfloat16, torch.float32)
CASES = {
    "cuda": [Case(b, c, d) for b, c in CUDA_SHAPES for d in DTYPES],
    "cpu": [Case(b, c, d) for b, c in CPU_SHAPES for d in DTYPES],
}


def setup(case: Case, device: str) -> dict:
    g = torch.Generator().manual_seed(0)
    z = torch.randn(case.batch, case.classes, generator=g).to(device=device, dtype=case.dtype).requires_grad_()
    a = torch.randint(0, case.classes, (case.batch,), generator=g).to(device)
    b = torch.randint(0, case.classes, (case.batch,), generator=g).to(device)
    return dict(z=z, a=a, b=b, lam=torch.tensor(0.7, device=device))


def _loss_fn(loss: str, name: str, a: dict):
    args = (a["z"], a["a"], a["b"], a["lam"])
    providers = ce_providers(*args) if loss == "ce" else bce_providers(*args, LOSSES[loss])
    return providers[name]


def _full(loss: str, name: str):
    def make(a):
        fn = _loss_fn(loss, name, a)
        return lambda: torch.autograd.grad(fn(), a["z"])

    versus = None if name == "fused" else f"{loss}/fused"
    # Inductor's CPU build of a loss takes minutes on 2 cores: the compile
    # providers time the GPU, where the loss goals are.
    return Provider(
        f"{loss}/{name}", make, "full", peer=name != "fused", moves=1.0, versus=versus, cuda_only=name == "compile"
    )


def _forward(loss: str, name: str):
    def make(a):
        fn = _loss_fn(loss, name, a)

        def step():
            with torch.no_grad():
                return fn()

        return step

    # The forward alone reads the logits once: half of the full step's floor.
    return Provider(f"{loss}/{name}_fwd", make, "forward", peer=name != "fused", moves=1 / 2, versus=f"{loss}/fused")


_NAMES = {
    "ce": ("fused", "dense_soft_targets", "two_ce", "compile"),
    "bce": ("fused", "dense_timm", "compile"),
    "bce_thr0.2": ("fused", "dense_timm", "compile"),
}
PROVIDERS = [_full(loss, name) for loss, names in _NAMES.items() for name in names] + [
    _forward(loss, "fused") for loss in _NAMES
]

SUITE = Suite(
    name="mixup_loss",
    cases=CASES,
    setup=setup,
    providers=PROVIDERS,
    baseline="ce/fused",
    floor_bytes=lambda case, a: 2 * a["z"].numel() * a["z"].element_size(),
    about={
        "fused": "the fused loss, forward and backward (the gradient written in the forward)",
        "dense_soft_targets": "`(B, C)` mixed soft targets built, then soft-target cross-entropy: what timm does",
        "dense_timm": "timm's `BinaryCrossEntropy` on dense mixed targets",
        "two_ce": "two `F.cross_entropy` calls weighted by lam",
        "compile": "`torch.compile` of the dense formula: the strongest alternative",
    },
)

"""Variable-size batches (timm's NaFlex loader): mixup_ext.NaFlexMixup, one
op call per batch, against timm 1.0.31's NaFlexMixup, a Python loop of
clones and slices per image.

    python -m bench --suite naflex_mix --device cpu --threads 1   # as in one loader worker
    python -m bench --suite naflex_mix --device cpu --threads 2
    python -m bench --suite naflex_mix                            # CUDA tensors

The batch: 256 float32 images of 3 channels, heights and widths drawn in
[128, 512], with 1000-class labels; one case forces Mixup, one CutMix (the
per-batch choice timm draws). Rows, per case:

* ``flat_clone``: one ``clone()`` of a tensor holding the batch's bytes: the
  copy that any out-of-place mix must at least make (the baseline);
* ``timm``: ``timm.data.NaFlexMixup`` called on the list, as the loader
  wrapper calls it;
* ``fused``: ``mixup_ext.NaFlexMixup``, the same call (draws, the op, the
  target rows);
* ``fused_in_place``: the same with ``in_place=True`` (only the overlaps are
  written; the images are the caller's to give up);
* ``op``: ``torch.ops.mixup.naflex_mix`` alone, with fixed parameters.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

import mixup_ext

from .. import needs
from ..harness import Provider, Suite

NUM_CLASSES = 1000


@dataclass(frozen=True)
class Case:
    batch: int
    cutmix: bool
    dtype: torch.dtype = torch.float32

    @property
    def id(self) -> str:
        return f"{self.batch}x3x[128-512]^2-{str(self.dtype)[6:]}-{'cutmix' if self.cutmix else 'mixup'}"

    @property
    def alphas(self) -> dict:
        return dict(mixup_alpha=0.0, cutmix_alpha=1.0) if self.cutmix else dict(mixup_alpha=0.8, cutmix_alpha=0.0)


CASES = [Case(256, False), Case(256, True)]


def setup(case: Case, device: str, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    sizes = torch.randint(128, 513, (case.batch, 2), generator=g).tolist()
    images = [torch.randn((3, h, w), generator=g).to(device=device, dtype=case.dtype) for h, w in sizes]
    labels = torch.randint(0, NUM_CLASSES, (case.batch,), generator=g)
    flat = torch.cat([img.flatten() for img in images])
    params = mixup_ext.NaFlexMixup(
        num_classes=NUM_CLASSES, generator=torch.Generator().manual_seed(seed), **case.alphas
    ).sample(images)
    return dict(case=case, images=images, labels=labels, flat=flat, params=params)


def _timm(a: dict):
    module = needs.timm_naflex_mixup_module()
    if module is None:
        raise ImportError("timm is not installed (pip install --no-deps timm)")
    mixup = module.NaFlexMixup(num_classes=NUM_CLASSES, label_smoothing=0.1, **a["case"].alphas)
    return lambda: mixup(a["images"], a["labels"])


def _fused(a: dict, in_place: bool = False):
    mixup = mixup_ext.NaFlexMixup(
        num_classes=NUM_CLASSES,
        label_smoothing=0.1,
        in_place=in_place,
        generator=torch.Generator().manual_seed(1),
        **a["case"].alphas,
    )
    return lambda: mixup(a["images"], a["labels"])


def _op(a: dict):
    p = a["params"]
    return lambda: torch.ops.mixup.naflex_mix(a["images"], p.pairs, p.lam, p.box)


SUITE = Suite(
    name="naflex_mix",
    cases={"cpu": CASES, "cuda": CASES},
    setup=setup,
    providers=[
        Provider("flat_clone", lambda a: a["flat"].clone),
        Provider("timm", _timm, peer=True),
        Provider("fused", _fused),
        Provider("fused_in_place", lambda a: _fused(a, in_place=True)),
        Provider("op", _op),
    ],
    baseline="flat_clone",
    about={
        "flat_clone": "one `clone()` of all the images' bytes as one tensor: the copy floor",
        "timm": "timm's `NaFlexMixup` on the list: a Python loop of clones and slices per image",
        "fused": "`mixup_ext.NaFlexMixup` on the list: the draws, one op call, the target rows",
        "fused_in_place": "the same with `in_place=True`: only each pair's overlap is written",
        "op": "`torch.ops.mixup.naflex_mix` alone, with the draws made beforehand",
    },
    floor_bytes=lambda case, a: 2 * a["flat"].numel() * a["flat"].element_size(),
)

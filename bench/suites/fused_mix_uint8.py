"""uint8 in, normalised and mixed out: the one-pass op against an fp32
``x.clone()`` of the same shape (the ratio the goals are written in), against
timm's GPU normalize step alone, and timm's CPU-side mixing in the loader.

    python -m bench --suite fused_mix_uint8                  # CUDA if visible, else CPU
    python -m bench --suite fused_mix_uint8 --device cpu --threads 2

Rows, per case (random pairing, per-sample weights, with and without
per-sample boxes, NCHW and channels_last, 1000-class targets mixed too):

* ``fp32_clone``: ``x.float().clone()`` timed alone -- the floor the goals use;
* ``fused``: ``mixup_ext.fused_mix(x_uint8, ..., mean, std, out_dtype)``;
* ``timm_normalize``: ``x.float().sub_(mean).div_(std)``, timm's
  PrefetchLoader step, which does no mixing at all;
* ``Mixup call``: a whole ``mixup_ext.Mixup(mean=..., std=..., out_dtype=...)``
  call, the draw included (host time matters here);
* ``compile`` (CUDA): ``torch.compile(dynamic=False)`` of the one-line
  formula ``((lam * x.float() + (1 - lam) * x[perm].float() - mean) / std)
  .to(out_dtype)``, with the boxes as a mask where the case has them: the
  strongest alternative a user has.

Then (``extra``), on the CPU and one thread, timm's ``FastCollateMixup`` per
batch beside plain collation (``fast_collate`` when timm's loader imports,
else torch's ``default_collate``): the cost this op moves off the loader
workers.
"""

from __future__ import annotations

import numpy as np
import torch

import mixup_ext

from .. import needs
from ..case_data import (
    NUM_CLASSES,
    UINT8_BIG,
    UINT8_CUDA_CASES,
    UINT8_MEAN,
    UINT8_STD,
    Uint8Case,
    uint8_formula,
    uint8_setup,
)
from ..harness import Provider, Suite, time_cpu_ms

MEAN, STD = UINT8_MEAN, UINT8_STD
Case = Uint8Case
BIG = UINT8_BIG
CUDA_CASES = UINT8_CUDA_CASES
CPU_CASES = [
    Case((64, 3, 224, 224), torch.float32, False, False),
    Case((64, 3, 224, 224), torch.float32, False, True),
    Case((64, 3, 224, 224), torch.float32, True, False),
]
setup = uint8_setup


def _mixup_call(case: Case, a: dict):
    mixup = mixup_ext.Mixup(
        0.8,
        1.0 if case.cutmix else 0.0,
        mode="elem",
        num_classes=NUM_CLASSES,
        pairing="random",
        mean=MEAN,
        std=STD,
        out_dtype=case.out_dtype,
    )
    return lambda: mixup(a["x"], a["target"])


def _fused(case: Case, a: dict):
    return lambda: mixup_ext.fused_mix(
        a["x"],
        a["target"],
        a["index"],
        a["lam"],
        a["box"],
        NUM_CLASSES,
        0.1,
        mean=MEAN,
        std=STD,
        out_dtype=case.out_dtype,
    )


_formula = uint8_formula


def _compiled_formula(case: Case, a: dict):
    compiled = torch.compile(_formula, dynamic=False)
    return lambda: compiled(a["x"], a["index"], a["lam"], a["box"], a["mean"], a["std"], case.out_dtype)


def _uint8_in_out(case: Case) -> float:
    """A uint8 element read and an out_dtype element written, over the fp32 clone's 8 bytes."""
    return (1 + torch.empty((), dtype=case.out_dtype).element_size()) / 8


def _providers() -> list[Provider]:
    # The floor is 8 bytes an element (an fp32 clone: 4 read, 4 written); a
    # provider's `moves` scales it to what that provider must move at least.
    return [
        Provider("fp32_clone", lambda a: a["x_float"].clone),
        Provider("fused", lambda a: _fused(a["case"], a), moves=_uint8_in_out),
        Provider(
            "timm_normalize", lambda a: lambda: a["x"].float().sub_(a["mean"]).div_(a["std"]), peer=True, moves=5 / 8
        ),
        Provider("Mixup call", lambda a: _mixup_call(a["case"], a), moves=_uint8_in_out),
        Provider("compile", lambda a: _compiled_formula(a["case"], a), peer=True, cuda_only=True, moves=_uint8_in_out),
    ]


def _setup_with_case(case: Case, device: str) -> dict:
    a = setup(case, device)
    a["x_float"], a["case"] = a["x"].float(), case
    return a


def collate_costs(batch: int = 256, repeats: int = 5) -> list[dict]:
    """timm's FastCollateMixup against plain collation, per 256x3x224x224
    batch on one CPU thread, as inside one loader worker."""
    mixup_module = needs.timm_mixup_module()
    if mixup_module is None:
        print("skipping the collate rows: timm is not installed (pip install --no-deps timm)")
        return []
    try:
        from timm.data.loader import fast_collate as plain

        plain_name = "timm fast_collate"
    except ImportError:  # timm installed without torchvision
        from torch.utils.data import default_collate as plain

        plain_name = "torch default_collate"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rng = np.random.default_rng(0)
        samples = [
            (rng.integers(0, 256, (3, 224, 224), dtype=np.uint8), int(rng.integers(0, NUM_CLASSES)))
            for _ in range(batch)
        ]
        tensor_samples = [(torch.from_numpy(img), label) for img, label in samples]
        rows = []
        for mode in ("batch", "elem"):
            collate = mixup_module.FastCollateMixup(
                mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=NUM_CLASSES, mode=mode
            )
            ms = time_cpu_ms(lambda: collate(samples), repeats=repeats)
            rows.append(dict(collate=f"timm FastCollateMixup mode={mode}", ms=ms))
        rows.append(dict(collate=plain_name, ms=time_cpu_ms(lambda: plain(tensor_samples), repeats=repeats)))
        return rows
    finally:
        torch.set_num_threads(threads)


def _collate_rows(device: str) -> dict:
    return {"collate": collate_costs()}


SUITE = Suite(
    name="fused_mix_uint8",
    cases={"cuda": CUDA_CASES, "cpu": CPU_CASES},
    setup=_setup_with_case,
    providers=_providers(),
    baseline="fp32_clone",
    about={
        "fp32_clone": "`x.float().clone()` timed alone: the floor every ratio is to",
        "fused": "`torch.ops.mixup.fused_mix` on uint8: mixed, normalised and converted in one launch",
        "timm_normalize": "timm's prefetcher normalisation alone, `x.float().sub_(mean).div_(std)`, no mixing",
        "Mixup call": "a whole `mixup_ext.Mixup(mean=, std=, out_dtype=)` call: the draws and the fused launch",
        "compile": "`torch.compile` of the uint8 formula (convert, mix, normalise): the strongest alternative",
    },
    floor_bytes=lambda case, a: 8 * a["x"].numel(),
    extra=_collate_rows,
)

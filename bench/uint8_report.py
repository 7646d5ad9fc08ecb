"""uint8 in, normalised and mixed out: the one-pass op against an fp32
``x.clone()`` of the same shape (the ratio the goals are written in), against
timm's GPU normalize step alone, and timm's CPU-side mixing in the loader.

    python -m bench.uint8_report                  # CUDA if visible, else CPU
    python -m bench.uint8_report --device cpu --threads 2 --json out.json

Rows, per case (random pairing, per-sample weights, with and without
per-sample boxes, NCHW and channels_last, 1000-class targets mixed too):

* ``fp32_clone``: ``x.float().clone()`` timed alone -- the floor the goals use;
* ``fused``: ``mixup_ext.fused_mix(x_uint8, ..., mean, std, out_dtype)``;
* ``timm_normalize``: ``x.float().sub_(mean).div_(std)``, timm's
  PrefetchLoader step, which does no mixing at all;
* ``Mixup call``: a whole ``mixup_ext.Mixup(mean=..., std=..., out_dtype=...)``
  call, the draw included (host time matters here).

Then, on the CPU and one thread, timm's ``FastCollateMixup`` per batch beside
plain collation (``fast_collate`` when timm's loader imports, else torch's
``default_collate``): the cost this op moves off the loader workers.
"""

from __future__ import annotations

import argparse
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import mixup_ext

from . import needs
from .case_data import square_boxes
from .report import commit, time_cpu_ms, time_cuda_ms, time_host_ms

MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)  # timm's prefetcher constants, in 0-255 units
STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)
NUM_CLASSES = 1000


@dataclass(frozen=True)
class Case:
    shape: tuple
    out_dtype: torch.dtype
    channels_last: bool
    cutmix: bool

    @property
    def id(self) -> str:
        layout = "cl" if self.channels_last else "nchw"
        mix = "cutmix" if self.cutmix else "mixup"
        return f"{'x'.join(map(str, self.shape))}-u8-{str(self.out_dtype)[6:]}-{layout}-{mix}"


BIG = (256, 3, 224, 224)
CUDA_CASES = [
    Case(BIG, out_dtype, channels_last, cutmix)
    for out_dtype in (torch.bfloat16, torch.float32)
    for channels_last in (True, False)
    for cutmix in (False, True)
] + [Case((128, 3, 32, 32), torch.bfloat16, False, False), Case((128, 3, 32, 32), torch.bfloat16, True, True)]
CPU_CASES = [
    Case((64, 3, 224, 224), torch.float32, False, False),
    Case((64, 3, 224, 224), torch.float32, False, True),
    Case((64, 3, 224, 224), torch.float32, True, False),
]


def setup(case: Case, device: str, seed: int = 0) -> dict:
    g = torch.Generator().manual_seed(seed)
    batch, _, height, width = case.shape
    x = torch.randint(0, 256, case.shape, generator=g, dtype=torch.uint8).to(device)
    if case.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    box = square_boxes(batch, height, width, g).to(device) if case.cutmix else None
    return dict(
        x=x,
        target=torch.randint(0, NUM_CLASSES, (batch,), generator=g).to(device),
        index=torch.randperm(batch, generator=g).to(device),
        lam=torch.rand(batch, generator=g).to(device),
        box=box,
        mean=torch.tensor(MEAN, device=device).view(1, 3, 1, 1),
        std=torch.tensor(STD, device=device).view(1, 3, 1, 1),
    )


def providers(case: Case, a: dict) -> dict:
    x = a["x"]
    x_float = x.float()
    mixup = mixup_ext.Mixup(0.8, 1.0 if case.cutmix else 0.0, mode="elem", num_classes=NUM_CLASSES,
                            pairing="random", mean=MEAN, std=STD, out_dtype=case.out_dtype)
    return {
        "fp32_clone": x_float.clone,
        "fused": lambda: mixup_ext.fused_mix(x, a["target"], a["index"], a["lam"], a["box"], NUM_CLASSES, 0.1,
                                             mean=MEAN, std=STD, out_dtype=case.out_dtype),
        "timm_normalize": lambda: x.float().sub_(a["mean"]).div_(a["std"]),
        "Mixup call": lambda: mixup(x, a["target"]),
    }


def run(device: str) -> list[dict]:
    timer = time_cuda_ms if device == "cuda" else time_cpu_ms
    rows = []
    for case in CUDA_CASES if device == "cuda" else CPU_CASES:
        a = setup(case, device)
        fns = providers(case, a)
        clone_ms = timer(fns["fp32_clone"])
        times = {name: clone_ms if name == "fp32_clone" else timer(fn) for name, fn in fns.items()}
        numel = a["x"].numel()
        out_bytes = torch.empty((), dtype=case.out_dtype).element_size()
        moved = {"fp32_clone": 8 * numel, "fused": (1 + out_bytes) * numel,
                 "timm_normalize": (1 + 4) * numel, "Mixup call": (1 + out_bytes) * numel}
        for name, ms in times.items():
            host_ms = time_host_ms(fns[name], ms) if device == "cuda" else ms
            rows.append(dict(case=case.id, provider=name, ms=ms, host_ms=host_ms, gbps=moved[name] / (ms * 1e-3) / 1e9,
                             x_clone=ms / clone_ms, timm_over_fused=times["timm_normalize"] / times["fused"]))
        del a, fns
        if device == "cuda":
            torch.cuda.empty_cache()
    return rows


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
        samples = [(rng.integers(0, 256, (3, 224, 224), dtype=np.uint8), int(rng.integers(0, NUM_CLASSES)))
                   for _ in range(batch)]
        tensor_samples = [(torch.from_numpy(img), label) for img, label in samples]
        rows = []
        for mode in ("batch", "elem"):
            collate = mixup_module.FastCollateMixup(mixup_alpha=0.8, cutmix_alpha=1.0, label_smoothing=0.1,
                                                    num_classes=NUM_CLASSES, mode=mode)
            ms = time_cpu_ms(lambda: collate(samples), repeats=repeats)
            rows.append(dict(collate=f"timm FastCollateMixup mode={mode}", ms=ms))
        rows.append(dict(collate=plain_name, ms=time_cpu_ms(lambda: plain(tensor_samples), repeats=repeats)))
        return rows
    finally:
        torch.set_num_threads(threads)


def markdown(rows: list[dict], collate_rows: list[dict]) -> str:
    lines = ["| case | provider | ms | host ms | GB/s | × fp32 clone |", "|---|---|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['provider']} | {r['ms']:.4f} | {r['host_ms']:.4f} | {r['gbps']:.0f} | "
                     f"{r['x_clone']:.3f} |")
    speedups = {r["case"]: r["timm_over_fused"] for r in rows}
    lines += ["", "| case | timm normalize / fused |", "|---|---:|"]
    lines += [f"| {case} | {ratio:.2f}× |" for case, ratio in speedups.items()]
    if collate_rows:
        lines += ["", "| CPU collation, 256x3x224x224 uint8, 1 thread | ms per batch |", "|---|---:|"]
        lines += [f"| {r['collate']} | {r['ms']:.1f} |" for r in collate_rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, help="CPU threads for the op rows (torch.set_num_threads)")
    parser.add_argument("--no-collate", action="store_true", help="skip timm's FastCollateMixup rows")
    parser.add_argument("--json", type=Path, help="also write the rows and the environment here")
    args = parser.parse_args()
    needs.device_or_exit("bench.uint8_report", args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = run(args.device)
    collate_rows = [] if args.no_collate else collate_costs()
    device_name = (
        torch.cuda.get_device_name() if args.device == "cuda" else f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} threads)"
    )
    meta = dict(device=device_name, torch=torch.__version__, commit=commit(), backend=mixup_ext.backend())
    print(f"\n{meta}\n")
    print(markdown(rows, collate_rows))
    if args.json:
        args.json.write_text(json.dumps(dict(meta, rows=rows, collate=collate_rows), indent=2))


if __name__ == "__main__":
    main()

"""The fused losses against what users run today, forward plus backward,
with peak memory on CUDA. Three losses, each with its own providers:

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

    python -m bench.loss_report [--device cpu] [--json FILE]

CUDA times are ``triton.testing.do_bench`` medians, CPU times medians of
repeated runs (bench/report.py); ``× fused`` is each provider's time over
the fused one's in the same run.
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from mixup_ext import mixup_binary_cross_entropy, mixup_cross_entropy

from . import needs
from .report import commit, time_cpu_ms, time_cuda_ms

CUDA_SHAPES = [(256, 1000), (4096, 32000)]
CPU_SHAPES = [(256, 1000)]
EPS = 0.1
LOSSES = {"ce": None, "bce": None, "bce_thr0.2": 0.2}  # loss -> BCE target threshold


def _smoothed_one_hot(y, classes, like):
    """timm's one_hot(y, C, on_value=1 - eps + eps / C, off_value=eps / C)."""
    off = EPS / classes
    return torch.full((y.shape[0], classes), off, device=like.device).scatter_(1, y[:, None], 1 - EPS + off)


def ce_providers(z, a, b, lam):
    classes = z.shape[1]

    def dense():
        mixed = lam * _smoothed_one_hot(a, classes, z) + (1 - lam) * _smoothed_one_hot(b, classes, z)
        return F.cross_entropy(z, mixed.to(z.dtype))

    return {
        "fused": lambda: mixup_cross_entropy(z, a, b, lam, EPS),
        "dense_soft_targets": dense,
        "two_ce": lambda: lam * F.cross_entropy(z, a, label_smoothing=EPS) + (1 - lam) * F.cross_entropy(z, b, label_smoothing=EPS),
    }


def bce_providers(z, a, b, lam, threshold):
    classes = z.shape[1]

    def dense_timm():
        target = _smoothed_one_hot(a, classes, z) * lam + _smoothed_one_hot(b, classes, z) * (1 - lam)
        if threshold is not None:
            target = target.gt(threshold).to(dtype=target.dtype)
        return F.binary_cross_entropy_with_logits(z, target)

    return {
        "fused": lambda: mixup_binary_cross_entropy(z, a, b, lam, EPS, threshold),
        "dense_timm": dense_timm,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, help="CPU threads (torch.set_num_threads)")
    parser.add_argument("--json")
    args = parser.parse_args()
    needs.device_or_exit("bench.loss_report", args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    device, rows = args.device, []
    timer = time_cuda_ms if device == "cuda" else time_cpu_ms
    for batch, classes in CUDA_SHAPES if device == "cuda" else CPU_SHAPES:
        for dtype in (torch.bfloat16, torch.float32):
            g = torch.Generator().manual_seed(0)
            z = torch.randn(batch, classes, generator=g).to(device=device, dtype=dtype).requires_grad_()
            a = torch.randint(0, classes, (batch,), generator=g).to(device)
            b = torch.randint(0, classes, (batch,), generator=g).to(device)
            lam = torch.tensor(0.7, device=device)
            case = f"{batch}x{classes}-{str(dtype).removeprefix('torch.')}"
            for loss, threshold in LOSSES.items():
                providers = ce_providers(z, a, b, lam) if loss == "ce" else bce_providers(z, a, b, lam, threshold)
                fused_ms = None
                for name, loss_fn in providers.items():
                    step = lambda: torch.autograd.grad(loss_fn(), z)  # noqa: E731 -- forward + backward
                    ms = timer(step)
                    peak = None
                    if device == "cuda":
                        torch.cuda.synchronize()
                        torch.cuda.reset_peak_memory_stats()
                        base = torch.cuda.memory_allocated()
                        step()
                        torch.cuda.synchronize()
                        peak = (torch.cuda.max_memory_allocated() - base) / 2**20
                    fused_ms = fused_ms or ms
                    # bytes: the logits read (forward), read again and the gradient written (backward)
                    moved = 3 * z.numel() * z.element_size()
                    rows.append(dict(case=case, loss=loss, provider=name, ms=ms, gbps=moved / (ms * 1e-3) / 1e9,
                                     x_fused=ms / fused_ms, peak_mib=peak))
    print("| case | loss | provider | ms (fwd+bwd) | GB/s | × fused | peak extra MiB |\n|---|---|---|---:|---:|---:|---:|")
    for r in rows:
        peak = "n/a" if r["peak_mib"] is None else f"{r['peak_mib']:.1f}"
        print(f"| {r['case']} | {r['loss']} | {r['provider']} | {r['ms']:.4f} | {r['gbps']:.0f} | {r['x_fused']:.2f} | {peak} |")
    if args.json:
        with open(args.json, "w") as f:
            meta = dict(device=torch.cuda.get_device_name() if device == "cuda" else "cpu", torch=torch.__version__,
                        threads=torch.get_num_threads(), commit=commit())
            json.dump(dict(**meta, rows=rows), f, indent=2)


if __name__ == "__main__":
    main()

"""The fused mixed cross-entropy against what users run today, forward plus
backward, with peak memory:

* ``fused``: ``mixup_ext.mixup_cross_entropy`` from the class ids;
* ``dense_soft_targets``: build ``lam * s(a) + (1 - lam) * s(b)`` as (B, C)
  rows and call ``F.cross_entropy`` with them (timm/torchvision users' path),
  the building included;
* ``two_ce``: ``lam * F.cross_entropy(z, a, label_smoothing=eps) + (1 - lam) *
  F.cross_entropy(z, b, label_smoothing=eps)``.

    python -m bench.loss_report [--json FILE]
"""

from __future__ import annotations

import argparse
import json

import torch
import torch.nn.functional as F

from mixup_ext import mixup_cross_entropy

from . import needs
from .report import commit, time_cuda_ms, time_cpu_ms

SHAPES = [(256, 1000), (4096, 32000)]
EPS = 0.1


def providers(z, a, b, lam):
    classes = z.shape[1]

    def dense():
        s_a = F.one_hot(a, classes).float() * (1 - EPS) + EPS / classes
        s_b = F.one_hot(b, classes).float() * (1 - EPS) + EPS / classes
        return F.cross_entropy(z, (lam * s_a + (1 - lam) * s_b).to(z.dtype))

    return {
        "fused": lambda: mixup_cross_entropy(z, a, b, lam, EPS),
        "dense_soft_targets": dense,
        "two_ce": lambda: lam * F.cross_entropy(z, a, label_smoothing=EPS) + (1 - lam) * F.cross_entropy(z, b, label_smoothing=EPS),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json")
    args = parser.parse_args()
    needs.device_or_exit("bench.loss_report", args.device)
    device, rows = args.device, []
    timer = time_cuda_ms if device == "cuda" else time_cpu_ms
    for batch, classes in SHAPES if device == "cuda" else SHAPES[:1]:
        for dtype in (torch.bfloat16, torch.float32):
            g = torch.Generator().manual_seed(0)
            z = torch.randn(batch, classes, generator=g).to(device=device, dtype=dtype).requires_grad_()
            a = torch.randint(0, classes, (batch,), generator=g).to(device)
            b = torch.randint(0, classes, (batch,), generator=g).to(device)
            lam = torch.tensor(0.7, device=device)
            case = f"{batch}x{classes}-{str(dtype).removeprefix('torch.')}"
            fused_ms = None
            for name, loss_fn in providers(z, a, b, lam).items():
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
                rows.append(dict(case=case, provider=name, ms=ms, gbps=moved / (ms * 1e-3) / 1e9, x_fused=ms / fused_ms, peak_mib=peak))
    print("| case | provider | ms (fwd+bwd) | GB/s | × fused | peak extra MiB |\n|---|---|---:|---:|---:|---:|")
    for r in rows:
        peak = "n/a" if r["peak_mib"] is None else f"{r['peak_mib']:.1f}"
        print(f"| {r['case']} | {r['provider']} | {r['ms']:.4f} | {r['gbps']:.0f} | {r['x_fused']:.2f} | {peak} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device=torch.cuda.get_device_name() if device == "cuda" else "cpu", torch=torch.__version__, commit=commit(), rows=rows), f, indent=2)


if __name__ == "__main__":
    main()

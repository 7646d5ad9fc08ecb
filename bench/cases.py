"""Benchmark cases and providers, shared by the pytest-benchmark suite
(bench/test_bench_fused_mix.py) and the ratio report (bench/report.py).

A case builds its inputs once (``setup``); a provider turns them into a
zero-argument callable to time. Every provider computes the same mix: the
fused op, the pure-PyTorch reference, and torch.compile of the reference.
``clone`` is the floor: it reads x once and writes it once, as any mix must.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

import mixup_ext
from mixup_ext import reference

NUM_CLASSES = 1000
SMOOTHING = 0.1


@dataclass(frozen=True)
class Case:
    name: str
    shape: tuple
    dtype: torch.dtype
    channels_last: bool = False
    cutmix: bool = False  # per-sample boxes instead of a plain blend

    @property
    def id(self) -> str:
        return f"{self.name}-{'cutmix' if self.cutmix else 'mixup'}"

    def bytes_moved(self, x: torch.Tensor) -> int:
        """The floor's bytes: x read once and the output written once."""
        return 2 * x.numel() * x.element_size()


CUDA_CASES = [
    Case("256x3x224x224-fp32", (256, 3, 224, 224), torch.float32),
    Case("256x3x224x224-fp32", (256, 3, 224, 224), torch.float32, cutmix=True),
    Case("256x3x224x224-bf16-cl", (256, 3, 224, 224), torch.bfloat16, channels_last=True),
    Case("256x3x224x224-bf16-cl", (256, 3, 224, 224), torch.bfloat16, channels_last=True, cutmix=True),
    Case("128x3x32x32-fp32", (128, 3, 32, 32), torch.float32),
    Case("1024x4096-bf16", (1024, 4096), torch.bfloat16),
]
CPU_CASES = [
    Case("128x3x32x32-fp32", (128, 3, 32, 32), torch.float32),
    Case("128x3x32x32-fp32", (128, 3, 32, 32), torch.float32, cutmix=True),
    Case("64x3x224x224-fp32", (64, 3, 224, 224), torch.float32),
]


def setup(case: Case, device: str, seed: int = 0) -> dict:
    g = torch.Generator(device="cpu").manual_seed(seed)
    batch = case.shape[0]
    x = torch.randn(case.shape, generator=g).to(device=device, dtype=case.dtype)
    if case.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    box = None
    if case.cutmix:
        height, width = case.shape[-2], case.shape[-1]
        side = (torch.rand(batch, generator=g) * 0.8 * min(height, width)).long()
        y0 = (torch.rand(batch, generator=g) * (height - side)).long()
        x0 = (torch.rand(batch, generator=g) * (width - side)).long()
        box = torch.stack([y0, y0 + side, x0, x0 + side], 1).to(device)
    return dict(
        x=x,
        target=torch.randint(0, NUM_CLASSES, (batch,), generator=g).to(device),
        index=torch.randperm(batch, generator=g).to(device),
        lam=torch.rand(batch, generator=g).to(device),
        box=box,
        grad=torch.randn(case.shape, generator=g).to(device=device, dtype=case.dtype).contiguous(
            memory_format=torch.channels_last if case.channels_last else torch.contiguous_format
        ),
    )


def _args(a):
    return a["x"], a["target"], a["index"], a["lam"], a["box"], NUM_CLASSES, SMOOTHING


_compiled_reference = None


def _compiled():
    global _compiled_reference
    if _compiled_reference is None:
        _compiled_reference = torch.compile(reference.fused_mix_op, fullgraph=True)
    return _compiled_reference


def _forward_backward(fn, a):
    x = a["x"].detach().requires_grad_()
    grad = a["grad"]

    def run():
        out, _ = fn(x, *_args(a)[1:])
        (g,) = torch.autograd.grad(out, x, grad)
        return g

    return run


PROVIDERS = {
    "clone": lambda a: lambda: a["x"].clone(),
    "fused": lambda a: lambda: torch.ops.mixup.fused_mix(*_args(a)),
    "reference": lambda a: lambda: reference.fused_mix_op(*_args(a)),
    "compiled_reference": lambda a: lambda: _compiled()(*_args(a)),
    "fused_fwd_bwd": lambda a: _forward_backward(torch.ops.mixup.fused_mix, a),
    "reference_fwd_bwd": lambda a: _forward_backward(reference.fused_mix_op, a),
}
FORWARD_PROVIDERS = ["clone", "fused", "reference", "compiled_reference"]
BACKWARD_PROVIDERS = ["fused_fwd_bwd", "reference_fwd_bwd"]


def backend() -> str:
    return mixup_ext.backend()

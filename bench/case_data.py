"""The benchmark cases and their inputs. Imports only torch, so that a
process that loads its own build of the kernels (bench/tune.py) can use the
same cases without importing mixup_ext (which would register the operator
library a second time)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

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
    def hidden_mix(self) -> bool:
        """Small enough per row to stand for hidden features in a model (the
        hidden_mix_* providers put a Linear layer on each side of the mix)."""
        per_row = 1
        for size in self.shape[1:]:
            per_row *= size
        return per_row <= 4096 and not self.cutmix

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
    Case("16x3x8x8-fp32", (16, 3, 8, 8), torch.float32),  # all overhead: the host path
    Case("128x3x32x32-fp32", (128, 3, 32, 32), torch.float32),
    Case("128x3x32x32-fp32", (128, 3, 32, 32), torch.float32, cutmix=True),
    Case("64x3x224x224-fp32", (64, 3, 224, 224), torch.float32),
]


def square_boxes(batch: int, height: int, width: int, g: torch.Generator) -> torch.Tensor:
    """(B, 4) per-sample CutMix boxes: squares of up to 0.8 of the shorter side."""
    side = (torch.rand(batch, generator=g) * 0.8 * min(height, width)).long()
    y0 = (torch.rand(batch, generator=g) * (height - side)).long()
    x0 = (torch.rand(batch, generator=g) * (width - side)).long()
    return torch.stack([y0, y0 + side, x0, x0 + side], 1)


def mix_arguments(x: torch.Tensor, cutmix: bool, g: torch.Generator) -> dict:
    """What a mix of x takes besides x: 1000-class ids, a random permutation,
    per-sample weights and, for CutMix, per-sample boxes (every suite's)."""
    batch, device = x.shape[0], x.device
    box = square_boxes(batch, x.shape[-2], x.shape[-1], g).to(device) if cutmix else None
    return dict(
        target=torch.randint(0, NUM_CLASSES, (batch,), generator=g).to(device),
        index=torch.randperm(batch, generator=g).to(device),
        lam=torch.rand(batch, generator=g).to(device),
        box=box,
    )


def setup(case: Case, device: str, seed: int = 0) -> dict:
    g = torch.Generator(device="cpu").manual_seed(seed)
    x = torch.randn(case.shape, generator=g).to(device=device, dtype=case.dtype)
    layout = torch.channels_last if case.channels_last else torch.contiguous_format
    x = x.contiguous(memory_format=layout)
    return dict(
        x=x,
        **mix_arguments(x, case.cutmix, g),
        grad=torch.randn(case.shape, generator=g).to(device=device, dtype=case.dtype).contiguous(memory_format=layout),
    )

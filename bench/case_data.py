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


# uint8 in, normalised and mixed out (the fused_mix_uint8 suite, bench.tune).
UINT8_MEAN = (0.485 * 255, 0.456 * 255, 0.406 * 255)  # timm's prefetcher constants, in 0-255 units
UINT8_STD = (0.229 * 255, 0.224 * 255, 0.225 * 255)


@dataclass(frozen=True)
class Uint8Case:
    shape: tuple
    out_dtype: torch.dtype
    channels_last: bool
    cutmix: bool

    @property
    def id(self) -> str:
        layout = "cl" if self.channels_last else "nchw"
        mix = "cutmix" if self.cutmix else "mixup"
        return f"{'x'.join(map(str, self.shape))}-u8-{str(self.out_dtype)[6:]}-{layout}-{mix}"


UINT8_BIG = (256, 3, 224, 224)
UINT8_CUDA_CASES = [
    Uint8Case(UINT8_BIG, out_dtype, channels_last, cutmix)
    for out_dtype in (torch.bfloat16, torch.float32)
    for channels_last in (True, False)
    for cutmix in (False, True)
] + [Uint8Case((128, 3, 32, 32), torch.bfloat16, False, False), Uint8Case((128, 3, 32, 32), torch.bfloat16, True, True)]


def uint8_setup(case: Uint8Case, device: str, seed: int = 0) -> dict:
    """A random uint8 batch in the case's layout, its mix arguments, and
    mean/std as (1, C, 1, 1) tensors."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, case.shape, generator=g, dtype=torch.uint8).to(device)
    if case.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return dict(
        x=x,
        **mix_arguments(x, case.cutmix, g),
        mean=torch.tensor(UINT8_MEAN, device=device).view(1, 3, 1, 1),
        std=torch.tensor(UINT8_STD, device=device).view(1, 3, 1, 1),
    )


def uint8_formula(x, index, lam, box, mean, std, out_dtype):
    """The mix as a user writes it: a blend, and a pasted box where box[i] is
    a box (not NO_BOX), normalised and converted once."""
    xf = x.float()
    partner = xf[index]
    w = lam.view(-1, 1, 1, 1)
    mixed = w * xf + (1 - w) * partner
    if box is not None:
        rows = torch.arange(x.shape[2], device=x.device).view(1, -1, 1)
        cols = torch.arange(x.shape[3], device=x.device).view(1, 1, -1)
        b = box.view(-1, 4, 1, 1)
        inside = (rows >= b[:, 0]) & (rows < b[:, 1]) & (cols >= b[:, 2]) & (cols < b[:, 3])
        pasted = torch.where(inside[:, None], partner, xf)
        mixed = torch.where((box[:, 0] >= 0).view(-1, 1, 1, 1), pasted, mixed)
    return ((mixed - mean) / std).to(out_dtype)

"""A uint8 loader feeding one Mixup call: what replaces timm's
FastCollateMixup + PrefetchLoader.

timm's default path mixes uint8 images on the CPU, one sample at a time, in
every loader worker (FastCollateMixup), then normalises them on the GPU in
separate float32 passes (PrefetchLoader). Here the loader only stacks uint8
images, and on the device one call mixes (Mixup/CutMix), normalises and
converts to bfloat16, in one pass, for a channels_last model and the fused
mixup cross-entropy:

    loader: Dataset of uint8 CHW images -> default_collate (or timm's fast_collate)
    device: x, y = mixup(x_uint8.to(device), y)      # mixed, normalised, bf16
            loss = loss_fn(model(x), y)                # (target, index, lam) form

The images come from timm's own prefetcher transform (``create_transform(...,
use_prefetcher=True)``, uint8 out) when timm and torchvision import, else
from PIL, converted as torchvision's PILToTensor does. The data are synthetic
(a coloured square per class on noise), so the example runs anywhere:

    python examples/uint8_loader.py [--steps 30] [--device cuda] [--workers 2]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torch.utils.data import DataLoader, Dataset, default_collate

import mixup_ext

CLASSES, SIDE = 10, 64
# ImageNet statistics in 0-255 units, as timm's prefetcher and FFCV use them.
MEAN = tuple(255 * m for m in (0.485, 0.456, 0.406))
STD = tuple(255 * s for s in (0.229, 0.224, 0.225))


def timm_uint8_transform():
    """timm's prefetcher-path eval transform (uint8 CHW out), or None."""
    try:
        from timm.data import create_transform
    except ImportError:  # timm absent, or installed without torchvision
        return None
    return create_transform(SIDE, is_training=False, use_prefetcher=True, crop_pct=1.0)


def pil_to_uint8_chw(image: Image.Image) -> torch.Tensor:
    """torchvision's PILToTensor: HWC uint8 -> CHW uint8, no scaling."""
    return torch.from_numpy(np.asarray(image, dtype=np.uint8).copy()).permute(2, 0, 1).contiguous()


class SyntheticImages(Dataset):
    """PIL images: class c is a square of colour c at a place set by c, on noise."""

    def __init__(self, size: int, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.labels = rng.integers(0, CLASSES, size)
        self.seeds = rng.integers(0, 2**31, size)
        self.colours = np.random.default_rng(1).integers(0, 256, (CLASSES, 3))
        self.transform = timm_uint8_transform()

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        rng = np.random.default_rng(self.seeds[i])
        label = int(self.labels[i])
        pixels = rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8)
        at = 4 + 5 * label
        pixels[at : at + 16, at : at + 16] = self.colours[label]
        image = Image.fromarray(pixels)
        if self.transform is not None:
            return torch.as_tensor(np.asarray(self.transform(image))), label  # uint8 CHW
        return pil_to_uint8_chw(image), label


def collate():
    """timm's fast_collate (plain stacking, no mixing) when it imports, else torch's."""
    try:
        from timm.data.loader import fast_collate
    except ImportError:
        return default_collate, "torch default_collate"
    return fast_collate, "timm fast_collate"


def model() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(3, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, CLASSES),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)

    collate_fn, collate_name = collate()
    data = SyntheticImages(args.batch * args.steps)
    loader = DataLoader(
        data,
        batch_size=args.batch,
        shuffle=True,
        num_workers=args.workers,
        collate_fn=collate_fn,
        drop_last=False,
        pin_memory=device.type == "cuda",
    )
    net = model().to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    # One call per batch: draw, mix (Mixup or CutMix per sample), normalise, convert.
    mixup = mixup_ext.Mixup(
        mixup_alpha=0.8,
        cutmix_alpha=1.0,
        mode="elem",
        label_smoothing=0.1,
        num_classes=CLASSES,
        target_form="index",
        mean=MEAN,
        std=STD,
        out_dtype=torch.bfloat16,
    )
    loss_fn = mixup_ext.MixupCrossEntropy(label_smoothing=0.1)
    print(
        f"images: {'timm create_transform(use_prefetcher=True)' if data.transform else 'PIL -> uint8'}; "
        f"collate: {collate_name}; device: {device}"
    )

    start, step = time.perf_counter(), 0
    for images, labels in loader:
        assert images.dtype == torch.uint8  # the loader never touches floats
        images = images.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)
        labels = torch.as_tensor(labels).to(device, non_blocking=True)
        x, target = mixup(images, labels)  # bf16, channels_last, normalised and mixed
        with torch.autocast(device.type, dtype=torch.bfloat16):
            logits = net(x)
        loss = loss_fn(logits.float(), target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        if step == 1 or step % 10 == 0:
            print(f"step {step:4d}  input {tuple(x.shape)} {x.dtype}  loss {loss.item():.3f}")
    print(f"{step} steps in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

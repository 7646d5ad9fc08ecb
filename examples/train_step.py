"""Mixup and CutMix with one fused op in an ordinary training loop.

Trains a small CNN for a few hundred steps on a synthetic 10-class image task
(each class is a random 16x16 pattern seen through heavy noise), mixing every
batch with ``mixup_ext.fused_mix``. The library's sampler draws the op's
arguments: per-sample weights from Beta(a, a), a random partner per sample
and, for half the samples, a CutMix box (timm's rule, with the area-corrected
weight) -- in one launch on the device, no host sync. ``mixer(x, y)`` would
draw and mix in one call; the two steps are apart here to show what the op
takes. Prints the loss and the held-out accuracy.

    python examples/train_step.py [--steps 600] [--device cuda]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import mixup_ext

CLASSES, SIDE = 10, 16


def make_data(n: int, templates: torch.Tensor, g: torch.Generator):
    labels = torch.randint(0, CLASSES, (n,), generator=g)
    images = templates[labels] + 1.5 * torch.randn(n, 1, SIDE, SIDE, generator=g)
    return images, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--alpha", type=float, default=0.4)
    parser.add_argument("--smoothing", type=float, default=0.1)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    cpu = torch.Generator().manual_seed(args.seed)
    device_rng = torch.Generator(device=args.device).manual_seed(args.seed)
    templates = torch.randn(CLASSES, 1, SIDE, SIDE, generator=cpu)
    train_x, train_y = make_data(8192, templates, cpu)
    test_x, test_y = make_data(2048, templates, cpu)
    train_x, train_y = train_x.to(args.device), train_y.to(args.device)

    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(64, CLASSES),
    ).to(args.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    mixer = mixup_ext.Mixup(
        mixup_alpha=args.alpha,
        cutmix_alpha=1.0,
        switch_prob=0.5,
        mode="elem",
        pairing="random",
        label_smoothing=args.smoothing,
        num_classes=CLASSES,
        generator=device_rng,
    )

    print(f"mixup_ext backend: {mixup_ext.backend()}, device: {args.device}")
    start = time.perf_counter()
    for step in range(1, args.steps + 1):
        rows = torch.randint(0, train_x.shape[0], (args.batch,), device=args.device, generator=device_rng)
        x, y = train_x[rows], train_y[rows]
        mix = mixer.sample(x)  # MixParams(index, lam, box): device tensors; box rows of -1 blend
        mixed_x, mixed_y = mixup_ext.fused_mix(x, y, mix.index, mix.lam, mix.box, CLASSES, args.smoothing)
        loss = torch.sum(-mixed_y * F.log_softmax(model(mixed_x), dim=-1), dim=-1).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if step % 50 == 0:
            print(f"step {step:4d}  mixed-target loss {loss.item():.3f}")

    model.eval()
    with torch.no_grad():
        accuracy = (model(test_x.to(args.device)).argmax(-1).cpu() == test_y).float().mean().item()
    print(f"held-out accuracy {accuracy:.1%} after {args.steps} steps in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

"""Train a small CNN three ways -- no mixing, Mixup, and Mixup + CutMix per
element -- on scikit-learn's bundled handwritten digits, with the fused op
and the fused loss, and show what happened: a results table and a picture.

    python -m mixup_ext.demo                     # CPU or CUDA, about a minute on 2 CPU cores
    python -m mixup_ext.demo --quick             # a few epochs, for CI
    torchrun --nproc_per_node=2 -m mixup_ext.demo --ddp   # DistributedDataParallel (gloo on CPU, NCCL on GPUs)
    python -m mixup_ext.demo --data PATH         # your own ImageFolder tree (needs torchvision)

Needs the demo extra: ``pip install --no-build-isolation -e ".[demo]"``.
"""

from __future__ import annotations

import argparse
import math
import os
import time
from dataclasses import dataclass, field

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

import mixup_ext
from mixup_ext import Mixup, MixupCrossEntropy, mixup_cross_entropy

ECE_BINS = 15


# --------------------------------------------------------------------------- data


def load_digits_split(seed: int):
    """sklearn's 1797 bundled 8x8 digits, a fixed stratified 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.int64)
    train_idx, test_idx = train_test_split(
        torch.arange(len(labels)).numpy(), test_size=0.25, random_state=0, stratify=labels.numpy()
    )
    return images[train_idx], labels[train_idx], images[test_idx], labels[test_idx], 10


def load_image_folder(path: str, seed: int, size: int = 32):
    """An ImageFolder tree (one folder per class), resized to size x size, split 80/20."""
    try:
        from torchvision import datasets, transforms
    except ImportError as e:
        raise SystemExit("--data needs torchvision: pip install torchvision") from e
    dataset = datasets.ImageFolder(path, transform=transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()]))
    images = torch.stack([image for image, _ in dataset])
    labels = torch.tensor(dataset.targets, dtype=torch.int64)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    cut = int(0.8 * len(labels))
    return images[order[:cut]], labels[order[:cut]], images[order[cut:]], labels[order[cut:]], len(dataset.classes)


# -------------------------------------------------------------------------- model


def make_model(channels: int, classes: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(128, classes),
    )


# ------------------------------------------------------------------- distributed


@dataclass
class World:
    rank: int = 0
    size: int = 1

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.size > 1:
            dist.all_reduce(t)
        return t

    def max(self, value: float, device) -> float:
        t = torch.tensor([value], dtype=torch.float64, device=device)
        if self.size > 1:
            dist.all_reduce(t, op=dist.ReduceOp.MAX)
        return float(t)


def setup_world(use_ddp: bool, device: str) -> World:
    if not use_ddp:
        return World()
    if "RANK" not in os.environ:
        raise SystemExit("--ddp needs a launcher: torchrun --nproc_per_node=N -m mixup_ext.demo --ddp")
    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return World(dist.get_rank(), dist.get_world_size())


# ---------------------------------------------------------------------- training


@dataclass
class RunResult:
    name: str
    accuracy: list = field(default_factory=list)
    nll: list = field(default_factory=list)
    ece: float = float("nan")
    seconds_per_epoch: float = float("nan")


@torch.no_grad()
def evaluate(model, images, labels, world: World, batch: int = 512):
    """Accuracy, NLL and expected calibration error, summed over every rank's shard."""
    model.eval()
    device = images.device
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # correct, nll sum, count
    bins = torch.zeros(3, ECE_BINS, dtype=torch.float64, device=device)  # count, confidence sum, correct sum
    for start in range(0, len(labels), batch):
        logits = model(images[start:start + batch]).float()
        y = labels[start:start + batch]
        probs = logits.softmax(-1)
        confidence, prediction = probs.max(-1)
        correct = (prediction == y).double()
        totals += torch.stack([correct.sum(), F.cross_entropy(logits, y, reduction="sum").double(), torch.tensor(float(len(y)), device=device)])
        which = (confidence * ECE_BINS).long().clamp_max(ECE_BINS - 1)
        for row, values in enumerate((torch.ones_like(correct), confidence.double(), correct)):
            bins[row].index_add_(0, which, values)
    world.sum(totals)
    world.sum(bins)
    count = totals[2].clamp_min(1)
    ece = ((bins[1] - bins[2]).abs().sum() / count).item()  # sum over bins of |conf - acc| * n_b / N
    model.train()
    return (totals[0] / count).item(), (totals[1] / count).item(), ece


def train_one(name, mixup: Mixup | None, data, args, world: World, device) -> tuple[RunResult, torch.Tensor | None]:
    train_x, train_y, test_x, test_y, classes = data
    torch.manual_seed(args.seed)  # the same initial weights for every run
    model = make_model(train_x.shape[1], classes).to(device)
    if world.size > 1:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    steps_per_epoch = math.ceil(len(train_y) / args.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=args.epochs * steps_per_epoch)
    criterion = MixupCrossEntropy(label_smoothing=args.smoothing)
    order_gen = torch.Generator().manual_seed(args.seed + 7919 * world.rank)
    result, example = RunResult(name), None
    epoch_seconds = []

    for epoch in range(args.epochs):
        start = time.perf_counter()
        order = torch.randperm(len(train_y), generator=order_gen).to(device)
        batches = range(0, len(train_y), args.batch_size)
        progress = _progress(batches, f"{name:>16} epoch {epoch + 1:>2}/{args.epochs}", world)
        for first in progress:
            rows = order[first:first + args.batch_size]
            x, y = train_x[rows], train_y[rows]
            if mixup is None:
                loss = mixup_cross_entropy(model(x), y, y, 1.0, args.smoothing)
            else:
                x, targets = mixup(x, y)  # targets = (y, index, lam): the loss mixes the labels itself
                loss = criterion(model(x), targets)
                if example is None and world.main:
                    example = (x[:16].detach().cpu(), y[:16].cpu(), y[targets[1][:16]].cpu(), targets[2][:16].cpu())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if hasattr(progress, "set_postfix"):
                progress.set_postfix(loss=f"{loss.item():.3f}")
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        epoch_seconds.append(world.max(time.perf_counter() - start, device))
        accuracy, nll, ece = evaluate(model, test_x, test_y, world)
        result.accuracy.append(accuracy)
        result.nll.append(nll)
        result.ece = ece
    result.seconds_per_epoch = sum(epoch_seconds[1:] or epoch_seconds) / len(epoch_seconds[1:] or epoch_seconds)
    return result, example


def _progress(iterable, description: str, world: World):
    if not world.main:
        return iterable
    from tqdm import tqdm

    return tqdm(iterable, desc=description, leave=False, unit="batch", dynamic_ncols=True)


# ------------------------------------------------------------------------ output


def results_table(results: list[RunResult], backend: str, device, world: World) -> str:
    lines = [
        "| run | test accuracy | test NLL | ECE | s / epoch | backend |",
        "|---|---:|---:|---:|---:|---|",
    ]
    where = f"{backend}, {device.type}" + (f" x{world.size} ranks" if world.size > 1 else "")
    for r in results:
        lines.append(f"| {r.name} | {r.accuracy[-1]:.2%} | {r.nll[-1]:.4f} | {r.ece:.4f} | {r.seconds_per_epoch:.3f} | {where} |")
    return "\n".join(lines)


def draw(results: list[RunResult], example, classes: int, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(13, 8.5), constrained_layout=True)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.15, 1])
    top.suptitle("Mixed training samples (Mixup + CutMix, elem mode): classes and weights")
    images, own, partner, lam = example
    grid = top.subplots(2, 8)
    for k, ax in enumerate(grid.flat):
        image = images[k].float()
        ax.imshow(image[0] if image.shape[0] == 1 else image.permute(1, 2, 0).clamp(0, 1), cmap="gray_r", interpolation="nearest")
        ax.set_title(f"{int(own[k])} ({float(lam[k]):.2f}) + {int(partner[k])} ({1 - float(lam[k]):.2f})", fontsize=8)
        ax.axis("off")
    curves = bottom.subplots(1, 2)
    epochs = range(1, len(results[0].accuracy) + 1)
    for r in results:
        curves[0].plot(epochs, [100 * a for a in r.accuracy], label=r.name)
        curves[1].plot(epochs, r.nll, label=r.name)
    curves[0].set(xlabel="epoch", ylabel="test accuracy (%)", title="Test accuracy")
    curves[1].set(xlabel="epoch", ylabel="test NLL", title="Test negative log-likelihood", yscale="log")
    for ax in curves:
        ax.grid(alpha=0.3)
        ax.legend()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# -------------------------------------------------------------------------- main


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog="python -m mixup_ext.demo", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--out", default="mixup_demo.png", help="where to write the picture")
    parser.add_argument("--mixup-alpha", type=float, default=0.4)
    parser.add_argument("--cutmix-alpha", type=float, default=1.0)
    parser.add_argument("--mode", choices=["batch", "pair", "elem"], default="elem", help="mode of the Mixup + CutMix run")
    parser.add_argument("--smoothing", type=float, default=0.0, help="label smoothing of every run (0: mixing is the only difference)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="3 epochs, for CI")
    parser.add_argument("--data", help="an ImageFolder tree to train on instead of the digits (needs torchvision)")
    parser.add_argument("--ddp", action="store_true", help="DistributedDataParallel under torchrun")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = min(args.epochs, 3)
    return args


def main(argv=None) -> list[RunResult]:
    args = parse_args(argv)
    world = setup_world(args.ddp, args.device)
    device = torch.device(args.device)
    if device.type == "cuda" and world.size > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    try:
        data = load_image_folder(args.data, args.seed) if args.data else load_digits_split(args.seed)
        train_x, train_y, test_x, test_y, classes = data
        # Each rank trains on its own shard and evaluates on its own slice of the test set.
        shard = slice(world.rank, None, world.size)
        data = (train_x[shard].to(device), train_y[shard].to(device), test_x[shard].to(device), test_y[shard].to(device), classes)

        def mixer(mixup_alpha, cutmix_alpha, mode):
            # Each rank draws from its own stream.
            g = torch.Generator(device=device).manual_seed(args.seed * 1000 + world.rank)
            return Mixup(mixup_alpha, cutmix_alpha, mode=mode, label_smoothing=0.0, num_classes=classes, generator=g, target_form="index")

        runs = [
            ("no mixing", None),
            ("Mixup", mixer(args.mixup_alpha, 0.0, "batch")),
            (f"Mixup+CutMix {args.mode}", mixer(args.mixup_alpha, args.cutmix_alpha, args.mode)),
        ]
        results, example = [], None
        for name, mixup in runs:
            result, sample = train_one(name, mixup, data, args, world, device)
            results.append(result)
            example = sample if sample is not None else example
        if world.main:
            source = args.data or "sklearn digits (1797 8x8 images)"
            print(f"\n{source}: {len(train_y)} train / {len(test_y)} test, {args.epochs} epochs, seed {args.seed}\n")
            print(results_table(results, mixup_ext.backend(), device, world))
            draw(results, example, classes, args.out)
            print(f"\nwrote {args.out}")
        return results
    finally:
        if world.size > 1:
            dist.destroy_process_group()


if __name__ == "__main__":
    main()

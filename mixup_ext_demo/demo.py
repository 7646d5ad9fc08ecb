"""What Mixup is for, in about a minute on two CPU cores.

A small CNN learns scikit-learn's bundled handwritten digits three ways -- no
mixing, Mixup, and Mixup + CutMix per element -- with the fused op and the
fused loss, in two scenarios: the clean labels, and the same training set with
40 % of its labels replaced by a random wrong class (test labels stay clean).
This is the corrupted-label experiment of the Mixup paper (Zhang et al., ICLR
2018, section 3.4): plain training memorizes the noise, mixing resists it.
It prints a table, draws a picture and saves the results beside it, by
default as mixup_demo/mixup_demo.png and mixup_demo/mixup_demo.json in the
working directory (--out picks another place; the results go beside it, a JSON
file with a fingerprint of the code that produced them: the README's and the
docs' demo table are rendered from the committed copy, and CI fails when the
code changed since it was made; see mixup_ext_demo/results.py).

    python -m mixup_ext.demo                     # CPU or CUDA
    python -m mixup_ext.demo --quick             # 3 epochs: a smoke run of every path, not the experiment
    python -m mixup_ext.demo --noise 0           # the clean scenario only
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
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

import mixup_ext
from mixup_ext import Mixup, MixupCrossEntropy, mixup_cross_entropy

from . import results as saved_results

ECE_BINS = 15
DEFAULT_PICTURE = "mixup_demo.png"
# A folder of its own in the working directory, not two loose files; ignored by
# the checkout's .gitignore, so a run from the clone leaves `git status` clean.
DEFAULT_OUT = f"mixup_demo/{DEFAULT_PICTURE}"
LOSS_EVERY = 10  # steps between reads of the loss for the progress bar (each read syncs with the device)


# --------------------------------------------------------------------------- data


@dataclass
class Data:
    train_x: torch.Tensor
    train_y: torch.Tensor
    test_x: torch.Tensor
    test_y: torch.Tensor
    classes: int
    source: str
    corrupted: torch.Tensor | None = None  # bool (N,): which training labels were replaced

    def to(self, device, shard: slice) -> Data:
        """This rank's slice of the training and test sets, on its device."""
        move = lambda t: None if t is None else t[shard].to(device)  # noqa: E731
        return Data(
            move(self.train_x),
            move(self.train_y),
            move(self.test_x),
            move(self.test_y),
            self.classes,
            self.source,
            move(self.corrupted),
        )


def load_digits_split() -> Data:
    """sklearn's 1797 bundled 8x8 digits, a fixed stratified 75/25 split."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.int64)
    train_idx, test_idx = train_test_split(
        torch.arange(len(labels)).numpy(), test_size=0.25, random_state=0, stratify=labels.numpy()
    )
    return Data(
        images[train_idx], labels[train_idx], images[test_idx], labels[test_idx], 10, "sklearn digits (1797 8x8 images)"
    )


def load_image_folder(path: str, seed: int, size: int = 32) -> Data:
    """An ImageFolder tree (one folder per class), resized to size x size, split 80/20."""
    from torchvision import datasets, transforms

    dataset = datasets.ImageFolder(
        path, transform=transforms.Compose([transforms.Resize((size, size)), transforms.ToTensor()])
    )
    images = torch.stack([image for image, _ in dataset])
    labels = torch.tensor(dataset.targets, dtype=torch.int64)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    cut = int(0.8 * len(labels))
    return Data(
        images[order[:cut]], labels[order[:cut]], images[order[cut:]], labels[order[cut:]], len(dataset.classes), path
    )


def with_label_noise(data: Data, fraction: float, seed: int) -> Data:
    """The same data with `fraction` of the training labels replaced by a
    uniformly drawn *different* class; the test labels stay clean."""
    g = torch.Generator().manual_seed(seed)
    count = round(fraction * len(data.train_y))
    chosen = torch.randperm(len(data.train_y), generator=g)[:count]
    noisy = data.train_y.clone()
    noisy[chosen] = (noisy[chosen] + torch.randint(1, data.classes, (count,), generator=g)) % data.classes
    corrupted = torch.zeros(len(noisy), dtype=torch.bool)
    corrupted[chosen] = True
    return Data(data.train_x, noisy, data.test_x, data.test_y, data.classes, data.source, corrupted)


# -------------------------------------------------------------------------- model


def make_model(channels: int, classes: int) -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(channels, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(64, 128, 3, padding=1),
        nn.BatchNorm2d(128),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Linear(128, classes),
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
    # Import torch.distributed.nn before the group exists. DDP imports it on
    # first use, and its functions take `group=group.WORLD` as a default
    # argument: imported after init, they pin the default group for good, so
    # destroy_process_group cannot free it and gloo's worker threads outlive
    # it (seen on torch 2.13). A worker that lets go of a Python tensor after
    # a rank's interpreter began to shut down aborts that rank ("terminate
    # called without an active exception"): 6 runs in 50 of a 15-line
    # DDP + all_reduce script on two cores, 0 in 30 with this import first.
    import torch.distributed.nn  # noqa: F401

    dist.init_process_group("nccl" if device.startswith("cuda") else "gloo")
    return World(dist.get_rank(), dist.get_world_size())


# ---------------------------------------------------------------------- training


@dataclass
class RunResult:
    scenario: str
    name: str
    accuracy: list = field(default_factory=list)
    nll: list = field(default_factory=list)
    ece: float = float("nan")
    memorized: float | None = None  # share of the corrupted training labels the model reproduces
    seconds_per_epoch: float = float("nan")


@torch.no_grad()
def evaluate(model, images, labels, world: World, batch: int = 512):
    """Accuracy, NLL and expected calibration error, summed over every rank's shard."""
    model.eval()
    device = images.device
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # correct, nll sum, count
    bins = torch.zeros(3, ECE_BINS, dtype=torch.float64, device=device)  # count, confidence sum, correct sum
    for start in range(0, len(labels), batch):
        logits = model(images[start : start + batch]).float()
        y = labels[start : start + batch]
        probs = logits.softmax(-1)
        confidence, prediction = probs.max(-1)
        correct = (prediction == y).double()
        totals += torch.stack(
            [
                correct.sum(),
                F.cross_entropy(logits, y, reduction="sum").double(),
                torch.tensor(float(len(y)), device=device),
            ]
        )
        which = (confidence * ECE_BINS).long().clamp_max(ECE_BINS - 1)
        for row, values in enumerate((torch.ones_like(correct), confidence.double(), correct)):
            bins[row].index_add_(0, which, values)
    world.sum(totals)
    world.sum(bins)
    count = totals[2].clamp_min(1)
    ece = ((bins[1] - bins[2]).abs().sum() / count).item()  # sum over bins of |conf - acc| * n_b / N
    model.train()
    return (totals[0] / count).item(), (totals[1] / count).item(), ece


@torch.no_grad()
def memorized_noise(model, data: Data, world: World) -> float:
    """The share of corrupted training samples the model labels with their
    corrupted class: how much of the noise it has learned by heart."""
    model.eval()
    x, y = data.train_x[data.corrupted], data.train_y[data.corrupted]
    hits = torch.stack(
        [(model(x).argmax(-1) == y).sum().double(), torch.tensor(float(len(y)), dtype=torch.float64, device=x.device)]
    )
    world.sum(hits)
    model.train()
    return (hits[0] / hits[1].clamp_min(1)).item()


def _boxes(params, batch: int) -> torch.Tensor:
    """(B, 4) box rows [y0, y1, x0, x1) of a draw: a CutMix paste, or
    mixup_ext.NO_BOX (-1) for a blend."""
    if params.box is None:
        return torch.full((batch, 4), -1, dtype=torch.int64)
    return params.box.expand(batch, 4) if params.box.dim() == 1 else params.box


def train_one(scenario: str, name: str, mixup: Mixup | None, data: Data, args, world: World, device):
    """Trains one model; returns its RunResult and (on rank 0, for mixed runs)
    16 mixed training samples with their classes and weights."""
    torch.manual_seed(args.seed)  # the same initial weights for every run
    model = make_model(data.train_x.shape[1], data.classes).to(device)
    if world.size > 1:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    train_count = len(data.train_y)
    steps_per_epoch = math.ceil(train_count / args.batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=5e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=3e-3, total_steps=args.epochs * steps_per_epoch)
    criterion = MixupCrossEntropy(label_smoothing=args.smoothing)
    order_gen = torch.Generator().manual_seed(args.seed + 7919 * world.rank)
    result, example = RunResult(scenario, name), None
    epoch_seconds = []

    for epoch in range(args.epochs):
        start = time.perf_counter()
        order = torch.randperm(train_count, generator=order_gen).to(device)
        progress = _progress(steps_per_epoch, f"{scenario:>6} {name:>18} epoch {epoch + 1:>2}/{args.epochs}", world)
        for step, first in enumerate(range(0, train_count, args.batch_size)):
            rows = order[first : first + args.batch_size]
            x, y = data.train_x[rows], data.train_y[rows]
            if mixup is None:
                loss = mixup_cross_entropy(model(x), y, y, 1.0, args.smoothing)
            else:
                params = mixup.sample(x)  # what mixup(x, y) draws, kept to mark pastes in the picture
                x, targets = mixup.apply(x, y, params)  # targets = (y, index, lam): the loss mixes the labels itself
                loss = criterion(model(x), targets)
                if example is None and world.main:
                    example = (
                        x[:16].detach().cpu(),
                        y[:16].cpu(),
                        y[targets[1][:16]].cpu(),
                        targets[2][:16].cpu(),
                        _boxes(params, len(y))[:16].cpu(),
                    )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            if progress is not None:
                if step % LOSS_EVERY == 0:
                    progress.set_postfix(loss=f"{loss.item():.3f}", refresh=False)
                progress.update(1)  # update() draws the current count with the postfix
        if progress is not None:
            progress.close()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        epoch_seconds.append(world.max(time.perf_counter() - start, device))
        accuracy, nll, ece = evaluate(model, data.test_x, data.test_y, world)
        result.accuracy.append(accuracy)
        result.nll.append(nll)
        result.ece = ece
    if data.corrupted is not None:
        result.memorized = memorized_noise(model, data, world)
    steady = epoch_seconds[1:] or epoch_seconds  # the first epoch pays for warm-up
    result.seconds_per_epoch = sum(steady) / len(steady)
    return result, example


def _progress(steps: int, description: str, world: World):
    if not world.main:
        return None
    from tqdm import tqdm

    return tqdm(total=steps, desc=description, leave=False, unit="batch", dynamic_ncols=True)


# ------------------------------------------------------------------------ output


def results_table(results: list[RunResult], backend: str, device, world: World) -> str:
    lines = [
        "| labels | run | test accuracy | test NLL | ECE | noise memorized | s / epoch | backend |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    where = f"{backend}, {device.type}" + (f" x{world.size} ranks" if world.size > 1 else "")
    for r in results:
        memorized = "—" if r.memorized is None else f"{r.memorized:.1%}"
        lines.append(
            f"| {r.scenario} | {r.name} | {r.accuracy[-1]:.2%} | {r.nll[-1]:.4f} | {r.ece:.4f} | {memorized} "
            f"| {r.seconds_per_epoch:.3f} | {where} |"
        )
    return "\n".join(lines)


def accuracy_limits(results: list[RunResult]) -> tuple[float, float]:
    """The y range of an accuracy panel: every epoch of every run, with a
    small margin, so no early epoch falls off the panel."""
    values = [100 * a for r in results for a in r.accuracy]
    low, high = min(values), max(values)
    margin = max(1.0, 0.05 * (high - low))
    return max(0.0, low - margin), min(100.0, high + margin)


def draw(results: list[RunResult], example, mode: str, path: Path, smoke: bool = False) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    scenarios = list(dict.fromkeys(r.scenario for r in results))
    fig = plt.figure(figsize=(14, 9), constrained_layout=True)
    top, bottom = fig.subfigures(2, 1, height_ratios=[1.1, 1])
    from matplotlib.patches import Rectangle

    top.suptitle(
        f"Mixed training samples (Mixup + CutMix, {mode} mode): CutMix pastes (the red box is the partner's) "
        "and blends, each as class (weight) + partner class (weight)"
    )
    if smoke:
        fig.suptitle("--quick: a smoke run of every code path, too short for the experiment", color="red")
    images, own, partner, lam, boxes = example
    grid = top.subplots(2, 8)
    for k, ax in enumerate(grid.flat):
        if k < len(images):
            image = images[k].float()
            ax.imshow(
                image[0] if image.shape[0] == 1 else image.permute(1, 2, 0).clamp(0, 1),
                cmap="gray_r",
                interpolation="nearest",
            )
            y0, y1, x0, x1 = (int(v) for v in boxes[k])
            kind = "paste" if y0 >= 0 else "blend"
            if kind == "paste" and y1 > y0 and x1 > x0:
                ax.add_patch(
                    Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, edgecolor="red", linewidth=1.5)
                )
            ax.set_title(
                f"{kind}: {int(own[k])} ({float(lam[k]):.2f}) + {int(partner[k])} ({1 - float(lam[k]):.2f})", fontsize=7
            )
        ax.axis("off")
    panels = bottom.subplots(1, len(scenarios) + 1)
    styles = ["-", "--", ":"]
    for ax, scenario in zip(panels, scenarios):
        runs = [r for r in results if r.scenario == scenario]
        for r in runs:
            ax.plot(range(1, len(r.accuracy) + 1), [100 * a for a in r.accuracy], label=r.name)
        ax.set(
            xlabel="epoch",
            ylabel="test accuracy (%)",
            title=f"Test accuracy, {scenario} training labels",
            ylim=accuracy_limits(runs),
        )
    nll = panels[-1]
    for r in results:
        color = f"C{[q.name for q in results if q.scenario == r.scenario].index(r.name)}"
        nll.plot(
            range(1, len(r.nll) + 1),
            r.nll,
            color=color,
            linestyle=styles[scenarios.index(r.scenario) % 3],
            label=f"{r.name}, {r.scenario}",
        )
    nll.set(xlabel="epoch", ylabel="test NLL", title="Test negative log-likelihood", yscale="log")
    from matplotlib.ticker import MaxNLocator

    for ax in panels:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole: no 1.5 on a 3-epoch run
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------- arguments


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """--help keeps the module docstring's layout and shows every default."""


def _checked(convert, accepts, expected: str):
    """An argparse type: converts the text and checks it, else one message
    naming what was expected (argparse adds the flag)."""

    def parse(text: str):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not accepts(value):
            raise argparse.ArgumentTypeError(f"must be {expected}, got {text!r}")
        return value

    return parse


_fraction = _checked(float, lambda v: 0 <= v < 1, "in [0, 1)")
_positive_int = _checked(int, lambda v: v >= 1, "an integer >= 1")
_non_negative = _checked(float, lambda v: v >= 0, "a number >= 0")


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m mixup_ext.demo", description=__doc__, formatter_class=_HelpFormatter
    )
    parser.add_argument("--epochs", type=_positive_int, default=40, help="epochs per run")
    parser.add_argument("--batch-size", type=_positive_int, default=64, help="samples per step")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu", help="cpu, cuda or cuda:N")
    parser.add_argument(
        "--out",
        default=DEFAULT_OUT,
        help=f"the picture: a file (.png, .pdf, .svg), or a folder to write {DEFAULT_PICTURE} into",
    )
    parser.add_argument(
        "--mixup-alpha",
        type=_non_negative,
        default=0.4,
        help="Beta(alpha, alpha) of the Mixup weights (0: no Mixup run)",
    )
    parser.add_argument(
        "--cutmix-alpha", type=_non_negative, default=1.0, help="Beta(alpha, alpha) of the CutMix weights"
    )
    parser.add_argument(
        "--mode", choices=["batch", "pair", "elem"], default="elem", help="mode of the Mixup + CutMix run"
    )
    parser.add_argument(
        "--smoothing",
        type=_fraction,
        default=0.0,
        help="label smoothing of every run (0: mixing is the only difference)",
    )
    parser.add_argument(
        "--noise",
        type=_fraction,
        default=0.4,
        help="share of training labels replaced by a wrong class in the noisy scenario (0: clean only)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seeds the weights, the order, the draws and the noise")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="at most 3 epochs: a smoke run of every code path (CI), too short for the experiment",
    )
    parser.add_argument("--results", help="where to save the results as JSON (default: beside the picture, .json)")
    parser.add_argument("--data", help="an ImageFolder tree to train on instead of the digits (needs torchvision)")
    parser.add_argument("--ddp", action="store_true", help="DistributedDataParallel under torchrun")
    args = parser.parse_args(argv)
    if args.quick:
        args.epochs = min(args.epochs, 3)
    if args.mixup_alpha == 0 and args.cutmix_alpha == 0:
        parser.error("--mixup-alpha and --cutmix-alpha are both 0: nothing to mix")
    args.device = _check_device(parser, args.device)
    args.out = _picture_path(parser, args.out)
    args.results = Path(args.results) if args.results else args.out.with_suffix(".json")
    if args.data is not None:
        _check_data(parser, args.data)
    return args


def argv_of(args) -> str:
    """The command that reproduces a run, for its results file."""
    quick = " --quick" if args.quick else ""
    return f"python -m mixup_ext.demo --epochs {args.epochs} --seed {args.seed} --noise {args.noise}{quick}"


def _check_device(parser, name: str) -> str:
    """Every flag is checked before any training, so a bad one costs nothing."""
    try:
        device = torch.device(name)
    except RuntimeError:
        parser.error(f"--device {name!r} is not a device: use cpu, cuda or cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            parser.error(
                f"--device {name}: this machine has no usable CUDA GPU (torch {torch.__version__}); use --device cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            parser.error(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) visible")
    elif device.type != "cpu":
        parser.error(f"--device {name!r}: the demo runs on cpu or cuda")
    return name


def _picture_path(parser, out: str) -> Path:
    """Where the picture goes: a folder (existing, or written with a trailing
    slash) gets mixup_demo.png inside; a file needs a picture suffix. The
    folder is created now, so the run cannot end in a failed save."""
    path = Path(out)
    if out.endswith(("/", os.sep)) or path.is_dir():
        path = path / DEFAULT_PICTURE
    if path.suffix.lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        parser.error(f"--out {out!r}: give a .png, .pdf, .svg or .jpg file, or a folder (end it with / to create one)")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        parser.error(f"--out {out!r}: cannot create the folder {path.parent}: {e.strerror}")
    if not os.access(path.parent, os.W_OK):
        parser.error(f"--out {out!r}: the folder {path.parent} is not writable")
    return path


def _check_data(parser, data: str) -> None:
    if not Path(data).is_dir():
        parser.error(f"--data {data!r}: no such folder (give an ImageFolder tree: one subfolder per class)")
    try:
        import torchvision  # noqa: F401
    except ImportError:
        parser.error("--data needs torchvision, which is not installed: pip install torchvision")


# -------------------------------------------------------------------------- main


def main(argv=None) -> list[RunResult]:
    args = parse_args(argv)
    world = setup_world(args.ddp, args.device)
    device = torch.device(args.device)
    if device.type == "cuda" and world.size > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        torch.cuda.set_device(device)
    try:
        clean = load_image_folder(args.data, args.seed) if args.data else load_digits_split()
        scenarios = [("clean", clean)]
        if args.noise > 0:
            scenarios.append((f"{args.noise:.0%} noisy", with_label_noise(clean, args.noise, args.seed)))

        def mixer(mixup_alpha, cutmix_alpha, mode):
            # Each rank draws from its own stream.
            g = torch.Generator(device=device).manual_seed(args.seed * 1000 + world.rank)
            return Mixup(
                mixup_alpha,
                cutmix_alpha,
                mode=mode,
                label_smoothing=0.0,
                num_classes=clean.classes,
                generator=g,
                target_form="index",
            )

        runs = [("no mixing", lambda: None)]
        if args.mixup_alpha > 0:
            runs.append(("Mixup", lambda: mixer(args.mixup_alpha, 0.0, "batch")))
        runs.append((f"Mixup+CutMix {args.mode}", lambda: mixer(args.mixup_alpha, args.cutmix_alpha, args.mode)))

        shard = slice(world.rank, None, world.size)  # each rank trains and evaluates on its own slice
        results, example = [], None
        for scenario, data in scenarios:
            local = data.to(device, shard)
            for name, make in runs:
                result, sample = train_one(scenario, name, make(), local, args, world, device)
                results.append(result)
                if scenario == "clean" and name == runs[-1][0]:
                    example = sample  # the picture shows the Mixup + CutMix run's samples, clean labels
        if world.main:
            setup = (
                f"{clean.source}: {len(clean.train_y)} train / {len(clean.test_y)} test, {args.epochs} epochs, "
                f"seed {args.seed}"
            )
            print(f"\n{setup}\n")
            print(results_table(results, mixup_ext.backend(), device, world))
            if args.quick:
                print(
                    "\n--quick: 3 epochs is a smoke run of every code path, not the experiment. The story -- plain "
                    "training memorizing the noisy labels while mixing resists -- takes the default 40 epochs: the "
                    "unmixed model starts fitting the noise only after its first ten or so."
                )
            draw(results, example, args.mode, args.out, smoke=args.quick)
            where = f"{mixup_ext.backend()} backend on {device.type}" + (
                f" x{world.size} ranks" if world.size > 1 else ""
            )
            saved_results.save(args.results, results, f"{setup}, {where}", argv_of(args))
            print(f"\nwrote {args.out} and {args.results}")
        return results
    finally:
        if world.size > 1:
            dist.destroy_process_group()


if __name__ == "__main__":
    main()

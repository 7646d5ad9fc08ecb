"""timm's NaFlex training path with mixup_ext.NaFlexMixup swapped in.

``train.py --naflex-loader`` builds ``NaFlexMixup(**mixup_args)`` and hands it
to ``create_naflex_loader(..., mixup_fn=...)``, whose dataset wrapper calls it
on every batch's list of variable-size images inside the loader workers. This
script runs that same path on a small folder of random images of random
sizes: timm's real ``create_dataset`` (an image folder), ``create_naflex_loader``
(aspect-preserving resizes, sequence-length bucketing, patchify, prefetcher),
a ``naflexvit`` model and ``SoftTargetCrossEntropy``, with mixup_ext's
``NaFlexMixup`` as the one changed line (``--mixer timm`` runs timm's own).

    python examples/naflex_train.py --steps 20            # needs full timm + torchvision + Pillow
    python examples/naflex_train.py --mixer timm --steps 20

It prints the loss every few steps and, last, "N steps in S s".
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch


def make_image_folder(root: str, classes: int, per_class: int, seed: int) -> None:
    from PIL import Image

    g = torch.Generator().manual_seed(seed)
    for c in range(classes):
        folder = os.path.join(root, "train", f"class_{c}")
        os.makedirs(folder, exist_ok=True)
        for k in range(per_class):
            h, w = (int(v) for v in torch.randint(64, 320, (2,), generator=g))
            pixels = torch.randint(0, 256, (h, w, 3), generator=g, dtype=torch.uint8)
            pixels[..., c % 3] //= 2  # a faint per-class colour cue, so there is something to learn
            Image.fromarray(pixels.numpy()).save(os.path.join(folder, f"{k}.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mixer", choices=["mixup_ext", "timm"], default="mixup_ext")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--classes", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--model", default="naflexvit_base_patch16_gap")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()

    import timm
    from timm.data import create_dataset, create_naflex_loader
    from timm.loss import SoftTargetCrossEntropy

    # train.py's mixup_args, less 'mode' and 'cutmix_minmax', which it pops for NaFlex.
    mixup_args = dict(
        mixup_alpha=0.8, cutmix_alpha=1.0, prob=1.0, switch_prob=0.5, label_smoothing=0.1, num_classes=args.classes
    )
    if args.mixer == "mixup_ext":
        from mixup_ext import NaFlexMixup  # the one-line swap for `from timm.data import NaFlexMixup`
    else:
        from timm.data import NaFlexMixup
    naflex_mixup_fn = NaFlexMixup(**mixup_args)

    with tempfile.TemporaryDirectory() as root:
        make_image_folder(root, args.classes, per_class=24, seed=0)
        dataset = create_dataset("", root=root, split="train", is_training=True)
        device = torch.device(args.device)
        loader = create_naflex_loader(
            dataset,
            patch_size=16,
            train_seq_lens=(64, 128, 256),
            max_seq_len=256,
            batch_size=32,
            is_training=True,
            mixup_fn=naflex_mixup_fn,
            num_workers=args.workers,
            device=device,
            use_prefetcher=device.type == "cuda",
            pin_memory=device.type == "cuda",
        )
        model = timm.create_model(args.model, num_classes=args.classes).to(device)
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        loss_fn = SoftTargetCrossEntropy()
        print(f"{args.mixer} NaFlexMixup, {len(dataset)} images, model {args.model} on {device}")
        step, start = 0, time.perf_counter()
        while step < args.steps:
            for inputs, targets in loader:
                if not isinstance(inputs, dict):
                    inputs = inputs.to(device)
                else:
                    inputs = {k: v.to(device) if torch.is_tensor(v) else v for k, v in inputs.items()}
                targets = targets.to(device)
                assert targets.dim() == 2 and targets.shape[1] == args.classes, targets.shape
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    loss = loss_fn(model(inputs), targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                step += 1
                mixed_rows = int((targets.max(dim=1).values < 0.9).sum())
                if step % 5 == 0 or step == 1:
                    print(
                        f"step {step}: loss {loss.item():.4f}, batch {targets.shape[0]}, mixed target rows {mixed_rows}"
                    )
                if not torch.isfinite(loss):
                    raise SystemExit(f"loss is {loss.item()} at step {step}")
                if step >= args.steps:
                    break
        print(f"{step} steps in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()

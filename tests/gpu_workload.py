"""The compute-sanitizer's workload: every CUDA kernel of the extension once
per interesting configuration, each result held to the reference, so a
sanitized run also proves the instrumented kernels compute the right thing.

    python -m tests.gpu_workload          # on CUDA (what test_gpu_hardening runs under each tool)
    python -m tests.gpu_workload --light  # our ops alone, no reference comparisons

Under initcheck and synccheck it runs light: every torch kernel of the
reference comparisons slows those tools tenfold, and memcheck (which runs
the full workload) already proves the results. test_gpu_hardening also runs
it on the CPU, so the workload itself cannot rot between GPU runs.
"""

from __future__ import annotations

import argparse
import itertools

import torch

import mixup_ext
from mixup_ext import reference

from .helpers import FLOAT_DTYPES, acc_dtype, assert_close, generator, random_boxes

SHAPES = [
    ((5, 3, 7, 9), torch.contiguous_format),  # odd: one element per step
    ((6, 3, 8, 16), torch.channels_last),  # 16-byte packs
    ((4, 2, 6, 10), torch.contiguous_format),  # packs straddle lines
    ((5, 37), torch.contiguous_format),  # features
]


class Workload:
    def __init__(self, device: str, light: bool):
        self.device, self.light = device, light
        self.gen = generator(device, 0)
        self.seeds = itertools.count(1)

    def check(self, actual, expected, scale: float = 1.0) -> None:
        """actual against expected() (a function: skipped, not computed, when light)."""
        if not self.light:
            assert_close(actual, expected(), equal_nan=True, scale=scale)

    def boxes(self, batch, height, width):
        return random_boxes(batch, height, width, self.device, seed=next(self.seeds))

    def randint(self, high, shape, dtype=torch.int64):
        return torch.randint(0, high, shape, device=self.device, generator=self.gen).to(dtype)

    def rand(self, *shape, dtype=torch.float32):
        return torch.rand(*shape, device=self.device, generator=self.gen, dtype=dtype)

    def randn(self, shape, dtype=torch.float32, fmt=torch.contiguous_format):
        return torch.randn(shape, device=self.device, generator=self.gen, dtype=dtype).contiguous(memory_format=fmt)

    def run(self) -> None:
        self.mix()
        self.normalised_mix()
        self.readers_and_views()
        self.naflex()
        self.sampler()
        self.losses()
        if self.device == "cuda":
            torch.cuda.synchronize()

    def mix(self):
        for dtype, (shape, fmt) in itertools.product(FLOAT_DTYPES, SHAPES):
            batch = shape[0]
            x = self.randn(shape, dtype, fmt)
            index, lam = self.randint(batch, (batch,)), self.rand(batch)  # index with repeats
            boxes = [None] + ([self.boxes(batch, shape[-2], shape[-1])] if len(shape) >= 3 else [])
            for box in boxes:
                for target in (self.randint(11, (batch,)), self.rand(batch, 11, dtype=dtype)):
                    got = mixup_ext.fused_mix(x, target, index, lam, box, 11, 0.1)
                    for k, g in enumerate(got):
                        self.check(g, lambda: reference.fused_mix(x, target, index, lam, box, 11, 0.1)[k])
                grad = self.randn(shape, dtype, fmt)
                self.check(
                    torch.ops.mixup._fused_mix_backward(grad, index, lam, box, 0.5),
                    lambda: reference._fused_mix_backward(grad, index, lam, box, 0.5),
                    4.0,
                )

    def normalised_mix(self):
        """uint8 in, normalised and converted out (and float x with std: the
        backward's division), over pack-sized and odd rows, NCHW and NHWC."""
        for in_dtype, out_dtype, (shape, fmt) in itertools.product(
            (torch.uint8, torch.float32), FLOAT_DTYPES, SHAPES[:3]
        ):
            batch, channels = shape[0], shape[1]
            mean = torch.linspace(90.0, 130.0, channels, device=self.device)
            std = torch.linspace(50.0, 60.0, channels, device=self.device)
            x = self.randint(256, shape, torch.uint8) if in_dtype == torch.uint8 else self.randn(shape)
            x = x.contiguous(memory_format=fmt)
            index, lam, target = self.randint(batch, (batch,)), self.rand(batch), self.randint(11, (batch,))
            for box in (None, self.boxes(batch, shape[-2], shape[-1])):
                got = mixup_ext.fused_mix(x, target, index, lam, box, 11, 0.1, mean=mean, std=std, out_dtype=out_dtype)
                for k, g in enumerate(got):
                    self.check(
                        g,
                        lambda: reference.fused_mix(
                            x, target, index, lam, box, 11, 0.1, mean=mean, std=std, out_dtype=out_dtype
                        )[k],
                        4.0,
                    )
                if in_dtype != torch.uint8:
                    grad = self.randn(shape, fmt=fmt)
                    self.check(
                        torch.ops.mixup._fused_mix_backward(grad, index, lam, box, 1.0, std),
                        lambda: reference._fused_mix_backward(grad, index, lam, box, 1.0, std),
                        4.0,
                    )

    def readers_and_views(self):
        """Readers lists past the one-block limit (the library sort), and an
        unaligned view (the one-element kernels)."""
        grad = self.randn((8200, 5))
        index, lam = self.randint(8200, (8200,)), self.rand(8200)
        self.check(
            torch.ops.mixup._fused_mix_backward(grad, index, lam, None, 1.0),
            lambda: reference._fused_mix_backward(grad, index, lam, None, 1.0),
            2.0,
        )
        view = self.randn((4 * 48 + 1,))[1:].view(4, 3, 4, 4)
        index, lam = torch.tensor([2, 0, 3, 1], device=self.device), self.rand(4)
        target = torch.tensor([0, 1, 2, 3], device=self.device)
        for k, g in enumerate(mixup_ext.fused_mix(view, target, index, lam, None, 4, 0.0)):
            self.check(g, lambda: reference.fused_mix(view, target, index, lam, None, 4, 0.0)[k])

    def naflex(self):
        """Variable-size pairs, out of place and in place: odd sizes, 1-pixel
        sides, every dtype, a strided layout, blends and pastes (bit-exact)."""
        sizes = [(7, 5), (1, 9), (13, 13), (8, 1), (5, 11), (16, 3), (9, 14)]
        pairs = torch.tensor([[3, 0], [1, 6], [2, 5]])
        lam = torch.tensor([0.3, 0.0, 0.8], dtype=torch.float64)
        box = torch.tensor([[-1] * 6, [1, 3, 0, 2, 0, 6], [2, 2, 3, 0, 0, 1]])
        for dtype, strided in itertools.product((torch.uint8, *FLOAT_DTYPES), (False, True)):
            images = [self.randint(200, (3, h, 2 * w if strided else w), dtype) for h, w in sizes]
            images = [image[:, :, ::2] if strided else image for image in images]
            expected = reference.naflex_mix(images, pairs, lam, box)
            got = torch.ops.mixup.naflex_mix(images, pairs, lam, box)
            assert all(torch.equal(a, b) for a, b in zip(got, expected)), f"naflex_mix {dtype} strided={strided}"
            torch.ops.mixup.naflex_mix_(images, pairs, lam, box)
            assert all(torch.equal(a, b) for a, b in zip(images, expected)), f"naflex_mix_ {dtype} strided={strided}"

    def sampler(self):
        """The sampler kernel through every mode of the front end, and its
        shared-memory sort at its limit and the randperm path past it."""
        x, y = self.randn((7, 3, 9, 11)), self.randint(5, (7,))
        for mode, minmax in itertools.product(("batch", "pair", "elem"), (None, (0.2, 0.8))):
            out, mixed = mixup_ext.Mixup(
                0.8, 1.0, cutmix_minmax=minmax, mode=mode, num_classes=5, pairing="random", generator=self.gen
            )(x, y)
            if not self.light:
                assert torch.isfinite(out).all() and torch.allclose(mixed.sum(1), torch.ones(7, device=self.device))
        for batch, mode in itertools.product((4096, 4097), ("elem", "pair")):
            index, _, _ = torch.ops.mixup.draw_mix_params(
                torch.empty(batch, 1, 4, 4, device=self.device),
                mode,
                "random",
                0.8,
                1.0,
                0.9,
                0.5,
                None,
                True,
                True,
                self.gen,
            )
            if not self.light:
                assert torch.equal(index.sort().values, torch.arange(batch, device=self.device))

    def losses(self):
        """Both losses, forward and backward (the gradient written by the
        forward, then rewritten for a grad_output that is not 1): odd and
        large class counts; for the BCE a threshold, a per-class pos_weight
        and rows with y_a == y_b."""
        for dtype, (batch, classes) in itertools.product(FLOAT_DTYPES, ((5, 7), (3, 1001), (2, 32003))):
            acc = acc_dtype(dtype)
            logits = self.randn((batch, classes), dtype).requires_grad_()
            y_a = self.randint(classes, (batch,))
            y_b = torch.cat([y_a[:1], self.randint(classes, (batch - 1,))])
            lam = self.rand(batch, dtype=acc)
            weights = torch.linspace(0.5, 1.5, batch, device=self.device, dtype=acc)
            pos_weight = 3 * self.rand(classes, dtype=acc)
            calls = [(mixup_ext.mixup_cross_entropy, (0.1, "none"), reference.mixup_cross_entropy, (0.1,))]
            for threshold, weight, sum_classes in ((None, None, False), (0.2, pos_weight, True)):
                calls.append(
                    (
                        mixup_ext.mixup_binary_cross_entropy,
                        (0.1, threshold, sum_classes, weight, "none"),
                        reference.mixup_binary_cross_entropy,
                        (0.1, threshold, weight, sum_classes),
                    )
                )
            for ours, ours_args, ref, ref_args in calls:
                rows = ours(logits, y_a, y_b, lam, *ours_args)
                (grad,) = torch.autograd.grad(rows.sum(), logits, retain_graph=True)
                (scaled,) = torch.autograd.grad(rows, logits, weights)  # per-row upstream
                summed = ours(logits, y_a, y_b, lam, *ours_args[:-1], "sum")
                (halved,) = torch.autograd.grad(summed, logits, torch.full((), 0.5, device=self.device, dtype=acc))
                if self.light:
                    continue
                ref_logits = logits.detach().requires_grad_()
                ref_rows = ref(ref_logits, y_a, y_b, lam, *ref_args)
                ref_rows = ref_rows[0] if isinstance(ref_rows, tuple) else ref_rows
                (ref_grad,) = torch.autograd.grad(ref_rows.sum(), ref_logits)
                self.check(rows, lambda: ref_rows.to(rows.dtype), 10.0)
                self.check(grad, lambda: ref_grad, 10.0)
                self.check(scaled, lambda: (weights[:, None] * ref_grad.to(acc)).to(dtype), 10.0)
                self.check(halved, lambda: (0.5 * ref_grad.to(acc)).to(dtype), 10.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--light", action="store_true", help="our ops alone, no reference comparisons")
    parser.add_argument("--device", default="cuda")
    parser.add_argument(
        "--tile", default="by_size", help="the CUDA row kernels' tile: by_size, wide or small (mixup::_set_cuda_tile)"
    )
    args = parser.parse_args()
    torch.ops.mixup._set_cuda_tile(args.tile)
    Workload(args.device, args.light).run()


if __name__ == "__main__":
    main()

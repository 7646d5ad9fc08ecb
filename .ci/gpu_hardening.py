"""GPU hardening checks, run by `.ci/gpu_run harden` on a CUDA machine.

    python .ci/gpu_hardening.py            # every check below, one PASS/FAIL line each
    python .ci/gpu_hardening.py huge soak  # some of them
    python .ci/gpu_hardening.py workload   # the sanitizer's workload alone

Checks:
  sanitize     compute-sanitizer memcheck, racecheck, initcheck and synccheck over
               `workload` (every CUDA kernel of the extension, odd shapes, every
               dtype, both pack widths, both readers-list builders), restricted
               to this extension's kernels; the caching allocator is off, so an
               access past a tensor's end cannot land in a neighbour's block.
  huge         tensors over 2^31 elements: bf16 (64, 3, 4096, 4096) forward (with
               and without boxes) and backward, and rows of over 2^31 elements
               each (the 64-bit index path), spot-checked against the formula.
  determinism  under torch.use_deterministic_algorithms(True): forward, backward,
               Mixup (seeded) and the loss are bitwise identical across runs.
  streams      two side streams calling concurrently both get the right answers.
  nosync       a whole training step (Mixup, a model, the fused loss, backward)
               under torch.cuda.set_sync_debug_mode("error").
  soak         10,000 steps leave CUDA memory and host RSS flat.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch

import mixup_ext
from mixup_ext import reference
from mixup_ext import NO_BOX

DEVICE = os.environ.get("MIXUP_EXT_HARDEN_DEVICE", "cuda")  # "cpu" dry-runs the workload
FLOATS = (torch.float64, torch.float32, torch.float16, torch.bfloat16)
TOL = {torch.float64: 1e-12, torch.float32: 2e-6, torch.float16: 1e-3, torch.bfloat16: 8e-3}


# Under initcheck and synccheck the workload calls only our ops: every torch
# kernel of the reference comparisons slows those tools down tenfold, and
# memcheck (which runs the full workload) already proves the results.
LIGHT = os.environ.get("MIXUP_EXT_WORKLOAD_LIGHT") == "1"


def acc_of(dtype):
    return torch.float64 if dtype == torch.float64 else torch.float32


def close(actual, expected, dtype, scale=1.0):
    if LIGHT:
        return
    if callable(expected):
        expected = expected()
    tol = TOL[dtype] * scale
    torch.testing.assert_close(actual, expected, rtol=tol, atol=tol, equal_nan=True)


def rand_boxes(batch, height, width, gen):
    """Boxes inside the image (some empty: pastes of nothing), every third
    row NO_BOX (a blend), as Mixup's draws mix them."""
    y = torch.randint(0, height + 1, (batch, 2), generator=gen, device=DEVICE).sort(1).values
    x = torch.randint(0, width + 1, (batch, 2), generator=gen, device=DEVICE).sort(1).values
    box = torch.stack([y[:, 0], y[:, 1], x[:, 0], x[:, 1]], 1)
    box[::3] = NO_BOX
    return box


# The sanitizer's workload -----------------------------------------------------


def workload() -> None:
    """Every CUDA kernel of the extension once per interesting configuration,
    each result checked against the reference (so the run also proves the
    instrumented kernels compute the right thing)."""
    gen = torch.Generator(device=DEVICE).manual_seed(0)
    shapes = [
        ((5, 3, 7, 9), torch.contiguous_format),  # odd: one element per step
        ((6, 3, 8, 16), torch.channels_last),  # 16-byte packs
        ((4, 2, 6, 10), torch.contiguous_format),  # packs straddle lines
        ((5, 37), torch.contiguous_format),  # features
    ]
    for dtype in FLOATS:
        for shape, fmt in shapes:
            batch = shape[0]
            x = torch.randn(shape, device=DEVICE, dtype=dtype, generator=gen).contiguous(memory_format=fmt)
            index = torch.randint(0, batch, (batch,), device=DEVICE, generator=gen)  # repeats
            lam = torch.rand(batch, device=DEVICE, generator=gen)
            boxes = [None] + ([rand_boxes(batch, shape[-2], shape[-1], gen)] if len(shape) >= 3 else [])
            targets = [torch.randint(0, 11, (batch,), device=DEVICE, generator=gen), torch.rand(batch, 11, device=DEVICE, dtype=dtype, generator=gen)]
            for box in boxes:
                for target in targets:
                    got = mixup_ext.fused_mix(x, target, index, lam, box, 11, 0.1)
                    for k, g in enumerate(got):
                        close(g, lambda: reference.fused_mix(x, target, index, lam, box, 11, 0.1)[k], g.dtype)
                grad = torch.randn(shape, device=DEVICE, dtype=dtype, generator=gen).contiguous(memory_format=fmt)
                close(torch.ops.mixup._fused_mix_backward(grad, index, lam, box, 0.5), lambda: reference._fused_mix_backward(grad, index, lam, box, 0.5), dtype, 4.0)
    # uint8 in, normalised and converted out (and float x with std: the backward's
    # division), over pack-sized and odd rows, NCHW and NHWC.
    for in_dtype in (torch.uint8, torch.float32):
        for out_dtype in FLOATS:
            for shape, fmt in shapes[:3]:
                batch, channels = shape[0], shape[1]
                mean = torch.linspace(90.0, 130.0, channels, device=DEVICE)
                std = torch.linspace(50.0, 60.0, channels, device=DEVICE)
                if in_dtype == torch.uint8:
                    x = torch.randint(0, 256, shape, device=DEVICE, dtype=torch.uint8, generator=gen)
                else:
                    x = torch.randn(shape, device=DEVICE, generator=gen)
                x = x.contiguous(memory_format=fmt)
                index = torch.randint(0, batch, (batch,), device=DEVICE, generator=gen)
                lam = torch.rand(batch, device=DEVICE, generator=gen)
                target = torch.randint(0, 11, (batch,), device=DEVICE, generator=gen)
                for box in (None, rand_boxes(batch, shape[-2], shape[-1], gen)):
                    got = mixup_ext.fused_mix(x, target, index, lam, box, 11, 0.1, mean=mean, std=std, out_dtype=out_dtype)
                    for k, g in enumerate(got):
                        close(g, lambda: reference.fused_mix(x, target, index, lam, box, 11, 0.1, mean=mean, std=std, out_dtype=out_dtype)[k], g.dtype, 4.0)
                    if in_dtype != torch.uint8:
                        grad = torch.randn(shape, device=DEVICE, generator=gen).contiguous(memory_format=fmt)
                        close(torch.ops.mixup._fused_mix_backward(grad, index, lam, box, 1.0, std),
                              lambda: reference._fused_mix_backward(grad, index, lam, box, 1.0, std), torch.float32, 4.0)
    # Readers lists past the one-block limit (library sort), and an unaligned view.
    grad = torch.randn(8200, 5, device=DEVICE)
    index = torch.randint(0, 8200, (8200,), device=DEVICE, generator=gen)
    lam = torch.rand(8200, device=DEVICE, generator=gen)
    close(torch.ops.mixup._fused_mix_backward(grad, index, lam, None, 1.0), lambda: reference._fused_mix_backward(grad, index, lam, None, 1.0), torch.float32, 2.0)
    flat = torch.randn(4 * 48 + 1, device=DEVICE, generator=gen)
    view = flat[1:].view(4, 3, 4, 4)
    index, lam, target = torch.tensor([2, 0, 3, 1], device=DEVICE), torch.rand(4, device=DEVICE, generator=gen), torch.tensor([0, 1, 2, 3], device=DEVICE)
    for k, g in enumerate(mixup_ext.fused_mix(view, target, index, lam, None, 4, 0.0)):
        close(g, lambda: reference.fused_mix(view, target, index, lam, None, 4, 0.0)[k], torch.float32)
    # Variable-size pairs (naflex_mix, out of place and in place): odd sizes,
    # 1-pixel sides, every dtype, a strided (non-dense) layout, blends and pastes.
    sizes = [(7, 5), (1, 9), (13, 13), (8, 1), (5, 11), (16, 3), (9, 14)]
    pairs = torch.tensor([[3, 0], [1, 6], [2, 5]])
    pair_lam = torch.tensor([0.3, 0.0, 0.8], dtype=torch.float64)
    pair_box = torch.tensor([[-1] * 6, [1, 3, 0, 2, 0, 6], [2, 2, 3, 0, 0, 1]])
    for dtype in (torch.uint8, *FLOATS):
        for strided in (False, True):
            imgs = [torch.randint(0, 200, (3, h, 2 * w if strided else w), device=DEVICE, generator=gen).to(dtype) for h, w in sizes]
            imgs = [img[:, :, ::2] if strided else img for img in imgs]
            expected = reference.naflex_mix(imgs, pairs, pair_lam, pair_box)
            got = torch.ops.mixup.naflex_mix(imgs, pairs, pair_lam, pair_box)
            assert all(torch.equal(a, b) for a, b in zip(got, expected)), f"naflex_mix {dtype} strided={strided}"
            torch.ops.mixup.naflex_mix_(imgs, pairs, pair_lam, pair_box)
            assert all(torch.equal(a, b) for a, b in zip(imgs, expected)), f"naflex_mix_ {dtype} strided={strided}"
    # The sampler kernel, through every mode of the front end.
    x = torch.randn(7, 3, 9, 11, device=DEVICE, generator=gen)
    y = torch.randint(0, 5, (7,), device=DEVICE, generator=gen)
    for mode in ("batch", "pair", "elem"):
        for minmax in (None, (0.2, 0.8)):
            out, mixed = mixup_ext.Mixup(0.8, 1.0, cutmix_minmax=minmax, mode=mode, num_classes=5, pairing="random", generator=gen)(x, y)
            if not LIGHT:
                assert torch.isfinite(out).all() and torch.allclose(mixed.sum(1), torch.ones(7, device=DEVICE))
    # The one-launch sampler: the shared-memory sort at its limit, the randperm path past it.
    for batch in (4096, 4097):
        for mode in ("elem", "pair"):
            index, lam, box = torch.ops.mixup.draw_mix_params(torch.empty(batch, 1, 4, 4, device=DEVICE), mode, "random", 0.8, 1.0, 0.9, 0.5, None, True, True, gen)
            if not LIGHT:
                assert torch.equal(index.sort().values, torch.arange(batch, device=DEVICE))
    # The loss, forward and backward, odd and large class counts.
    for dtype in FLOATS:
        for batch, classes in ((5, 7), (3, 1001), (2, 32003)):
            logits = torch.randn(batch, classes, device=DEVICE, dtype=dtype, generator=gen).requires_grad_()
            y_a = torch.randint(0, classes, (batch,), device=DEVICE, generator=gen)
            y_b = torch.randint(0, classes, (batch,), device=DEVICE, generator=gen)
            lam = torch.rand(batch, device=DEVICE, generator=gen, dtype=torch.float64 if dtype == torch.float64 else torch.float32)
            rows = mixup_ext.mixup_cross_entropy(logits, y_a, y_b, lam, 0.1, "none")
            (grad,) = torch.autograd.grad(rows.sum(), logits)
            # The forward's gradient rewritten in place for a grad_output that is not 1.
            half = torch.full((), 0.5, device=DEVICE, dtype=lam.dtype)
            (scaled,) = torch.autograd.grad(mixup_ext.mixup_cross_entropy(logits, y_a, y_b, lam, 0.1, "sum"), logits, half)
            if LIGHT:
                continue
            ref_logits = logits.detach().requires_grad_()
            ref_rows, _ = reference.mixup_cross_entropy(ref_logits, y_a, y_b, lam, 0.1)
            (ref_grad,) = torch.autograd.grad(ref_rows.sum(), ref_logits)
            close(rows, ref_rows.to(rows.dtype), rows.dtype, 10.0)
            close(grad, ref_grad, dtype, 10.0)
            close(scaled, (0.5 * ref_grad.to(acc_of(dtype))).to(dtype), dtype, 10.0)
    # The binary loss, forward and backward: threshold, per-class pos_weight,
    # rows with y_a == y_b, odd and large class counts.
    for dtype in FLOATS:
        acc = torch.float64 if dtype == torch.float64 else torch.float32
        for batch, classes in ((5, 7), (3, 1001), (2, 32003)):
            logits = torch.randn(batch, classes, device=DEVICE, dtype=dtype, generator=gen).requires_grad_()
            y_a = torch.randint(0, classes, (batch,), device=DEVICE, generator=gen)
            y_b = torch.cat([y_a[:1], torch.randint(0, classes, (batch - 1,), device=DEVICE, generator=gen)])
            lam = torch.rand(batch, device=DEVICE, generator=gen, dtype=acc)
            weight = 3 * torch.rand(classes, device=DEVICE, generator=gen, dtype=acc)
            for threshold, pos_weight, sum_classes in ((None, None, False), (0.2, weight, True)):
                rows = mixup_ext.mixup_binary_cross_entropy(logits, y_a, y_b, lam, 0.1, threshold, sum_classes, pos_weight, "none")
                (grad,) = torch.autograd.grad(rows.sum(), logits, retain_graph=True)
                (scaled,) = torch.autograd.grad(rows, logits, torch.linspace(0.5, 1.5, batch, device=DEVICE, dtype=acc))
                if LIGHT:
                    continue
                ref_logits = logits.detach().requires_grad_()
                ref_rows = reference.mixup_binary_cross_entropy(ref_logits, y_a, y_b, lam, 0.1, threshold, pos_weight, sum_classes)
                (ref_grad,) = torch.autograd.grad(ref_rows.sum(), ref_logits)
                close(rows, ref_rows.to(rows.dtype), rows.dtype, 10.0)
                close(grad, ref_grad, dtype, 10.0)
                weights = torch.linspace(0.5, 1.5, batch, device=DEVICE, dtype=acc)[:, None]
                close(scaled, (weights * ref_grad.to(acc)).to(dtype), dtype, 10.0)
    if DEVICE == "cuda":
        torch.cuda.synchronize()


def check_sanitize() -> str:
    tool_path = shutil.which("compute-sanitizer")
    if tool_path is None:
        raise RuntimeError("compute-sanitizer is not on PATH")
    report = []
    # (tool, light workload, only our kernels instrumented). The caching
    # allocator is off, so a read past a tensor's end is past an allocation,
    # not into a neighbour's block. initcheck must watch every kernel: with
    # the kernel filter it does not see torch's kernels write our inputs and
    # reports each read of them as uninitialized (thousands of false reports
    # that made it run for minutes); unfiltered, it runs our ops alone.
    for tool, light, ours_only in (("memcheck", False, True), ("racecheck", False, True),
                                   ("synccheck", True, True), ("initcheck", True, False)):
        env = dict(os.environ, MIXUP_EXT_WORKLOAD_LIGHT="1" if light else "0", PYTORCH_NO_CUDA_MEMORY_CACHING="1")
        start = time.time()
        cmd = [tool_path, "--tool", tool, "--error-exitcode", "99", "--print-limit", "20",
               *(["--kernel-name", "kns=mixup"] if ours_only else []), sys.executable, __file__, "workload"]
        try:
            result = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"compute-sanitizer {tool} did not finish in 240 s (done: {report})") from None
        output = result.stdout + result.stderr
        # "ERROR SUMMARY: 0 errors"; racecheck: "RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)"
        summary = re.findall(r"SUMMARY: .*?(\d+) errors?", output)
        if result.returncode != 0 or not summary or summary[-1] != "0":
            print(output[-6000:])
            raise AssertionError(f"compute-sanitizer {tool}: exit {result.returncode}, summary {summary}")
        report.append(f"{tool}{' (light workload)' if light else ''} 0 errors ({time.time() - start:.0f} s)")
    return "; ".join(report)


# Huge tensors -------------------------------------------------------------------


def blend_rows(x, index, lam, rows):
    """The mix of the given rows, by the formula, in float32."""
    own, partner = x[rows].float(), x[index[rows]].float()
    w = lam[rows].view(-1, *([1] * (x.dim() - 1)))
    return (w * own + (1 - w) * partner).to(x.dtype)


def check_huge() -> str:
    gen = torch.Generator(device=DEVICE).manual_seed(1)
    x = torch.randn(64, 3, 4096, 4096, device=DEVICE, dtype=torch.bfloat16, generator=gen)
    assert x.numel() > 2**31
    batch = x.shape[0]
    index = torch.randperm(batch, device=DEVICE, generator=gen)
    lam = torch.rand(batch, device=DEVICE, generator=gen)
    target = torch.randint(0, 1000, (batch,), device=DEVICE, generator=gen)
    rows = torch.tensor([0, 31, 63], device=DEVICE)

    out, mixed = mixup_ext.fused_mix(x, target, index, lam, None, 1000, 0.1)
    close(out[rows], blend_rows(x, index, lam, rows), torch.bfloat16)
    close(mixed, reference.fused_mix(x[:, :, :1, :1], target, index, lam, None, 1000, 0.1)[1], torch.float32)
    del out

    box = rand_boxes(batch, 4096, 4096, gen)
    out, _ = mixup_ext.fused_mix(x, target, index, lam, box, 1000, 0.1)
    for r in rows.tolist():
        y0, y1, x0, x1 = box[r].tolist()
        if y0 == NO_BOX:
            close(out[r:r + 1], blend_rows(x, index, lam, torch.tensor([r], device=DEVICE)), torch.bfloat16)
            continue
        expected = x[r].clone()
        expected[:, y0:y1, x0:x1] = x[int(index[r])][:, y0:y1, x0:x1]
        assert torch.equal(out[r], expected), f"boxed row {r} differs"
    del out

    grad_in = torch.ops.mixup._fused_mix_backward(x, index, lam, None, 1.0)  # x stands in for the gradient
    inverse = torch.empty_like(index)
    inverse[index] = torch.arange(batch, device=DEVICE)
    for j in rows.tolist():
        i = int(inverse[j])
        expected = (lam[j] * x[j].float() + (1 - lam[i]) * x[i].float()).to(torch.bfloat16)
        close(grad_in[j], expected, torch.bfloat16)
    del grad_in, x
    torch.cuda.empty_cache()

    # Rows of more than 2^31 elements each: the 64-bit division path.
    height, width = 32768, 65600
    x = torch.randn(2, 1, height, width, device=DEVICE, dtype=torch.bfloat16, generator=gen)
    assert x[0].numel() > 2**31
    index, lam, target = torch.tensor([1, 0], device=DEVICE), torch.rand(2, device=DEVICE, generator=gen), torch.tensor([3, 4], device=DEVICE)
    box = torch.tensor([[100, 30000, 7, 65599], [0, height, 0, width]], device=DEVICE)
    out, _ = mixup_ext.fused_mix(x, target, index, lam, box, 10, 0.0)
    for line in (0, 99, 100, 29999, 30000, height - 1):
        expected = x[0, 0, line].clone()
        if 100 <= line < 30000:
            expected[7:65599] = x[1, 0, line, 7:65599]
        assert torch.equal(out[0, 0, line], expected), f"line {line} of a >2^31-element row differs"
    assert torch.equal(out[1, 0, height - 1], x[0, 0, height - 1])
    del out, x
    torch.cuda.empty_cache()
    uint8_report = check_huge_uint8(gen)
    return "bf16 (64,3,4096,4096) fwd/boxes/bwd and (2,1,32768,65600) boxed rows match; " + uint8_report


def normalized_rows(x, index, lam, rows, mean, std):
    """Rows of the uint8 mix, normalised per channel, by the formula, in float32."""
    own, partner = x[rows].float(), x[index[rows]].float()
    w = lam[rows].view(-1, 1, 1, 1)
    return ((w * own + (1 - w) * partner) - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def check_huge_uint8(gen) -> str:
    """uint8 in, normalised bf16 out, past 2^31 elements in all and per row,
    NCHW and channels_last (the channel walk on the 64-bit division path)."""
    mean = torch.tensor([123.7, 116.3, 103.5], device=DEVICE)
    std = torch.tensor([58.4, 57.1, 57.4], device=DEVICE)
    for shape, fmt in (((64, 3, 4096, 4096), torch.contiguous_format), ((2, 3, 16384, 43700), torch.channels_last)):
        x = torch.randint(0, 256, shape, device=DEVICE, dtype=torch.uint8, generator=gen).contiguous(memory_format=fmt)
        assert x.numel() > 2**31 and (shape[0] > 2 or x[0].numel() > 2**31)
        batch = shape[0]
        index = torch.randperm(batch, device=DEVICE, generator=gen)
        lam = torch.rand(batch, device=DEVICE, generator=gen)
        out, _ = mixup_ext.fused_mix(x, None, index, lam, None, mean=mean, std=std, out_dtype=torch.bfloat16)
        assert out.is_contiguous(memory_format=fmt)
        # Whole rows are too big to compare at once here: the last lines of every channel.
        tail = slice(shape[2] - 2, shape[2])
        for r in sorted({0, batch // 2, batch - 1}):
            expected = normalized_rows(x[:, :, tail], index, lam, torch.tensor([r], device=DEVICE), mean, std)
            close(out[r:r + 1, :, tail], expected.to(torch.bfloat16), torch.bfloat16)
        box = torch.tensor([1, shape[2] - 1, 3, shape[3] - 2], device=DEVICE)
        out, _ = mixup_ext.fused_mix(x, None, index, lam, box, mean=mean, std=std, out_dtype=torch.bfloat16)
        r = batch - 1
        for line in (0, shape[2] - 2, shape[2] - 1):
            expected = x[r, :, line].clone()
            if 1 <= line < shape[2] - 1:
                expected[:, 3:shape[3] - 2] = x[int(index[r]), :, line, 3:shape[3] - 2]
            expected = ((expected.float() - mean.view(-1, 1)) / std.view(-1, 1)).to(torch.bfloat16)
            assert torch.equal(out[r, :, line], expected), f"uint8 boxed line {line} of {shape} differs"
        del out, x
        torch.cuda.empty_cache()
    return "uint8->bf16 normalised (64,3,4096,4096) NCHW and (2,3,16384,43700) channels_last (>2^31 per row) match"


# Determinism ----------------------------------------------------------------------


def check_determinism() -> str:
    torch.use_deterministic_algorithms(True)
    try:
        gen = torch.Generator(device=DEVICE).manual_seed(2)
        x = torch.randn(128, 3, 64, 64, device=DEVICE, dtype=torch.bfloat16, generator=gen).contiguous(memory_format=torch.channels_last)
        index = torch.randperm(128, device=DEVICE, generator=gen)
        lam = torch.rand(128, device=DEVICE, generator=gen)
        box = rand_boxes(128, 64, 64, gen)
        target = torch.randint(0, 100, (128,), device=DEVICE, generator=gen)
        grad = torch.randn_like(x)
        logits = torch.randn(128, 1000, device=DEVICE, generator=gen)

        def one_run(seed):
            results = []
            for b in (None, box):
                results += list(mixup_ext.fused_mix(x, target, index, lam, b, 100, 0.1))
                results.append(torch.ops.mixup._fused_mix_backward(grad, index, lam, b, 1.0))
            mixup = mixup_ext.Mixup(0.8, 1.0, mode="elem", pairing="random", num_classes=100,
                                    generator=torch.Generator(device=DEVICE).manual_seed(seed))
            results += list(mixup(x, target))
            z = logits.clone().requires_grad_()
            loss = mixup_ext.mixup_cross_entropy(z, target, target[index], lam, 0.1)
            loss.backward()
            zb = logits.clone().requires_grad_()
            bce = mixup_ext.mixup_binary_cross_entropy(zb, target, target[index], lam, 0.1, 0.2)
            bce.backward()
            return results + [loss.detach(), z.grad, bce.detach(), zb.grad]

        first = one_run(7)
        for _ in range(3):
            for a, b in zip(first, one_run(7)):
                assert torch.equal(a, b), "a run differs bitwise"
        return f"{len(first)} outputs bitwise identical over 4 runs"
    finally:
        torch.use_deterministic_algorithms(False)


# Two streams -------------------------------------------------------------------------


def check_streams() -> str:
    gen = torch.Generator(device=DEVICE).manual_seed(3)
    jobs = []
    for _ in range(2):
        x = torch.randn(64, 3, 112, 112, device=DEVICE, generator=gen)
        index = torch.randperm(64, device=DEVICE, generator=gen)
        lam = torch.rand(64, device=DEVICE, generator=gen)
        box = rand_boxes(64, 112, 112, gen)
        target = torch.randint(0, 10, (64,), device=DEVICE, generator=gen)
        expected = reference.fused_mix(x, target, index, lam, box, 10, 0.0)[0], reference._fused_mix_backward(x, index, lam, box, 1.0)
        jobs.append(((x, target, index, lam, box), expected))
    streams = [torch.cuda.Stream(), torch.cuda.Stream()]
    for s in streams:
        s.wait_stream(torch.cuda.current_stream())
    results = [[], []]
    for _ in range(20):  # interleave many launches so the two streams overlap
        for k, s in enumerate(streams):
            with torch.cuda.stream(s):
                x, target, index, lam, box = jobs[k][0]
                out, _ = mixup_ext.fused_mix(x, target, index, lam, box, 10, 0.0)
                results[k].append((out, torch.ops.mixup._fused_mix_backward(x, index, lam, box, 1.0)))
    torch.cuda.synchronize()
    for k in range(2):
        for out, back in results[k]:
            close(out, jobs[k][1][0], torch.float32)
            close(back, jobs[k][1][1], torch.float32, 2.0)
    return "2 streams x 20 interleaved forward+backward calls correct"


# No host sync in a training step ---------------------------------------------------------


def training_step(model, mixup, loss_fn, x, y):
    mixed, target = mixup(x, y)
    loss = loss_fn(model(mixed), target)
    loss.backward()
    return loss.detach()


def make_step():
    gen = torch.Generator(device=DEVICE).manual_seed(4)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 16 * 16, 10)).to(DEVICE)
    mixup = mixup_ext.Mixup(0.8, 1.0, mode="elem", pairing="random", num_classes=10, generator=gen, target_form="index")
    cross_entropy = mixup_ext.MixupCrossEntropy(label_smoothing=0.1)
    binary = mixup_ext.MixupBinaryCrossEntropy(label_smoothing=0.1, target_threshold=0.2, pos_weight=torch.rand(10) + 0.5)
    loss_fn = lambda logits, targets: cross_entropy(logits, targets) + binary(logits, targets)  # noqa: E731
    x = torch.randn(32, 3, 16, 16, device=DEVICE, generator=gen).requires_grad_()  # manifold-style: x gets a gradient too
    y = torch.randint(0, 10, (32,), device=DEVICE, generator=gen)
    return lambda: training_step(model, mixup, loss_fn, x, y)


def check_nosync() -> str:
    step = make_step()
    step()  # warm-up: cuDNN autotuning and lazy init may sync once
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(3):
            step()
    finally:
        torch.cuda.set_sync_debug_mode(0)
    return "Mixup + model + fused CE and BCE forward/backward: no host sync"


# Memory stability ----------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def check_soak(steps: int = 10_000) -> str:
    step = make_step()
    gen = torch.Generator(device=DEVICE).manual_seed(5)
    x = torch.randn(16, 3, 20, 24, device=DEVICE, generator=gen).requires_grad_()
    target, index, lam = torch.randint(0, 7, (16,), device=DEVICE), torch.randperm(16, device=DEVICE, generator=gen), torch.rand(16, device=DEVICE, generator=gen)
    box = rand_boxes(16, 20, 24, gen)

    def one():
        step()
        out, mixed = mixup_ext.fused_mix(x, target, index, lam, box, 7, 0.1)
        (out.sum() + mixed.sum()).backward()

    for _ in range(200):
        one()
    torch.cuda.synchronize()
    before = (torch.cuda.memory_allocated(), torch.cuda.memory_reserved(), rss_mb())
    start = time.time()
    for _ in range(steps):
        one()
    torch.cuda.synchronize()
    after = (torch.cuda.memory_allocated(), torch.cuda.memory_reserved(), rss_mb())
    assert after[0] == before[0], f"CUDA memory allocated grew: {before[0]} -> {after[0]} bytes"
    assert after[1] == before[1], f"CUDA memory reserved grew: {before[1]} -> {after[1]} bytes"
    assert after[2] - before[2] < 16, f"host RSS grew by {after[2] - before[2]:.1f} MB"
    return (f"{steps} steps in {time.time() - start:.0f} s: allocated {before[0]} -> {after[0]} B, "
            f"reserved {before[1]} -> {after[1]} B, RSS {before[2]:.0f} -> {after[2]:.0f} MB")


CHECKS = {"sanitize": check_sanitize, "huge": check_huge, "determinism": check_determinism,
          "streams": check_streams, "nosync": check_nosync, "soak": check_soak}


def main(argv: list[str]) -> int:
    if argv == ["workload"]:
        workload()
        return 0
    names = argv or list(CHECKS)
    print(f"backend {mixup_ext.backend()}, {torch.cuda.get_device_name() if DEVICE == 'cuda' else DEVICE}, torch {torch.__version__}")
    failed = 0
    for name in names:
        start = time.time()
        try:
            detail = CHECKS[name]()
            print(f"PASS {name}: {detail} [{time.time() - start:.0f} s]", flush=True)
        except Exception as e:  # noqa: BLE001 -- report every check, then fail
            failed += 1
            print(f"FAIL {name}: {type(e).__name__}: {e} [{time.time() - start:.0f} s]", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

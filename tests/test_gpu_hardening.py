"""GPU hardening: the checks too slow or too big for every test run.

Marked ``hardening`` and left out of a plain ``pytest`` (pyproject.toml's
addopts); ``.ci/gpu_run harden`` runs them on a CUDA machine:

    python -m pytest -m hardening tests/test_gpu_hardening.py
    python -m pytest -m hardening tests/test_gpu_hardening.py -k "sanitizer and memcheck"

- compute-sanitizer memcheck, racecheck, synccheck and initcheck over the
  workload of tests/gpu_workload.py (every CUDA kernel, odd shapes, every
  dtype, both pack widths, both readers-list builders);
- tensors past 2^31 elements, in all and per row (the 64-bit index path);
- bitwise determinism under torch.use_deterministic_algorithms;
- two streams calling at once;
- a 10,000-step soak that leaves CUDA memory and host RSS flat.

The no-sync training step is tests/test_cuda.py's; it runs every time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import mixup_ext
from mixup_ext import NO_BOX, reference

from .gpu_workload import Workload
from .helpers import assert_close, generator, random_boxes, requires_cuda, training_step

ROOT = Path(__file__).resolve().parent.parent


def hardening(test):
    """A GPU check of seconds to minutes: marked hardening, and slow, so that
    a quick `-m "not slow"` (which replaces addopts' -m) leaves it out too."""
    return pytest.mark.hardening(pytest.mark.slow(requires_cuda(test)))


def test_the_sanitizer_workload_runs_on_the_cpu():
    """The workload is plain code: held to the reference on the CPU in every
    run, so it is sound when a GPU run puts it under the sanitizer."""
    Workload("cpu", light=False).run()


# (tool, light workload, only our kernels instrumented, CUDA tile). The caching allocator
# is off, so a read past a tensor's end is past an allocation, not into a
# neighbour's block. initcheck must watch every kernel: filtered, it does not
# see torch's kernels write our inputs and reports each read of them as
# uninitialised (thousands of false reports); unfiltered, it runs our ops alone.
# The workload's small tensors take the row kernels' small tile, so memcheck
# runs it again with the wide tile pinned (the workload's --tile).
SANITIZER_RUNS = [
    ("memcheck", False, True, None),
    ("memcheck", False, True, "wide"),
    ("racecheck", False, True, None),
    ("synccheck", True, True, None),
    ("initcheck", True, False, None),
]


@pytest.mark.parametrize(
    "tool,light,ours_only,tile", SANITIZER_RUNS, ids=[t[0] + (f"-{t[3]}-tile" if t[3] else "") for t in SANITIZER_RUNS]
)
@hardening
def test_kernels_are_clean_under_compute_sanitizer(tool, light, ours_only, tile):
    sanitizer = shutil.which("compute-sanitizer")
    if sanitizer is None:
        pytest.skip("compute-sanitizer is not on PATH")
    cmd = [
        sanitizer,
        "--tool",
        tool,
        "--error-exitcode",
        "99",
        "--print-limit",
        "20",
        *(["--kernel-name", "kns=mixup"] if ours_only else []),
        sys.executable,
        "-m",
        "tests.gpu_workload",
        *(["--light"] if light else []),
        *(["--tile", tile] if tile else []),
    ]
    env = dict(os.environ, PYTORCH_NO_CUDA_MEMORY_CACHING="1")
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=240)
    output = result.stdout + result.stderr
    # "ERROR SUMMARY: 0 errors"; racecheck: "RACECHECK SUMMARY: 0 hazards displayed (0 errors, 0 warnings)"
    summary = re.findall(r"SUMMARY: .*?(\d+) errors?", output)
    assert result.returncode == 0 and summary and summary[-1] == "0", output[-6000:]


def _blend_rows(x, index, lam, rows):
    """The mix of the given rows, by the formula, in float32."""
    own, partner = x[rows].float(), x[index[rows]].float()
    w = lam[rows].view(-1, *([1] * (x.dim() - 1)))
    return (w * own + (1 - w) * partner).to(x.dtype)


@hardening
def test_a_bf16_batch_past_2_31_elements():
    """(64, 3, 4096, 4096) bf16: forward with and without boxes, and the
    backward, spot-checked against the formula."""
    gen = generator("cuda", 1)
    x = torch.randn(64, 3, 4096, 4096, device="cuda", dtype=torch.bfloat16, generator=gen)
    assert x.numel() > 2**31
    batch = x.shape[0]
    index = torch.randperm(batch, device="cuda", generator=gen)
    lam = torch.rand(batch, device="cuda", generator=gen)
    target = torch.randint(0, 1000, (batch,), device="cuda", generator=gen)
    rows = torch.tensor([0, 31, 63], device="cuda")

    out, mixed = mixup_ext.fused_mix(x, target, index, lam, None, 1000, 0.1)
    assert_close(out[rows], _blend_rows(x, index, lam, rows))
    assert_close(mixed, reference.fused_mix(x[:, :, :1, :1], target, index, lam, None, 1000, 0.1)[1])
    del out

    box = random_boxes(batch, 4096, 4096, "cuda", seed=1)
    out, _ = mixup_ext.fused_mix(x, target, index, lam, box, 1000, 0.1)
    for r in rows.tolist():
        y0, y1, x0, x1 = box[r].tolist()
        if y0 == NO_BOX:
            assert_close(out[r : r + 1], _blend_rows(x, index, lam, torch.tensor([r], device="cuda")))
            continue
        expected = x[r].clone()
        expected[:, y0:y1, x0:x1] = x[int(index[r])][:, y0:y1, x0:x1]
        assert torch.equal(out[r], expected), f"boxed row {r} differs"
    del out

    grad_in = torch.ops.mixup._fused_mix_backward(x, index, lam, None, 1.0)  # x stands in for the gradient
    inverse = torch.empty_like(index)
    inverse[index] = torch.arange(batch, device="cuda")
    for j in rows.tolist():
        i = int(inverse[j])
        assert_close(grad_in[j], (lam[j] * x[j].float() + (1 - lam[i]) * x[i].float()).to(torch.bfloat16))


@hardening
def test_rows_of_more_than_2_31_elements_take_the_64_bit_path():
    height, width = 32768, 65600
    x = torch.randn(2, 1, height, width, device="cuda", dtype=torch.bfloat16, generator=generator("cuda", 2))
    assert x[0].numel() > 2**31
    index, lam, target = (
        torch.tensor([1, 0], device="cuda"),
        torch.rand(2, device="cuda"),
        torch.tensor([3, 4], device="cuda"),
    )
    box = torch.tensor([[100, 30000, 7, 65599], [0, height, 0, width]], device="cuda")
    out, _ = mixup_ext.fused_mix(x, target, index, lam, box, 10, 0.0)
    for line in (0, 99, 100, 29999, 30000, height - 1):
        expected = x[0, 0, line].clone()
        if 100 <= line < 30000:
            expected[7:65599] = x[1, 0, line, 7:65599]
        assert torch.equal(out[0, 0, line], expected), f"line {line} of a >2^31-element row differs"
    assert torch.equal(out[1, 0, height - 1], x[0, 0, height - 1])


@hardening
@pytest.mark.parametrize(
    "shape,layout",
    [((64, 3, 4096, 4096), torch.contiguous_format), ((2, 3, 16384, 43700), torch.channels_last)],
    ids=["nchw", "nhwc_long_rows"],
)
def test_uint8_normalised_past_2_31_elements(shape, layout):
    """uint8 in, normalised bf16 out, past 2^31 elements in all and per row
    (the channel walk on the 64-bit division path)."""
    gen = generator("cuda", 3)
    mean = torch.tensor([123.7, 116.3, 103.5], device="cuda")
    std = torch.tensor([58.4, 57.1, 57.4], device="cuda")
    x = torch.randint(0, 256, shape, device="cuda", dtype=torch.uint8, generator=gen).contiguous(memory_format=layout)
    assert x.numel() > 2**31 and (shape[0] > 2 or x[0].numel() > 2**31)
    batch = shape[0]
    index = torch.randperm(batch, device="cuda", generator=gen)
    lam = torch.rand(batch, device="cuda", generator=gen)
    out, _ = mixup_ext.fused_mix(x, None, index, lam, None, mean=mean, std=std, out_dtype=torch.bfloat16)
    assert out.is_contiguous(memory_format=layout)
    tail = slice(shape[2] - 2, shape[2])  # whole rows are too big to compare at once: the last lines
    for r in sorted({0, batch // 2, batch - 1}):
        own, partner = x[r, :, tail].float(), x[int(index[r]), :, tail].float()
        expected = (lam[r] * own + (1 - lam[r]) * partner - mean.view(-1, 1, 1)) / std.view(-1, 1, 1)
        assert_close(out[r, :, tail], expected.to(torch.bfloat16))
    box = torch.tensor([1, shape[2] - 1, 3, shape[3] - 2], device="cuda")
    out, _ = mixup_ext.fused_mix(x, None, index, lam, box, mean=mean, std=std, out_dtype=torch.bfloat16)
    r = batch - 1
    for line in (0, shape[2] - 2, shape[2] - 1):
        expected = x[r, :, line].clone()
        if 1 <= line < shape[2] - 1:
            expected[:, 3 : shape[3] - 2] = x[int(index[r]), :, line, 3 : shape[3] - 2]
        expected = ((expected.float() - mean.view(-1, 1)) / std.view(-1, 1)).to(torch.bfloat16)
        assert torch.equal(out[r, :, line], expected), f"uint8 boxed line {line} of {shape} differs"


@hardening
def test_runs_are_bitwise_identical_under_deterministic_algorithms():
    torch.use_deterministic_algorithms(True)
    try:
        gen = generator("cuda", 2)
        x = torch.randn(128, 3, 64, 64, device="cuda", dtype=torch.bfloat16, generator=gen)
        x = x.contiguous(memory_format=torch.channels_last)
        index = torch.randperm(128, device="cuda", generator=gen)
        lam = torch.rand(128, device="cuda", generator=gen)
        box = random_boxes(128, 64, 64, "cuda", seed=2)
        target = torch.randint(0, 100, (128,), device="cuda", generator=gen)
        grad = torch.randn_like(x)
        logits = torch.randn(128, 1000, device="cuda", generator=gen)

        def one_run(seed):
            results = []
            for b in (None, box):
                results += list(mixup_ext.fused_mix(x, target, index, lam, b, 100, 0.1))
                results.append(torch.ops.mixup._fused_mix_backward(grad, index, lam, b, 1.0))
            mixup = mixup_ext.Mixup(
                0.8, 1.0, mode="elem", pairing="random", num_classes=100, generator=generator("cuda", seed)
            )
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
    finally:
        torch.use_deterministic_algorithms(False)


@hardening
def test_two_streams_calling_at_once_both_get_the_right_answers():
    gen = generator("cuda", 3)
    jobs = []
    for k in range(2):
        x = torch.randn(64, 3, 112, 112, device="cuda", generator=gen)
        index = torch.randperm(64, device="cuda", generator=gen)
        lam = torch.rand(64, device="cuda", generator=gen)
        box = random_boxes(64, 112, 112, "cuda", seed=10 + k)
        target = torch.randint(0, 10, (64,), device="cuda", generator=gen)
        expected = (
            reference.fused_mix(x, target, index, lam, box, 10, 0.0)[0],
            reference._fused_mix_backward(x, index, lam, box, 1.0),
        )
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
            assert_close(out, jobs[k][1][0])
            assert_close(back, jobs[k][1][1], scale=2.0)


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@hardening
def test_a_10k_step_soak_leaves_memory_flat():
    step = training_step("cuda")
    gen = generator("cuda", 5)
    x = torch.randn(16, 3, 20, 24, device="cuda", generator=gen).requires_grad_()
    target, index = torch.randint(0, 7, (16,), device="cuda"), torch.randperm(16, device="cuda", generator=gen)
    lam, box = torch.rand(16, device="cuda", generator=gen), random_boxes(16, 20, 24, "cuda", seed=5)

    def one():
        step()
        out, mixed = mixup_ext.fused_mix(x, target, index, lam, box, 7, 0.1)
        (out.sum() + mixed.sum()).backward()

    for _ in range(200):
        one()
    torch.cuda.synchronize()
    before = (torch.cuda.memory_allocated(), torch.cuda.memory_reserved(), _rss_mb())
    for _ in range(10_000):
        one()
    torch.cuda.synchronize()
    after = (torch.cuda.memory_allocated(), torch.cuda.memory_reserved(), _rss_mb())
    assert after[0] == before[0], f"CUDA memory allocated grew: {before[0]} -> {after[0]} bytes"
    assert after[1] == before[1], f"CUDA memory reserved grew: {before[1]} -> {after[1]} bytes"
    assert after[2] - before[2] < 16, f"host RSS grew by {after[2] - before[2]:.1f} MB"

"""CUDA-only behaviour: CUDA-graph capture, no host syncs, the current stream,
and device-side asserts for values that would need a sync to check."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap

import pytest
import torch

import mixup_ext
from mixup_ext import reference

from .helpers import (
    assert_close,
    index_of,
    lam_of,
    no_host_sync,
    poisoned_outputs,
    randn,
    random_boxes,
    training_step,
)

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU"),
    pytest.mark.usefixtures("cuda_tile"),
]


def make_inputs(seed, batch=16, dtype=torch.bfloat16):
    x = randn((batch, 3, 20, 24), dtype, "cuda", seed=seed).contiguous(memory_format=torch.channels_last)
    soft = torch.rand(batch, 10, generator=torch.Generator().manual_seed(seed)).cuda()
    return (
        x,
        soft,
        index_of("permutation", batch, "cuda", seed),
        lam_of("per_sample", batch, torch.float32, "cuda", seed),
        random_boxes(batch, 20, 24, "cuda", seed),
    )


def test_forward_and_backward_capture_in_a_cuda_graph():
    static = [t.clone() for t in make_inputs(0)]
    static[0].requires_grad_()
    static[1].requires_grad_()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):  # warm-up on a side stream, as capture requires
        for _ in range(2):
            out, mixed = mixup_ext.fused_mix(*static, 10, 0.1)
            torch.autograd.grad((out.float().square().sum() + mixed.square().sum()), static[:2])
    torch.cuda.current_stream().wait_stream(side)

    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out, mixed = mixup_ext.fused_mix(*static, 10, 0.1)
        gx, gt = torch.autograd.grad((out.float().square().sum() + mixed.square().sum()), static[:2])

    for seed in (1, 2, 3):  # replay on new data copied into the static inputs
        fresh = make_inputs(seed)
        with torch.no_grad():
            for dst, src in zip(static, fresh):
                dst.copy_(src)
        graph.replay()
        x = fresh[0].clone().requires_grad_()
        t = fresh[1].clone().requires_grad_()
        ref_out, ref_mixed = reference.fused_mix(x, t, *fresh[2:], 10, 0.1)
        ref_gx, ref_gt = torch.autograd.grad((ref_out.float().square().sum() + ref_mixed.square().sum()), (x, t))
        assert_close(out, ref_out)
        assert_close(mixed, ref_mixed)
        assert_close(gx, ref_gx, scale=8.0)  # bf16 grads: ours sum in fp32, the reference in bf16
        assert_close(gt, ref_gt)


# Launches big enough that a forward block mixes several column chunks of its
# row (the launcher gives a block up to 4 chunks while the grid still fills the
# GPU twice; csrc/cuda/fused_mix_kernel.cu, forward_chunks), with rows that end
# inside a block's last chunk. Small test batches always get one chunk a block.
BIG_LAUNCHES = [
    # (shape, dtype, layout, normalised): 16-byte packs (fp32, u8 -> bf16),
    # NCHW and channels_last, and the one-element kernel (an odd row length).
    ((1024, 3, 60, 60), torch.float32, "contiguous", False),
    ((2048, 3, 60, 60), torch.uint8, "channels_last", True),
    ((2048, 3, 60, 60), torch.uint8, "contiguous", True),
    ((1024, 3, 60, 60), torch.bfloat16, "channels_last", False),
    ((256, 3, 61, 61), torch.float32, "contiguous", False),
]


@pytest.mark.parametrize("shape, dtype, layout, normalised", BIG_LAUNCHES)
@pytest.mark.parametrize("boxed", [False, True])
def test_blocks_of_several_chunks_match_the_reference(shape, dtype, layout, normalised, boxed):
    batch, _, height, width = shape
    if dtype == torch.uint8:
        x = torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(1), dtype=torch.uint8).cuda()
    else:
        x = randn(shape, dtype, "cuda", seed=1)
    x = x.contiguous(memory_format=torch.channels_last if layout == "channels_last" else torch.contiguous_format)
    before = x.clone()
    norm = dict(mean=(123.7, 116.3, 103.5), std=(58.4, 57.1, 57.4), out_dtype=torch.bfloat16) if normalised else {}
    args = (
        x,
        torch.randint(0, 10, (batch,), device="cuda"),
        index_of("permutation", batch, "cuda", 2),
        lam_of("per_sample", batch, torch.float32, "cuda", 3),
        random_boxes(batch, height, width, "cuda", 4) if boxed else None,
        10,
        0.1,
    )
    with poisoned_outputs():
        out, mixed = mixup_ext.fused_mix(*args, **norm)
    ref_out, ref_mixed = reference.fused_mix(*args, **norm)
    assert_close(out, ref_out)
    assert_close(mixed, ref_mixed)
    assert out.is_contiguous(memory_format=torch.channels_last) == (layout == "channels_last")
    assert torch.equal(x, before)
    if dtype != torch.uint8:  # the backward of the same launch size
        grad = randn(shape, dtype, "cuda", seed=5).contiguous(
            memory_format=torch.channels_last if layout == "channels_last" else torch.contiguous_format
        )
        with poisoned_outputs():
            got = torch.ops.mixup._fused_mix_backward(grad, *args[2:5], 0.5)
        assert_close(got, reference._fused_mix_backward(grad, *args[2:5], 0.5), scale=4.0)


def _fused_mix_tiles(call) -> list[tuple[int, int]]:
    """(elements a pack, packs a thread) of every fused_mix kernel that call
    launches, read from the template arguments in the profiler's kernel names."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        call()
        torch.cuda.synchronize()
    shapes = [
        re.search(r"fused_mix_kernel<[^>]*?, (\d+), (\d+), (?:true|false), (?:true|false)>", e.name)
        for e in prof.events()
        if e.device_type.name == "CUDA" and "fused_mix_kernel" in e.name
    ]
    return [(int(m[1]), int(m[2])) for m in shapes]


@pytest.mark.parametrize("pinned", [None, "wide", "small"])
def test_a_launch_too_small_to_fill_the_gpu_takes_the_small_tile(pinned):
    """uint8 -> bf16: the wide tile is two 16-element packs a thread, the
    small one one 8-element pack. 128x3x32x32 is 128 wide row blocks, a few
    percent of any GPU's resident block slots; 2048x3x60x60 is 6144, more
    than an H200's 2112. mixup::_set_cuda_tile pins the choice for the
    calling thread, and by_size gives it back to the launch's size."""
    tiles = {"wide": (16, 2), "small": (8, 1)}
    mean, std = (123.7, 116.3, 103.5), (58.4, 57.1, 57.4)
    previous = torch.ops.mixup._set_cuda_tile(pinned or "by_size")
    try:
        for batch, side, by_size in ((128, 32, "small"), (2048, 60, "wide")):
            x = torch.randint(0, 256, (batch, 3, side, side), dtype=torch.uint8, device="cuda")
            index = index_of("permutation", batch, "cuda")
            lam = lam_of("per_sample", batch, torch.float32, "cuda")

            def call():
                return mixup_ext.fused_mix(
                    x, None, index, lam, None, 0, 0.0, mean=mean, std=std, out_dtype=torch.bfloat16
                )

            call()
            assert _fused_mix_tiles(call) == [tiles[pinned or by_size]]
    finally:
        torch.ops.mixup._set_cuda_tile(previous)


def test_no_host_sync_in_forward_or_backward():
    x, soft, index, lam, box = make_inputs(0)
    x.requires_grad_()
    soft.requires_grad_()
    grad_out = torch.randn_like(x)
    grad_mixed = torch.randn_like(soft)
    with no_host_sync():
        for box_arg in (box, None):
            out, mixed = mixup_ext.fused_mix(x, soft, index, lam, box_arg, 10, 0.1)
            torch.autograd.backward((out, mixed), (grad_out, grad_mixed))
            out, mixed = mixup_ext.fused_mix(
                x, torch.zeros(16, dtype=torch.int64, device="cuda"), index, 0.5, box_arg, 10, 0.1
            )
    torch.cuda.synchronize()


def test_runs_on_the_current_stream():
    x, soft, index, lam, box = make_inputs(4, batch=64, dtype=torch.float32)
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        # Slow work queued first on the same stream: a kernel on another stream would race it.
        ready = x.clone()
        for _ in range(20):
            ready = ready * 1.0
        out, mixed = mixup_ext.fused_mix(ready, soft, index, lam, box, 10, 0.1)
    torch.cuda.current_stream().wait_stream(stream)
    ref_out, ref_mixed = reference.fused_mix(x, soft, index, lam, box, 10, 0.1)
    assert_close(out, ref_out)
    assert_close(mixed, ref_mixed)


@pytest.mark.slow
@pytest.mark.parametrize(
    "bad",
    [
        "index = torch.tensor([1, 0, 5, 2], device='cuda')",
        "index = torch.tensor([1, 0, -1, 2], device='cuda')",
        "target = torch.tensor([0, 1, 10, 2], device='cuda')",
        "box = torch.tensor([0, 9, 0, 2], device='cuda')",
    ],
    ids=["index_too_large", "index_negative", "label_out_of_range", "box_past_image"],
)
def test_out_of_range_values_trip_a_device_side_assert(bad):
    code = textwrap.dedent(
        f"""
        import torch, mixup_ext
        x = torch.randn(4, 3, 8, 8, device='cuda')
        target = torch.tensor([0, 1, 2, 3], device='cuda')
        index = torch.tensor([1, 0, 3, 2], device='cuda')
        box = None
        {bad}
        out, mixed = torch.ops.mixup.fused_mix(x, target, index, torch.rand(4, device='cuda'), box, 10, 0.0)
        torch.cuda.synchronize()
        print('NO ASSERT')
        """
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "NO ASSERT" not in result.stdout
    assert "device-side assert" in result.stderr or "Assertion" in result.stderr, result.stderr[-2000:]


def test_large_feature_batch_matches_reference():
    x = randn((1024, 4096), torch.bfloat16, "cuda")
    target = torch.randint(0, 1000, (1024,), device="cuda")
    index, lam = index_of("permutation", 1024, "cuda"), lam_of("per_sample", 1024, torch.float32, "cuda")
    out, mixed = mixup_ext.fused_mix(x, target, index, lam, None, 1000, 0.1)
    ref_out, ref_mixed = reference.fused_mix(x, target, index, lam, None, 1000, 0.1)
    assert_close(out, ref_out)
    assert_close(mixed, ref_mixed)


@pytest.mark.parametrize("batch", [1, 8192, 8193], ids=["b1", "largest_one_block_readers", "library_sort_readers"])
@pytest.mark.parametrize("index_kind", ["permutation", "repeats"])
def test_backward_readers_lists_on_both_sides_of_the_shared_memory_limit(batch, index_kind):
    """Up to 8192 rows the readers lists come from one block's counting sort,
    above it from a library sort; both must give the reference's gradient."""
    grad = randn((batch, 40), torch.float32, "cuda")
    index = index_of(index_kind, batch, "cuda")
    lam = lam_of("per_sample", batch, torch.float32, "cuda")
    with poisoned_outputs():
        got = torch.ops.mixup._fused_mix_backward(grad, index, lam, None, 1.0)
    assert_close(got, reference._fused_mix_backward(grad, index, lam, None, 1.0), scale=2.0)


# The front end ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["batch", "pair", "elem"])
def test_mixup_call_has_no_host_sync(mode):
    from mixup_ext import Mixup

    x, soft, index, lam, box = make_inputs(0)
    labels = torch.randint(0, 10, (16,), device="cuda")
    generator = torch.Generator(device="cuda").manual_seed(0)
    for target_form in ("dense", "index"):
        mixup = Mixup(
            0.8, 1.0, mode=mode, pairing="random", num_classes=10, generator=generator, target_form=target_form
        )
        with no_host_sync():
            mixup(x, labels)


@pytest.mark.parametrize("mode", ["batch", "pair", "elem"])
def test_training_step_has_no_host_sync(mode):
    """Mixup, a model, the fused CE and BCE, backward into the weights and x."""
    step = training_step("cuda", mode)
    step()  # warm-up: cuDNN's autotuning and lazy initialisation may sync once
    with no_host_sync():
        for _ in range(3):
            step()


def test_whole_mixup_call_captures_in_a_cuda_graph():
    from mixup_ext import Mixup

    mixup = Mixup(0.8, 1.0, mode="elem", pairing="random", num_classes=10)
    static_x = make_inputs(0)[0]
    static_y = torch.randint(0, 10, (16,), device="cuda")
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            mixup(static_x, static_y)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out, target = mixup(static_x, static_y)
    outs = []
    for _ in range(3):  # each replay draws afresh: graph-safe RNG advances its offset
        graph.replay()
        torch.cuda.synchronize()
        outs.append(out.clone())
        torch.testing.assert_close(target.sum(1), torch.ones(16, device="cuda"))
    assert not torch.equal(outs[0], outs[1]) and not torch.equal(outs[1], outs[2])


def test_one_seed_draws_the_same_on_any_stream_and_in_a_graph_replay():
    """docs/guide/reproducibility.md's promise: the same backend, device and
    generator state give bitwise the same call, on another stream and in a
    replay of a captured CUDA graph (which reads the generator's state at
    replay time, so re-seeding before a replay replays the seeded draws)."""
    from mixup_ext import Mixup

    mixup = Mixup(0.8, 1.0, mode="elem", pairing="random", num_classes=10)
    x = make_inputs(0)[0]
    y = torch.randint(0, 10, (16,), device="cuda")
    torch.cuda.manual_seed(7)
    eager = [t.clone() for t in mixup(x, y)]

    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        torch.cuda.manual_seed(7)
        on_side = mixup(x, y)
        mixup(x, y)  # warm-up for the capture below
    torch.cuda.current_stream().wait_stream(side)
    assert all(torch.equal(a, b) for a, b in zip(on_side, eager))

    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        captured = mixup(x, y)
    for _ in range(2):
        torch.cuda.manual_seed(7)
        graph.replay()
        torch.cuda.synchronize()
        assert all(torch.equal(a, b) for a, b in zip(captured, eager))


@pytest.mark.parametrize("mode", ["batch", "pair", "elem"])
@pytest.mark.parametrize("target_form", ["dense", "index"])
def test_mixup_call_is_two_kernel_launches(mode, target_form):
    from torch.profiler import ProfilerActivity, profile

    from mixup_ext import Mixup

    x = make_inputs(0)[0]
    labels = torch.randint(0, 10, (16,), device="cuda")
    mixup = Mixup(0.8, 1.0, mode=mode, pairing="random", num_classes=10, target_form=target_form)
    mixup(x, labels)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        mixup(x, labels)
        torch.cuda.synchronize()
    kernels = [e.name for e in prof.events() if e.device_type.name == "CUDA"]
    assert len(kernels) == 2, kernels

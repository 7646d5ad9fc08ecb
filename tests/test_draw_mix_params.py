"""mixup::draw_mix_params, the one-launch sampler behind Mixup: partners,
weights and boxes drawn on x's device.

Its arithmetic after the draws is sample_math.h's, which
tests/test_sample_mix_params.py holds to the reference bit for bit. Its random
streams (Philox) differ from torch's, so here it is held to the contract by
exact structure (permutations, matchings, boxes inside the image, partners
that agree) and by statistics (Beta weights, uniform permutations, the switch
and apply probabilities). The reference backend's version runs the same
checks, so both backends draw from the same distributions.
"""

from __future__ import annotations

import itertools

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from mixup_ext import NO_BOX, reference

from .helpers import DEVICES, refused_alike, requires_cuda

pytestmark = pytest.mark.cpu_kernels  # .ci/sanitize_cpu selects by these (pyproject.toml: markers)

IMPLS = {"op": torch.ops.mixup.draw_mix_params, "reference": reference.draw_mix_params}


def draw(
    impl,
    x,
    mode="elem",
    pairing="flip",
    mixup_alpha=0.8,
    cutmix_alpha=1.0,
    prob=1.0,
    switch_prob=0.5,
    minmax=None,
    correct_lam=True,
    generator=None,
):
    return IMPLS[impl](
        x, mode, pairing, mixup_alpha, cutmix_alpha, prob, switch_prob, minmax, correct_lam, True, generator
    )


def batch_like(batch, device, size=(3, 13, 9)):
    return torch.randn((batch, *size), device=device)


def gen(device, seed=0):
    return torch.Generator(device=device).manual_seed(seed)


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "mode,pairing",
    [(m, p) for m in ("batch", "pair", "elem") for p in ("flip", "roll", "random") if (m, p) != ("pair", "roll")],
)
@pytest.mark.parametrize("batch", [0, 1, 2, 7, 64])
def test_outputs_have_the_contract_shapes_and_structure(impl, device, mode, pairing, batch):
    x = batch_like(batch, device)
    index, lam, box = draw(impl, x, mode, pairing, generator=gen(device))
    per_batch = mode == "batch"
    assert (index.shape, index.dtype, index.device) == ((batch,), torch.int64, x.device)
    assert (lam.shape, lam.dtype) == ((() if per_batch else (batch,)), torch.float32)
    assert (box.shape, box.dtype) == (((4,) if per_batch else (batch, 4)), torch.int64)
    rows = torch.arange(batch, device=device)
    if pairing == "flip":
        assert torch.equal(index, rows.flip(0))
    elif pairing == "roll":
        assert torch.equal(index, rows.roll(1))
    else:
        assert torch.equal(index.sort().values, rows), "a random pairing is a permutation"
    if mode == "pair":
        assert torch.equal(index[index], rows), "partners of partners are themselves"
        assert torch.equal(lam[index], lam) and torch.equal(box[index], box), "partners share their draw"
    assert ((lam >= 0) & (lam <= 1)).all()
    boxes = box.reshape(-1, 4)
    blended = (boxes == NO_BOX).all(1)
    inside = (boxes >= 0).all(1) & (boxes[:, 1] <= 13) & (boxes[:, 3] <= 9)
    ordered = (boxes[:, 0] <= boxes[:, 1]) & (boxes[:, 2] <= boxes[:, 3])
    assert (blended | (inside & ordered)).all(), "every row is NO_BOX or an ordered box inside the image"
    unmixed = (boxes == 0).all(1)
    assert (lam.expand(len(boxes))[unmixed & ~blended] <= 1).all()


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("minmax", [None, [0.2, 0.8]])
def test_cutmix_weight_is_the_pasted_area(impl, device, minmax):
    x = batch_like(300, device, size=(2, 24, 20))
    _, lam, box = draw(impl, x, mixup_alpha=0.0, minmax=minmax, generator=gen(device, 3))
    area = (box[:, 1] - box[:, 0]) * (box[:, 3] - box[:, 2])
    torch.testing.assert_close(lam.double(), 1 - area.double() / (24 * 20), rtol=0, atol=1e-7)
    assert (area > 0).float().mean() > 0.8


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("device", DEVICES)
def test_prob_and_switch_prob_are_honoured(impl, device):
    stats = pytest.importorskip("scipy.stats")
    n = 4000
    _, lam, box = draw(
        impl, batch_like(n, device, size=(1, 16, 16)), prob=0.7, switch_prob=0.25, generator=gen(device, 5)
    )
    blended = (box == NO_BOX).all(1)
    unmixed = (box == 0).all(1)  # the empty box at the origin: the sample is copied whole
    assert (lam[unmixed] == 1).all(), "an unmixed row keeps all of itself"
    cut = ~blended & ~unmixed
    # P(mixed) = 0.7; among mixed rows P(CutMix) = 0.25. (A CutMix draw whose
    # box is empty at the origin would count as unmixed: probability ~1e-5.)
    assert stats.binomtest(int((~unmixed).sum()), n, 0.7).pvalue > 1e-4
    assert stats.binomtest(int(cut.sum()), int((~unmixed).sum()), 0.25).pvalue > 1e-4


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
def test_mixup_weights_follow_beta(impl, device, alpha):
    stats = pytest.importorskip("scipy.stats")
    _, lam, _ = draw(
        impl, batch_like(20000, device, size=(1,)), cutmix_alpha=0.0, mixup_alpha=alpha, generator=gen(device, 11)
    )
    values = lam.double().cpu().numpy()
    if alpha >= 1:
        assert stats.kstest(values, stats.beta(alpha, alpha).cdf).pvalue > 1e-3
    else:
        # Beta(0.2, 0.2) puts ~1.6 % of its mass within 3e-8 of 0 and 1, which
        # float32 rounds onto the ends: compare ten equal-mass bins instead.
        edges = stats.beta(alpha, alpha).ppf([k / 10 for k in range(1, 10)])
        counts = torch.bincount(torch.bucketize(torch.from_numpy(values), torch.from_numpy(edges)), minlength=10)
        assert stats.chisquare(counts.numpy()).pvalue > 1e-3


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("symmetric", [False, True])
def test_random_pairings_are_uniform(impl, device, symmetric):
    """Every permutation of 4 rows (or each of the 3 perfect matchings) equally often."""
    stats = pytest.importorskip("scipy.stats")
    x, g = batch_like(4, device, size=(1,)), gen(device, 7)
    mode = "pair" if symmetric else "elem"
    seen = [tuple(draw(impl, x, mode, "random", cutmix_alpha=0.0, generator=g)[0].tolist()) for _ in range(1200)]
    outcomes = {p: 0 for p in itertools.permutations(range(4))}
    for p in seen:
        outcomes[p] += 1
    counts = [c for c in outcomes.values() if c > 0]
    assert len(counts) == (3 if symmetric else 24)
    assert stats.chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("device", DEVICES)
def test_generator_makes_draws_reproducible_and_calls_differ(impl, device):
    x = batch_like(9, device)
    first = draw(impl, x, pairing="random", generator=gen(device, 1))
    again = draw(impl, x, pairing="random", generator=gen(device, 1))
    other = draw(impl, x, pairing="random", generator=gen(device, 2))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[1], other[1])
    g = gen(device, 1)
    draw(impl, x, pairing="random", generator=g)
    assert not torch.equal(draw(impl, x, pairing="random", generator=g)[1], first[1]), "the generator advances"
    # Without a generator: the device's default generator, which torch.manual_seed seeds.
    torch.manual_seed(3)
    a = draw(impl, x, pairing="random")
    torch.manual_seed(3)
    b = draw(impl, x, pairing="random")
    assert all(torch.equal(u, v) for u, v in zip(a, b))


@pytest.mark.parametrize("device", DEVICES)
def test_a_draw_does_not_depend_on_the_batch_around_it(device):
    """Draw d reads its own stream: row 3's weight is the same in a batch of 5 and of 50."""
    small = draw("op", batch_like(5, device), generator=gen(device, 4))
    large = draw("op", batch_like(50, device), generator=gen(device, 4))
    assert torch.equal(small[1], large[1][:5]) and torch.equal(small[2], large[2][:5])


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    x = batch_like(6, device)
    for mode, pairing in (("batch", "flip"), ("pair", "random"), ("elem", "roll")):
        args = (x, mode, pairing, 0.8, 1.0, 0.9, 0.5, None, True, True, None)
        # Not test_aot_dispatch_*: they compare two calls of a random op.
        torch.library.opcheck(
            torch.ops.mixup.draw_mix_params.default,
            args,
            test_utils=("test_schema", "test_autograd_registration", "test_faketensor"),
        )


@pytest.mark.parametrize("device", DEVICES)
def test_x_that_requires_grad_gives_draws_without_grad(device):
    x = batch_like(4, device).requires_grad_()
    for out in torch.ops.mixup.draw_mix_params(x, "elem", "random", 0.8, 1.0, 1.0, 0.5, None, True, True, None):
        assert not out.requires_grad and out.grad_fn is None


def test_fake_kernel_shapes():
    with FakeTensorMode() as mode:
        x = mode.from_tensor(torch.randn(5, 3, 8, 8))
        index, lam, box = torch.ops.mixup.draw_mix_params(
            x, "batch", "random", 0.8, 1.0, 1.0, 0.5, None, True, True, None
        )
        assert (index.shape, lam.shape, box.shape) == ((5,), (), (4,))
        index, lam, box = torch.ops.mixup.draw_mix_params(x, "elem", "flip", 0.8, 1.0, 1.0, 0.5, None, True, True, None)
        assert (index.shape, lam.shape, box.shape) == ((5,), (5,), (5, 4))


BAD = [
    (dict(mode="rows"), "mode must be one of batch, pair, elem"),
    (dict(pairing="shuffle"), "pairing must be one of flip, roll, random"),
    (dict(mode="pair", pairing="roll"), "needs symmetric partners"),
    (dict(mixup_alpha=-1.0), "mixup_alpha and cutmix_alpha must be finite and >= 0"),
    (dict(cutmix_alpha=float("inf")), "mixup_alpha and cutmix_alpha must be finite and >= 0"),
    (dict(mixup_alpha=0.0, cutmix_alpha=0.0), "one of mixup_alpha > 0, cutmix_alpha > 0 or minmax"),
    (dict(prob=1.5), r"mix_prob must be in \[0, 1\]"),
    (dict(switch_prob=float("nan")), r"switch_prob must be in \[0, 1\]"),
    (dict(minmax=[0.8, 0.2]), r"minmax must be an increasing pair inside \(0, 1\]"),
    (dict(minmax=[0.2]), r"minmax must be an increasing pair inside \(0, 1\]"),
]


@pytest.mark.parametrize("kwargs,match", BAD)
def test_bad_arguments_are_refused_alike(kwargs, match):
    """The compiled op, the reference and the fake kernel: one sentence."""
    x = batch_like(4, "cpu")

    def fake():
        with FakeTensorMode() as mode:
            draw("op", mode.from_tensor(x), **kwargs)

    refused_alike(match, lambda: draw("op", x, **kwargs), lambda: draw("reference", x, **kwargs), fake)


@pytest.mark.parametrize("impl", IMPLS)
def test_cutmix_needs_an_image_and_the_generator_x_s_device(impl):
    with pytest.raises(ValueError, match=r"CutMix needs x with at least 3 dims"):
        draw(impl, torch.randn(4, 7))
    draw(impl, torch.randn(4, 7), cutmix_alpha=0.0)  # features mix without boxes
    with pytest.raises(ValueError, match="x must have a batch dimension"):
        draw(impl, torch.tensor(1.0), cutmix_alpha=0.0)
    if torch.cuda.is_available():
        with pytest.raises(ValueError, match="generator must be on x's device type"):
            draw(impl, batch_like(4, "cuda"), generator=gen("cpu"))


@pytest.mark.parametrize("device", DEVICES)
def test_empty_images_draw_without_nan(device):
    _, lam, box = draw("op", batch_like(6, device, size=(3, 0, 5)), generator=gen(device))
    assert torch.isfinite(lam).all() and (box[:, 0] == box[:, 1]).all()


@requires_cuda
@pytest.mark.parametrize("batch", [4096, 4097, 9000])
@pytest.mark.parametrize("mode", ["elem", "pair"])
def test_large_random_pairings_on_both_sides_of_the_shared_memory_sort(batch, mode):
    x = torch.empty(batch, 2, device="cuda")
    index, lam, _ = draw("op", x, mode, "random", cutmix_alpha=0.0, generator=gen("cuda", 9))
    rows = torch.arange(batch, device="cuda")
    assert torch.equal(index.sort().values, rows)
    assert (index != rows).float().mean() > 0.99
    if mode == "pair":
        assert torch.equal(index[index], rows) and torch.equal(lam[index], lam)

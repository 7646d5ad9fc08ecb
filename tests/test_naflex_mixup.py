"""mixup::naflex_mix(_) against its reference, and NaFlexMixup against timm
1.0.31's own NaFlexMixup with its draws pinned to ours."""

from __future__ import annotations

import random
import types

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from mixup_ext import NO_BOX, NaFlexMixup, NaFlexParams, reference

from . import peers
from .helpers import DEVICES, _timm_or_skip, poisoned_outputs, requires_cuda

pytestmark = pytest.mark.cpu_kernels  # .ci/sanitize_cpu selects by these (pyproject.toml: markers)

DTYPES = [torch.uint8, torch.float16, torch.bfloat16, torch.float32, torch.float64]
C = 10  # classes


def random_images(sizes, dtype, device, seed=0, channels=3, layout="contiguous"):
    g = torch.Generator().manual_seed(seed)
    images = []
    for h, w in sizes:
        if dtype == torch.uint8:
            img = torch.randint(0, 256, (channels, h, w), generator=g, dtype=torch.uint8)
        else:
            img = (torch.randn((channels, h, w), generator=g) * 3).to(dtype)
        if layout == "channels_last":  # (H, W, C) memory viewed as (C, H, W)
            img = img.permute(1, 2, 0).contiguous().permute(2, 0, 1)
        elif layout == "strided":  # every other column of a wider image
            wide = torch.zeros((channels, h, 2 * w), dtype=dtype)
            wide[:, :, ::2] = img
            img = wide[:, :, ::2]
        images.append(img.to(device))
    return images


def pair_arguments(sizes, pairs, lams, pasted, seed=0):
    """box rows for the given pairs: a blend, or a random box inside each overlap."""
    g = torch.Generator().manual_seed(seed + 1)
    rows = []
    for (i, j), paste in zip(pairs, pasted):
        if not paste:
            rows.append([NO_BOX] * 6)
            continue
        oh, ow = min(sizes[i][0], sizes[j][0]), min(sizes[i][1], sizes[j][1])
        h, w = (int(torch.randint(0, n + 1, (), generator=g)) for n in (oh, ow))
        rows.append([h, w] + [int(torch.randint(0, room + 1, (), generator=g)) for room in (oh - h, ow - w) * 2])
    return (
        torch.tensor(pairs, dtype=torch.int64).view(-1, 2),
        torch.tensor(lams, dtype=torch.float64),
        torch.tensor(rows, dtype=torch.int64).view(-1, 6),
    )


# Odd sizes, 1-pixel sides, equal sizes, one image in no pair, pairs out of order.
SIZES = [(7, 5), (1, 9), (13, 13), (8, 1), (5, 11), (16, 3), (2, 2), (9, 14), (33, 17)]
PAIRS = [(3, 0), (1, 7), (2, 5), (8, 6)]  # image 4 stays unpaired
LAMS = [0.3, 0.0, 0.77, 1.0]


def check_against_reference(images, pairs, lam, box):
    expected = reference.naflex_mix(images, pairs, lam, box)
    originals = [img.clone() for img in images]
    with poisoned_outputs():
        out = torch.ops.mixup.naflex_mix(images, pairs, lam, box)
    for k, (got, want) in enumerate(zip(out, expected)):
        assert got.shape == want.shape and got.stride() == want.stride(), k
        assert torch.equal(got, want), f"image {k} differs"  # every product and sum rounded alike
    assert all(torch.equal(a, b) for a, b in zip(images, originals)), "the op modified its input"

    in_place = [img.clone() for img in images]
    torch.ops.mixup.naflex_mix_(in_place, pairs, lam, box)
    for k, (got, want) in enumerate(zip(in_place, expected)):
        assert torch.equal(got, want), f"in-place image {k} differs"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "pasted", [(False,) * 4, (True,) * 4, (True, False, True, False)], ids=["blend", "paste", "both"]
)
def test_op_matches_reference(device, dtype, pasted):
    images = random_images(SIZES, dtype, device)
    check_against_reference(images, *pair_arguments(SIZES, PAIRS, LAMS, pasted))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("layout", ["channels_last", "strided"])
def test_op_reads_any_layout(device, layout):
    images = random_images(SIZES, torch.float32, device, layout=layout)
    check_against_reference(images, *pair_arguments(SIZES, PAIRS, LAMS, (True, False, True, False)))


@pytest.mark.parametrize("device", DEVICES)
def test_op_at_timm_scale(device):
    """256 images of 3 x [128, 512]^2, every pair either way."""
    g = torch.Generator().manual_seed(5)
    sizes = [tuple(s) for s in torch.randint(128, 513, (255, 2), generator=g).tolist()]
    order = torch.randperm(255, generator=g).tolist()
    pairs = list(zip(order[0::2], order[1::2]))
    lams = torch.rand(len(pairs), generator=g, dtype=torch.float64).tolist()
    pasted = (torch.rand(len(pairs), generator=g) < 0.5).tolist()
    images = random_images(sizes, torch.bfloat16, device, seed=5)
    check_against_reference(images, *pair_arguments(sizes, pairs, lams, pasted, seed=5))


@pytest.mark.parametrize("device", DEVICES)
def test_op_edge_batches(device):
    assert torch.ops.mixup.naflex_mix([], *pair_arguments([], [], [], [])) == []
    one = random_images([(4, 6)], torch.float32, device)
    out = torch.ops.mixup.naflex_mix(one, *pair_arguments([(4, 6)], [], [], []))
    assert torch.equal(out[0], one[0]) and out[0].data_ptr() != one[0].data_ptr()
    empty = random_images([(0, 6), (3, 0)], torch.float32, device)
    out = torch.ops.mixup.naflex_mix(empty, *pair_arguments([(0, 6), (3, 0)], [(0, 1)], [0.5], [False]))
    assert [o.shape for o in out] == [e.shape for e in empty]


def op_calls(op_name, images, pairs, lam, box):
    op = getattr(torch.ops.mixup, op_name).default
    ref = getattr(reference, op_name)
    fake_mode = FakeTensorMode(allow_non_fake_inputs=True)

    def fake():
        with fake_mode:
            op([fake_mode.from_tensor(img) for img in images], pairs, lam, box)

    return [lambda: op(images, pairs, lam, box), lambda: ref(images, pairs, lam, box), fake]


def refusal_cases():
    images = random_images([(4, 5), (6, 3), (2, 2)], torch.float32, "cpu")
    good = pair_arguments([(4, 5), (6, 3), (2, 2)], [(0, 1)], [0.5], [True])
    pairs, lam, box = good
    bad_box = box.clone()
    bad_box[0] = torch.tensor([4, 1, 1, 0, 0, 0])  # 4 rows at row 1 of a 4-row overlap
    return {
        "image not 3-d": ([images[0][0]] + images[1:], *good),
        "image dtype": ([images[0].int()] + images[1:], *good),
        "mixed dtypes": ([images[0], images[1].double(), images[2]], *good),
        "channel counts": ([images[0], images[1][:2], images[2]], *good),
        "pairs dtype": (images, pairs.int(), lam, box),
        "pairs shape": (images, pairs.view(2), lam, box),
        "lam length": (images, pairs, lam.repeat(2), box),
        "lam dtype": (images, pairs, torch.tensor([1]), box),
        "box shape": (images, pairs, lam, box[:, :4]),
        "too many pairs": (images, torch.tensor([[0, 1], [2, 0]]), lam.repeat(2), box.repeat(2, 1)),
        "index out of range": (images, torch.tensor([[0, 3]]), lam, box),
        "image in two pairs": (images, torch.tensor([[1, 1]]), lam, box),
        "lam above 1": (images, pairs, torch.tensor([1.5], dtype=torch.float64), box),
        "lam NaN": (images, pairs, torch.tensor([float("nan")], dtype=torch.float64), box),
        "half-marked blend row": (images, pairs, lam, torch.tensor([[NO_BOX, 1, 1, 1, 1, 1]])),
        "box past the overlap": (images, pairs, lam, bad_box),
        "negative box": (images, pairs, lam, torch.tensor([[1, 1, -1, 0, 0, 0]])),
    }


CASES = refusal_cases()


@pytest.mark.parametrize("op_name", ["naflex_mix", "naflex_mix_"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_refusals_name_the_argument_in_one_sentence(op_name, case):
    """Compiled op, reference and fake kernel refuse alike, with a
    ValueError that names the argument. (The fake kernel cannot read values:
    it checks only the metadata cases.)"""
    compiled, ref, fake = op_calls(op_name, *CASES[case])
    with pytest.raises(ValueError) as refused:
        compiled()
    words = str(refused.value)
    assert words.startswith(f"mixup::{op_name}: ")
    assert any(name in words for name in ("images", "pairs", "lam", "box"))
    with pytest.raises(ValueError) as again:
        ref()
    assert str(again.value) == words
    metadata_only = case in (
        "image not 3-d",
        "image dtype",
        "mixed dtypes",
        "channel counts",
        "pairs dtype",
        "pairs shape",
        "lam length",
        "lam dtype",
        "box shape",
        "too many pairs",
    )
    if metadata_only:
        with pytest.raises(ValueError) as faked:
            fake()
        assert str(faked.value) == words


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    images = random_images(SIZES, torch.float32, device)
    args = pair_arguments(SIZES, PAIRS, LAMS, (True, False, True, False))
    torch.library.opcheck(torch.ops.mixup.naflex_mix.default, (images, *args))
    torch.library.opcheck(torch.ops.mixup.naflex_mix_.default, ([img.clone() for img in images], *args))


# ---------------------------------------------------------------------------
# Against timm 1.0.31's NaFlexMixup, its draws pinned to ours
# ---------------------------------------------------------------------------


def timm_naflex():
    return _timm_or_skip(peers.timm_naflex_mixup_module(), "data/naflex_mixup.py")


class PinnedDraws:
    """Stands in for `random` and for torch's draws inside timm's module."""

    def __init__(self, apply: float, switch: float, lam: float, shuffles, offsets):
        self._apply, self._switch, self._lam = apply, switch, lam
        self._shuffles, self._offsets = list(shuffles), list(offsets)

    # random.*
    def random(self):
        return self._apply

    def shuffle(self, window):
        perm = self._shuffles.pop(0)
        window[:] = [window[k] for k in perm]

    def randint(self, low, high):
        value = self._offsets.pop(0)
        assert low <= value <= high
        return value

    # torch.*, delegating the rest
    def torch(self):
        pinned = self

        class Beta:
            def __init__(self, a, b):
                pass

            def sample(self):
                return torch.tensor(pinned._lam)

        class TorchShim:  # torch, but for its two draws
            rand = staticmethod(lambda *a, **k: torch.tensor(pinned._switch))
            distributions = types.SimpleNamespace(Beta=Beta)

            def __getattr__(self, name):
                return getattr(torch, name)

        shim = TorchShim()
        return shim


def pinned_case(sizes, use_cutmix, lam, local_shuffle, seed):
    """Draws for timm and ours: the window shuffles, timm's per-sample
    offsets, and the same values as NaFlexParams.from_draws takes them."""
    rng = random.Random(seed)
    batch = len(sizes)
    order = sorted(range(batch), key=lambda i: sizes[i][1] / sizes[i][0])
    shuffles = []
    if local_shuffle > 1:
        for start in range(0, batch, local_shuffle):
            window = order[start : start + local_shuffle]
            perm = list(range(len(window)))
            rng.shuffle(perm)
            shuffles.append(perm)
            order[start : start + local_shuffle] = [window[k] for k in perm]
    partner = {}
    for a, b in zip(order[0::2], order[1::2]):
        partner[a], partner[b] = b, a
    ratio = (1.0 - lam) ** 0.5
    per_sample, timm_offsets = {}, []
    for i in range(batch):  # timm draws per sample, in index order
        if i not in partner:
            continue
        j = partner[i]
        oh, ow = min(sizes[i][0], sizes[j][0]), min(sizes[i][1], sizes[j][1])
        ch, cw = int(oh * ratio), int(ow * ratio)
        y, x = rng.randint(0, oh - ch), rng.randint(0, ow - cw)
        if use_cutmix:
            timm_offsets += [y, x]
        per_sample[i] = ((y + 0.5) / (oh - ch + 1), (x + 0.5) / (ow - cw + 1))
    count = batch // 2
    offsets = [per_sample[order[2 * p]] + per_sample[order[2 * p + 1]] for p in range(count)]
    ours = NaFlexParams.from_draws(sizes, order, [use_cutmix] * count, [lam] * count, offsets)
    return shuffles, timm_offsets, ours


def run_timm(monkeypatch, pinned, images, targets, epoch=0, **kwargs):
    module = timm_naflex()
    monkeypatch.setattr(module, "random", pinned)
    monkeypatch.setattr(module, "torch", pinned.torch())
    mixup = module.NaFlexMixup(**kwargs)
    mixup.set_epoch(epoch)
    return mixup([img.clone() for img in images], targets)


def assert_matches_timm(ours, theirs, dtype):
    (our_images, our_targets), (their_images, their_targets) = ours, theirs
    assert len(our_images) == len(their_images) and len(our_targets) == len(their_targets)
    for k, (a, b) in enumerate(zip(our_images, their_images)):
        assert a.shape == b.shape and a.dtype == b.dtype, k
        if dtype == torch.uint8:  # timm truncates its float blends; we round to nearest
            assert (a.int() - b.int()).abs().max() <= 1, k
        elif dtype in (torch.float16, torch.bfloat16):
            # timm rounds lam * x_i to the image dtype before it adds, we round
            # once: apart by up to one unit in the last place of the inputs'
            # magnitude (more than of the result's, where the two cancel).
            atol = torch.finfo(dtype).eps * b.float().abs().max().item() * 4
            torch.testing.assert_close(a.float(), b.float(), rtol=0, atol=atol, msg=f"image {k}")
        else:
            torch.testing.assert_close(a, b, rtol=2e-6, atol=2e-6, msg=f"image {k}")
    torch.testing.assert_close(torch.stack(our_targets), torch.stack(their_targets), rtol=1e-6, atol=1e-6)


TIMM_SIZES = [(12, 20), (16, 16), (9, 30), (24, 10), (15, 15), (20, 28), (11, 7), (30, 30), (8, 13)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("use_cutmix", [False, True], ids=["mixup", "cutmix"])
@pytest.mark.parametrize("batch", [9, 8, 2], ids=["odd", "even", "two"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.uint8])
def test_matches_timm(monkeypatch, device, use_cutmix, batch, dtype):
    sizes = TIMM_SIZES[:batch]
    images = random_images(sizes, dtype, device, seed=batch)
    targets = torch.randint(0, C, (batch,), generator=torch.Generator().manual_seed(batch))
    lam = 0.37
    shuffles, timm_offsets, params = pinned_case(sizes, use_cutmix, lam, local_shuffle=4, seed=batch)
    kwargs = dict(num_classes=C, label_smoothing=0.1, mixup_alpha=0.8, cutmix_alpha=1.0)
    pinned = PinnedDraws(
        apply=0.0, switch=0.0 if use_cutmix else 0.99, lam=lam, shuffles=shuffles, offsets=timm_offsets
    )
    theirs = run_timm(monkeypatch, pinned, images, targets, **kwargs)
    ours = NaFlexMixup(**kwargs).apply(images, targets, params)
    assert_matches_timm(ours, theirs, dtype)


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_matches_timm_multi_label(monkeypatch, smoothing):
    if "multi_label" not in timm_naflex().NaFlexMixup.__init__.__code__.co_varnames:
        pytest.skip("this timm's NaFlexMixup predates multi_label (1.0.31)")
    sizes = TIMM_SIZES[:6]
    images = random_images(sizes, torch.float32, "cpu")
    dense = (torch.rand(6, C, generator=torch.Generator().manual_seed(2)) > 0.6).long()
    shuffles, _, params = pinned_case(sizes, False, 0.6, local_shuffle=4, seed=3)
    kwargs = dict(num_classes=C, label_smoothing=smoothing, multi_label=True, cutmix_alpha=0.0)
    theirs = run_timm(monkeypatch, PinnedDraws(0.0, 0.99, 0.6, shuffles, []), images, dense, **kwargs)
    ours = NaFlexMixup(**kwargs).apply(images, dense, params)
    assert_matches_timm(ours, theirs, torch.float32)


@pytest.mark.parametrize(
    "kwargs,epoch,batch",
    [(dict(prob=0.5), 0, 4), (dict(mixup_off_epoch=3), 3, 4), (dict(), 0, 1)],
    ids=["prob", "off_epoch", "batch_of_one"],
)
def test_matches_timm_when_not_mixing(monkeypatch, kwargs, epoch, batch):
    """prob not drawn (random.random() = 0.9 > 0.5), mixup_off_epoch reached,
    a batch of one; with list targets, as the loader wrapper passes them."""
    images = random_images(TIMM_SIZES[:batch], torch.float32, "cpu")
    labels = [3, 1, 4, 1][:batch]
    try:
        theirs = run_timm(
            monkeypatch,
            PinnedDraws(0.9, 0.0, 0.5, [], []),
            images,
            labels,
            epoch=epoch,
            num_classes=C,
            label_smoothing=0.1,
            **kwargs,
        )
    except ValueError as e:  # timm before 1.0.31 raised on a batch of one
        pytest.skip(f"this timm fails here: {e}")
    mixup = NaFlexMixup(num_classes=C, label_smoothing=0.1, generator=torch.Generator().manual_seed(8), **kwargs)
    mixup.set_epoch(epoch)
    if "prob" in kwargs:  # our own prob draw is pinned above it, too
        ours = mixup.apply(images, labels, NaFlexParams.unmixed(batch))
    else:
        ours = mixup(images, labels)
    assert_matches_timm(ours, theirs, torch.float32)


# ---------------------------------------------------------------------------
# NaFlexMixup's own promises
# ---------------------------------------------------------------------------


def test_drop_in_signature_matches_timm():
    import inspect

    theirs = inspect.signature(timm_naflex().NaFlexMixup.__init__).parameters
    ours = inspect.signature(NaFlexMixup.__init__).parameters
    for name, parameter in theirs.items():
        assert name in ours and ours[name].default == parameter.default and ours[name].kind == parameter.kind, name


@pytest.mark.parametrize("device", DEVICES)
def test_generator_reproduces_and_in_place_agrees(device):
    sizes = [(int(h), int(w)) for h, w in torch.randint(4, 40, (11, 2), generator=torch.Generator().manual_seed(1))]
    images = random_images(sizes, torch.float32, device)
    labels = torch.arange(11) % C

    def run(**kwargs):
        mixup = NaFlexMixup(num_classes=C, generator=torch.Generator().manual_seed(4), **kwargs)
        return mixup([img.clone() for img in images], labels)

    first, second, in_place = run(), run(), run(in_place=True)
    for a, b, c in zip(first[0], second[0], in_place[0]):
        assert torch.equal(a, b) and torch.equal(a, c)
    assert torch.equal(torch.stack(first[1]), torch.stack(second[1]))
    assert any(not torch.equal(a, img) for a, img in zip(first[0], images)), "nothing was mixed"


def test_pair_mode_draws_per_pair():
    sizes = [(20, 20)] * 40
    mixup = NaFlexMixup(num_classes=C, mode="pair", generator=torch.Generator().manual_seed(0))
    params = mixup.sample(random_images(sizes, torch.float32, "cpu"))
    assert params.lam.unique().numel() == 20
    blends = params.box[:, 0] == NO_BOX
    assert 0 < blends.sum() < 20  # switch_prob 0.5 over 20 pairs
    batch = NaFlexMixup(num_classes=C, generator=torch.Generator().manual_seed(0)).sample(
        random_images(sizes, torch.float32, "cpu")
    )
    assert batch.lam.unique().numel() == 1


def test_weights_follow_the_areas():
    """Every image's target weight is the share of its pixels that are its own."""
    sizes = [(12, 20), (16, 16), (9, 30), (24, 10), (15, 15)]
    for cutmix in (False, True):
        mixup = NaFlexMixup(
            num_classes=C,
            mixup_alpha=0.0 if cutmix else 1.0,
            cutmix_alpha=1.0 if cutmix else 0.0,
            generator=torch.Generator().manual_seed(3),
        )
        images = [torch.zeros(1, h, w) for h, w in sizes]
        ones = [torch.ones(1, h, w) for h, w in sizes]
        params = mixup.sample(images)
        # Mix an all-0 image with an all-1 partner: the mean of the output is
        # the share of the partner's pixels.
        for i, j in params.pairs.tolist():
            pair = [images[i], ones[j]]
            out = torch.ops.mixup.naflex_mix(
                pair, torch.tensor([[0, 1]]), params.lam[params.pairs[:, 0] == i], params.box[params.pairs[:, 0] == i]
            )
            assert abs(out[0].mean().item() - (1 - params.weight[i].item())) < 1e-6


def test_constructor_refusals():
    for kwargs, words in (
        (dict(mixup_alpha=-1.0), "mixup_alpha and cutmix_alpha must be >= 0"),
        (dict(mixup_alpha=0.0, cutmix_alpha=0.0), "nothing to mix"),
        (dict(prob=1.5), "prob must be in [0, 1]"),
        (dict(switch_prob=-0.1), "switch_prob must be in [0, 1]"),
        (dict(mode="elem"), "mode must be 'batch' or 'pair'"),
        (dict(generator=7), "generator must be a CPU torch.Generator"),
        (dict(local_shuffle=2.5), "local_shuffle must be an int"),
    ):
        with pytest.raises(ValueError, match=pytest.importorskip("re").escape(words)):
            NaFlexMixup(num_classes=C, **kwargs)
    with pytest.raises(ValueError, match=r"targets must be \(2,\) class ids"):
        NaFlexMixup(num_classes=C)(random_images([(4, 4)] * 2, torch.float32, "cpu"), torch.zeros(2, 3))


@requires_cuda
def test_cuda_call_never_syncs():
    images = random_images(TIMM_SIZES, torch.bfloat16, "cuda")
    labels = torch.arange(len(TIMM_SIZES)) % C
    cuda_labels = labels.cuda()
    mixup = NaFlexMixup(num_classes=C, generator=torch.Generator().manual_seed(0))
    mixup(images, labels)  # warm up
    mixup(images, cuda_labels)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        mixup(images, labels)
        mixup(images, cuda_labels)
    finally:
        torch.cuda.set_sync_debug_mode("default")


@pytest.mark.parametrize(
    "images, words",
    [
        ([], r"images must be a non-empty list of \(C, H, W\) tensors, got \[\]"),
        (torch.rand(2, 3, 8, 8), r"images must be a non-empty list of \(C, H, W\) tensors, got torch.float32 tensor"),
        ([torch.rand(3, 0, 32), torch.rand(3, 8, 8)], r"images\[0\] must be a \(C, H, W\) tensor with C, H and W >= 1"),
        ([torch.rand(3, 8, 8), torch.rand(8, 8)], r"images\[1\] must be a \(C, H, W\) tensor .* shape \[8, 8\]"),
        ([torch.rand(3, 8, 8), "img"], r"images\[1\] must be a \(C, H, W\) tensor .* got a str"),
    ],
)
def test_bad_image_lists_are_value_errors_naming_the_argument(images, words):
    mixup = NaFlexMixup(num_classes=4)
    with pytest.raises(ValueError, match=f"NaFlexMixup: {words}"):
        mixup(images, [0] * max(1, len(images)))

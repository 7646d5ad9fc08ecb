"""The timm-compatible Mixup front end: semantics (as formulas, and against
timm itself with its random draws pinned, where timm is installed), the
statistics of its draws, and its behaviour (odd batches, prob, generator,
pairings, layouts, target forms, no syncs, compile)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mixup_ext import NO_BOX, MixParams, Mixup
from mixup_ext import _sampling as sampling

from .helpers import DEVICES, assert_close, randn, timm_mixup_module

pytestmark = [
    pytest.mark.cpu_kernels,
    pytest.mark.usefixtures("cuda_tile"),
]  # .ci/sanitize_cpu selects by these (pyproject.toml: markers)

C = 10


def smoothed(target, eps, classes=C):
    return (1 - eps) * torch.nn.functional.one_hot(target, classes).float() + eps / classes


def images(batch, device, dtype=torch.float32, seed=0, size=(3, 12, 10)):
    return randn((batch, *size), dtype, device, seed=seed)


def labels(batch, device, seed=1):
    return torch.randint(0, C, (batch,), generator=torch.Generator().manual_seed(seed)).to(device)


def gen(device, seed=0):
    return torch.Generator(device=device).manual_seed(seed)


# ---------------------------------------------------------------------------
# Semantics, written as formulas
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
def test_batch_mixup_formula(device):
    x, y = images(6, device), labels(6, device)
    mixup = Mixup(mixup_alpha=1.0, num_classes=C, label_smoothing=0.1)
    lam = torch.tensor(0.3, device=device)
    out, target = mixup.apply(x, y, MixParams(torch.arange(5, -1, -1, device=device), lam, None))
    assert_close(out, 0.3 * x + 0.7 * x.flip(0))
    assert_close(target, 0.3 * smoothed(y, 0.1) + 0.7 * smoothed(y.flip(0), 0.1))


@pytest.mark.parametrize("device", DEVICES)
def test_batch_cutmix_formula(device):
    x, y = images(6, device), labels(6, device)
    box = torch.tensor([2, 9, 1, 6], device=device)
    lam = 1 - 7 * 5 / (12 * 10)
    out, target = Mixup(cutmix_alpha=1.0, mixup_alpha=0.0, num_classes=C).apply(
        x, y, MixParams(torch.arange(5, -1, -1, device=device), torch.tensor(lam, device=device), box)
    )
    expected = x.clone()
    expected[:, :, 2:9, 1:6] = x.flip(0)[:, :, 2:9, 1:6]  # timm: x[:, :, yl:yh, xl:xh] = x.flip(0)[...]
    assert torch.equal(out, expected)
    assert_close(target, lam * smoothed(y, 0.1) + (1 - lam) * smoothed(y.flip(0), 0.1))


@pytest.mark.parametrize("full_side", [True, False], ids=["timm", "torchvision"])
def test_centred_box_is_the_scalar_rule(full_side):
    """Vectorised box == timm 1.0's scalar rand_bbox (a side of exactly cut
    pixels), or with full_side=False torchvision's (cut // 2 on both sides)."""
    height, width = 13, 9
    for lam in (0.0, 0.1, 0.37, 0.5, 0.93, 1.0):
        for cy in range(height):
            for cx in range(width):
                ratio = np.sqrt(1 - lam)
                cut_h, cut_w = int(height * ratio), int(width * ratio)
                up_h, up_w = ((cut_h + 1) // 2, (cut_w + 1) // 2) if full_side else (cut_h // 2, cut_w // 2)
                want = [
                    np.clip(cy - cut_h // 2, 0, height),
                    np.clip(cy + up_h, 0, height),
                    np.clip(cx - cut_w // 2, 0, width),
                    np.clip(cx + up_w, 0, width),
                ]
                u_y = torch.tensor((cy + 0.5) / height, dtype=torch.float64)
                u_x = torch.tensor((cx + 0.5) / width, dtype=torch.float64)
                got = sampling.centred_box(torch.tensor(lam, dtype=torch.float64), u_y, u_x, height, width, full_side)
                assert got.tolist() == want, (lam, cy, cx)


def test_minmax_box_is_timms_rand_bbox_minmax():
    height, width, minmax = 20, 16, (0.2, 0.8)
    rng = np.random.default_rng(0)
    for _ in range(200):
        u = torch.tensor(rng.random(4))
        lo_h, hi_h, lo_w, hi_w = int(height * 0.2), int(height * 0.8), int(width * 0.2), int(width * 0.8)
        cut_h = lo_h + int(u[0] * (hi_h - lo_h))  # randint(lo, hi): uniform over [lo, hi)
        cut_w = lo_w + int(u[1] * (hi_w - lo_w))
        y0, x0 = int(u[2] * (height - cut_h + 1)), int(u[3] * (width - cut_w + 1))  # randint(0, H - cut_h + 1)
        assert sampling.minmax_box(u, minmax, height, width).tolist() == [y0, y0 + cut_h, x0, x0 + cut_w]
        assert lo_h <= cut_h < hi_h and 0 <= y0 and y0 + cut_h <= height


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["batch", "pair", "elem"])
def test_sample_then_apply_equals_the_call(device, mode):
    x, y = images(7, device), labels(7, device)
    first = Mixup(0.8, 1.0, mode=mode, num_classes=C, generator=gen(device, 3))
    second = Mixup(0.8, 1.0, mode=mode, num_classes=C, generator=gen(device, 3))
    out, target = first(x, y)
    expected = second.apply(x, y, second.sample(x))
    assert torch.equal(out, expected[0]) and torch.equal(target, expected[1])


# ---------------------------------------------------------------------------
# Against timm itself, with its numpy draws pinned to ours
# ---------------------------------------------------------------------------


class PinnedNumpyRandom:
    """Stands in for np.random inside timm.data.mixup: returns given values."""

    def __init__(self, rand, beta, randint):
        self._rand, self._beta, self._randint = list(rand), list(beta), list(randint)

    def rand(self, size=None):
        return self._rand.pop(0) if size is None else np.asarray(self._rand.pop(0))

    def beta(self, a, b, size=None):
        return self._beta.pop(0) if size is None else np.asarray(self._beta.pop(0))

    def randint(self, low, high=None, size=None):
        return self._randint.pop(0)


def timm_mixup(monkeypatch, pinned, x, y, **kwargs):
    mixup_module = timm_mixup_module()
    monkeypatch.setattr(mixup_module.np, "random", pinned)
    monkeypatch.setattr(mixup_module.np, "bool", bool, raising=False)  # old timm uses np.bool
    return mixup_module.Mixup(**kwargs)(x.clone(), y)


@pytest.mark.parametrize("device", DEVICES)
def test_matches_timm_batch_mixup(device, monkeypatch):
    x, y = images(8, device), labels(8, device)
    kw = dict(mixup_alpha=0.8, cutmix_alpha=0.0, label_smoothing=0.1, num_classes=C)
    t_out, t_target = timm_mixup(monkeypatch, PinnedNumpyRandom([0.0], [0.3], []), x, y, **kw)
    out, target = Mixup(**kw).apply(
        x, y, MixParams(torch.arange(7, -1, -1, device=device), torch.tensor(0.3, device=device), None)
    )
    assert_close(out, t_out)
    assert_close(target, t_target.float())


@pytest.mark.parametrize("device", DEVICES)
def test_matches_timm_batch_cutmix(device, monkeypatch):
    x, y = images(8, device), labels(8, device)
    height, width = x.shape[-2:]
    kw = dict(mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=C)
    lam, cy, cx = 0.6, 4, 7
    t_out, t_target = timm_mixup(monkeypatch, PinnedNumpyRandom([0.0], [lam], [cy, cx]), x, y, **kw)
    box = sampling.centred_box(
        torch.tensor(lam, dtype=torch.float64),
        torch.tensor((cy + 0.5) / height),
        torch.tensor((cx + 0.5) / width),
        height,
        width,
    )
    params = MixParams(
        torch.arange(7, -1, -1, device=device),
        sampling.box_area_weight(box, height, width).float().to(device),
        box.to(device),
    )
    out, target = Mixup(**kw).apply(x, y, params)
    assert torch.equal(out, t_out)
    assert_close(target, t_target.float())


@pytest.mark.parametrize("device", DEVICES)
def test_matches_timm_elem_mode_with_both(device, monkeypatch):
    batch = 6
    x, y = images(batch, device), labels(batch, device)
    height, width = x.shape[-2:]
    kw = dict(mixup_alpha=0.8, cutmix_alpha=1.0, mode="elem", label_smoothing=0.1, num_classes=C)
    use_cutmix = np.array([True, False, True, False, False, True])
    lam_cut = np.array([0.5, 0.9, 0.7, 0.2, 0.4, 0.8])
    lam_mix = np.array([0.1, 0.35, 0.6, 0.45, 0.95, 0.3])
    apply = np.array([0.0, 0.0, 0.0, 0.0, 0.99, 0.0])  # sample 4 is not mixed (rand >= prob 0.9)
    centres = [3, 2, 8, 5, 6, 1]  # cy, cx for samples 0, 2 and 5
    # timm's draw order: rand(B) switch, beta(cutmix), beta(mixup), rand(B) prob, then randint per box
    pinned = PinnedNumpyRandom([np.where(use_cutmix, 0.0, 0.99), apply], [lam_cut, lam_mix], centres)
    t_out, t_target = timm_mixup(monkeypatch, pinned, x, y, prob=0.9, **kw)

    lam = np.where(use_cutmix, lam_cut, lam_mix)
    boxes = torch.full((batch, 4), NO_BOX, dtype=torch.int64)  # blend rows...
    boxes[apply >= 0.9] = 0  # ...and unmixed rows copied whole, as the sampler writes them
    weights = torch.tensor(lam, dtype=torch.float64)
    it = iter(centres)
    for i in range(batch):
        if use_cutmix[i] and apply[i] < 0.9:
            cy, cx = next(it), next(it)
            boxes[i] = sampling.centred_box(
                torch.tensor(lam[i], dtype=torch.float64),
                torch.tensor((cy + 0.5) / height),
                torch.tensor((cx + 0.5) / width),
                height,
                width,
            )
            weights[i] = sampling.box_area_weight(boxes[i], height, width)
        if apply[i] >= 0.9:
            weights[i] = 1.0
    params = MixParams(torch.arange(batch - 1, -1, -1, device=device), weights.float().to(device), boxes.to(device))
    out, target = Mixup(prob=0.9, **kw).apply(x, y, params)
    assert_close(out, t_out)
    assert_close(target, t_target.float(), scale=4)  # timm's lam passes through float32 numpy


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_matches_timm_multi_label(device, monkeypatch, smoothing):
    """timm 1.0.31's multi_label: dense multi-hot rows smoothed towards 0.5, then mixed (elem mode)."""
    batch = 6
    x = images(batch, device)
    multi_hot = (torch.rand(batch, C, generator=torch.Generator().manual_seed(4)) > 0.6).to(device)
    kw = dict(mixup_alpha=0.8, cutmix_alpha=0.0, mode="elem", label_smoothing=smoothing, num_classes=C)
    lam = np.array([0.1, 0.35, 0.6, 0.45, 0.95, 0.3], dtype=np.float64)
    apply = np.array([0.0, 0.0, 0.0, 0.0, 0.99, 0.0])  # sample 4 is not mixed
    mixup_module = timm_mixup_module()
    if "multi_label" not in mixup_module.Mixup.__init__.__code__.co_varnames:
        pytest.skip("this timm predates multi_label (1.0.31)")
    t_out, t_target = timm_mixup(
        monkeypatch, PinnedNumpyRandom([apply], [lam], []), x, multi_hot, prob=0.9, multi_label=True, **kw
    )
    weights = torch.tensor(np.where(apply < 0.9, lam, 1.0), dtype=torch.float32, device=device)
    params = MixParams(torch.arange(batch - 1, -1, -1, device=device), weights, None)
    out, target = Mixup(prob=0.9, multi_label=True, **kw).apply(x, multi_hot, params)
    assert_close(out, t_out)
    assert_close(target, t_target, scale=4)  # timm's lam passes through x's dtype and float32 numpy


def test_multi_label_semantics_and_refusals():
    x = images(5, "cpu")
    multi_hot = torch.tensor([[1, 0, 1], [0, 0, 0], [1, 1, 1], [0, 1, 0], [1, 0, 0]], dtype=torch.int64)
    mixup = Mixup(1.0, 1.0, mode="elem", label_smoothing=0.2, num_classes=3, multi_label=True, generator=gen("cpu", 3))
    params = Mixup(1.0, 1.0, mode="elem", num_classes=3, generator=gen("cpu", 3)).sample(x)
    out, target = mixup(x, multi_hot)
    smoothed = multi_hot.float() * 0.8 + 0.1
    lam = params.lam[:, None]
    torch.testing.assert_close(target, lam * smoothed + (1 - lam) * smoothed[params.index])
    assert target.dtype == torch.float32 and ((target >= 0.1) & (target <= 0.9)).all()
    mixup.mixup_enabled = False
    torch.testing.assert_close(mixup(x, multi_hot)[1], smoothed)
    with pytest.raises(ValueError, match=r"multi_label=True needs target as a dense \(B, num_classes\) = \(5, 3\)"):
        mixup(x, torch.zeros(5, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"got shape \(5, 4\)"):
        Mixup(num_classes=3, multi_label=True)(x, torch.zeros(5, 4))
    with pytest.raises(ValueError, match="multi_label=True .* needs target_form='dense'"):
        Mixup(num_classes=3, multi_label=True, target_form="index")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["batch", "pair", "elem"])
def test_cutmix_is_a_paste_even_when_its_box_is_empty(device, mode):
    """correct_lam=False on a narrow image: about one box in ten has no
    width. timm pastes nothing there and keeps the uncorrected lam for the
    labels; the image must come through whole, never blended."""
    batch, seeds = (6, 80) if mode == "batch" else (64, 2)  # one box per call in batch mode: more calls
    x = images(batch, device, size=(2, 32, 3))
    mixup = Mixup(mixup_alpha=0.0, cutmix_alpha=1.0, mode=mode, correct_lam=False, num_classes=C, label_smoothing=0.0)
    empties = 0
    for seed in range(seeds):
        mixup.generator = gen(device, seed)
        params = mixup.sample(x)
        out, target = mixup.apply(x, labels(batch, device), params)
        box = params.box.reshape(-1, 4).expand(batch, 4)
        for i in range(batch):
            y0, y1, x0, x1 = box[i].tolist()
            expected = x[i].clone()
            expected[:, y0:y1, x0:x1] = x[int(params.index[i])][:, y0:y1, x0:x1]
            assert torch.equal(out[i], expected), f"row {i} (box {box[i].tolist()}) is not a paste"
        empty = (box[:, 1] <= box[:, 0]) | (box[:, 3] <= box[:, 2])
        lam = params.lam.expand(batch)
        assert (lam[empty] <= 1).all()
        empties += int((empty & (lam < 1)).sum())
        onehot = torch.nn.functional.one_hot(labels(batch, device), C).float()
        torch.testing.assert_close(target, lam[:, None] * onehot + (1 - lam[:, None]) * onehot[params.index])
    assert empties > 0, "the draws must include empty boxes with an uncorrected weight"


@pytest.mark.parametrize("device", DEVICES)
def test_matches_timm_empty_box_without_correction(device, monkeypatch):
    batch = 4
    x, y = images(batch, device, size=(3, 12, 2)), labels(batch, device)
    height, width = x.shape[-2:]
    kw = dict(mixup_alpha=0.0, cutmix_alpha=1.0, label_smoothing=0.1, num_classes=C, correct_lam=False)
    lam, cy, cx = 0.9, 5, 1  # cut_w = int(2 * sqrt(0.1)) = 0: an empty box
    t_out, t_target = timm_mixup(monkeypatch, PinnedNumpyRandom([0.0], [lam], [cy, cx]), x, y, **kw)
    box = sampling.centred_box(
        torch.tensor(lam, dtype=torch.float64),
        torch.tensor((cy + 0.5) / height),
        torch.tensor((cx + 0.5) / width),
        height,
        width,
    )
    assert int(box[3] - box[2]) == 0
    params = MixParams(
        torch.arange(batch - 1, -1, -1, device=device),
        torch.tensor(lam, dtype=torch.float32, device=device),
        box.to(device),
    )
    out, target = Mixup(**kw).apply(x, y, params)
    assert torch.equal(out, t_out) and torch.equal(out, x), "nothing pasted, nothing blended"
    assert_close(target, t_target.float())


# ---------------------------------------------------------------------------
# Statistics of the draws
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("alpha", [0.2, 1.0, 4.0])
def test_weights_follow_beta(device, alpha):
    stats = pytest.importorskip("scipy.stats")
    beta_cdf = stats.beta(alpha, alpha).cdf
    draws = sampling.beta(alpha, (20000,), device, gen(device, 11))
    assert stats.kstest(draws.cpu().numpy(), beta_cdf).pvalue > 1e-3
    # The front end's weights are those draws in float32. For alpha < 1, Beta
    # puts ~1.6 % of its mass within 3e-8 of 1, which float32 rounds to exactly
    # 1.0 -- an atom a continuous KS test rejects -- so check them where none is.
    if alpha >= 1:
        lam = (
            Mixup(mixup_alpha=alpha, mode="elem", num_classes=C, generator=gen(device, 11))
            .sample(torch.empty(20000, 1, device=device))
            .lam
        )
        assert stats.kstest(lam.double().cpu().numpy(), beta_cdf).pvalue > 1e-3


@pytest.mark.parametrize("device", DEVICES)
def test_box_centres_are_uniform(device):
    stats = pytest.importorskip("scipy.stats")
    height, width, n = 13, 7, 26000
    u = sampling.uniform((n, 2), device, gen(device, 5))
    box = sampling.centred_box(torch.ones(n, dtype=torch.float64, device=device), u[:, 0], u[:, 1], height, width)
    assert torch.equal(box[:, 0], box[:, 1]) and torch.equal(box[:, 2], box[:, 3])  # lam = 1: a point box at the centre
    for centre, size in ((box[:, 0], height), (box[:, 2], width)):
        counts = torch.bincount(centre.cpu(), minlength=size).numpy()
        assert counts.shape == (size,)
        assert stats.chisquare(counts).pvalue > 1e-3


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("minmax", [None, (0.2, 0.8)])
def test_pasted_area_equals_one_minus_lam(device, minmax):
    batch = 64
    x = images(batch, device, size=(2, 24, 20))
    mixup = Mixup(
        mixup_alpha=0.0,
        cutmix_alpha=1.0,
        cutmix_minmax=minmax,
        mode="elem",
        correct_lam=True,
        num_classes=C,
        generator=gen(device, 2),
    )
    params = mixup.sample(x)
    out, _ = mixup.apply(x, labels(batch, device), params)
    from_partner = (out == x[params.index]) & (out != x)  # random data: no accidental equality
    pasted = from_partner.all(dim=1).flatten(1).float().mean(1)  # all channels of a pixel
    torch.testing.assert_close(pasted, 1 - params.lam, rtol=0, atol=1e-6)
    assert (params.lam < 1).float().mean() > 0.5


@pytest.mark.parametrize("device", DEVICES)
def test_elem_weights_differ_and_pair_partners_agree(device):
    x = images(33, device)
    elem = Mixup(0.8, 1.0, mode="elem", num_classes=C, generator=gen(device)).sample(x)
    assert elem.lam.unique().numel() > 25
    for pairing in ("flip", "random"):
        pair = Mixup(0.8, 1.0, mode="pair", pairing=pairing, num_classes=C, generator=gen(device)).sample(x)
        assert torch.equal(pair.index[pair.index], torch.arange(33, device=device)), "partners of partners"
        assert torch.equal(pair.lam, pair.lam[pair.index])
        assert torch.equal(pair.box, pair.box[pair.index])
        assert pair.lam.unique().numel() > 8


# ---------------------------------------------------------------------------
# Behaviour
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(
    "mode,pairing",
    [
        ("batch", "flip"),
        ("batch", "roll"),
        ("batch", "random"),
        ("pair", "flip"),
        ("pair", "random"),
        ("elem", "flip"),
        ("elem", "roll"),
        ("elem", "random"),
    ],
)
@pytest.mark.parametrize("batch", [1, 2, 5, 16])
def test_every_mode_pairing_and_odd_batch(device, mode, pairing, batch):
    x, y = images(batch, device), labels(batch, device)
    before = x.clone()
    mixup = Mixup(0.8, 1.0, mode=mode, pairing=pairing, num_classes=C, generator=gen(device))
    params = Mixup(0.8, 1.0, mode=mode, pairing=pairing, num_classes=C, generator=gen(device)).sample(x)
    out, target = mixup(x, y)
    assert torch.equal(x, before), "x must not be modified"
    assert out.shape == x.shape and target.shape == (batch, C) and target.dtype == torch.float32
    torch.testing.assert_close(target.sum(1), torch.ones(batch, device=device))
    expected_index = {"flip": torch.arange(batch - 1, -1, -1), "roll": torch.arange(batch).roll(1)}.get(pairing)
    if expected_index is not None:
        assert torch.equal(params.index.cpu(), expected_index)
    else:
        assert sorted(params.index.tolist()) == list(range(batch))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["batch", "pair", "elem"])
def test_prob_zero_and_disabled_leave_x_alone(device, mode):
    x, y = images(6, device), labels(6, device)
    out, target = Mixup(0.8, 1.0, prob=0.0, mode=mode, num_classes=C)(x, y)
    assert torch.equal(out, x)
    assert_close(target, smoothed(y, 0.1))
    mixup = Mixup(0.8, 1.0, mode=mode, num_classes=C)
    mixup.mixup_enabled = False
    out, target = mixup(x, y)
    assert out is x
    assert_close(target, smoothed(y, 0.1))


@pytest.mark.parametrize("device", DEVICES)
def test_generator_makes_draws_reproducible(device):
    x, y = images(9, device), labels(9, device)
    a = Mixup(0.8, 1.0, mode="elem", pairing="random", num_classes=C, generator=gen(device, 7))(x, y)
    b = Mixup(0.8, 1.0, mode="elem", pairing="random", num_classes=C, generator=gen(device, 7))(x, y)
    c = Mixup(0.8, 1.0, mode="elem", pairing="random", num_classes=C, generator=gen(device, 8))(x, y)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16], ids=str)
def test_layout_and_dtype_are_kept(device, dtype):
    x = images(8, device, dtype).contiguous(memory_format=torch.channels_last)
    out, target = Mixup(0.8, 1.0, mode="elem", num_classes=C)(x, labels(8, device))
    assert out.dtype == dtype and out.is_contiguous(memory_format=torch.channels_last)
    assert target.dtype == torch.float32


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["batch", "elem"])
def test_index_target_form_matches_dense(device, mode):
    x, y = images(7, device), labels(7, device)
    dense = Mixup(0.8, 1.0, mode=mode, num_classes=C, label_smoothing=0.1, generator=gen(device, 4))(x, y)
    out, (target, index, lam) = Mixup(
        0.8, 1.0, mode=mode, num_classes=C, label_smoothing=0.1, generator=gen(device, 4), target_form="index"
    )(x, y)
    assert torch.equal(out, dense[0])
    assert target is y and lam.shape == (7,) and index.shape == (7,)
    rebuilt = lam[:, None] * smoothed(y, 0.1) + (1 - lam[:, None]) * smoothed(y[index], 0.1)
    assert_close(rebuilt, dense[1])


@pytest.mark.parametrize("device", DEVICES)
def test_features_mix_without_boxes(device):
    x = randn((5, 33), torch.float32, device)
    out, target = Mixup(mixup_alpha=0.5, num_classes=C, mode="elem")(x, labels(5, device))
    assert out.shape == x.shape
    with pytest.raises(ValueError, match="CutMix needs x with at least 3 dims"):
        Mixup(cutmix_alpha=1.0, mixup_alpha=0.0, num_classes=C)(x, labels(5, device))


@pytest.mark.parametrize("device", DEVICES)
def test_gradients_flow_through_the_front_end(device):
    x = images(4, device).requires_grad_()
    out, target = Mixup(0.8, 1.0, mode="elem", num_classes=C)(x * 2, labels(4, device))  # a non-leaf
    out.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("device", DEVICES)
def test_compiles_with_fullgraph(device):
    torch._dynamo.reset()
    mixup = Mixup(0.8, 1.0, mode="elem", num_classes=C)
    compiled = torch.compile(lambda x, y: mixup(x, y), fullgraph=True)
    out, target = compiled(images(6, device), labels(6, device))
    assert out.shape == (6, 3, 12, 10) and torch.allclose(target.sum(1), torch.ones(6, device=device))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(mixup_alpha=-1.0), "mixup_alpha and cutmix_alpha must be >= 0"),
        (dict(cutmix_alpha=-0.5), "mixup_alpha and cutmix_alpha must be >= 0"),
        (dict(mixup_alpha=0.0, cutmix_alpha=0.0), "one of mixup_alpha > 0"),
        (dict(cutmix_minmax=(0.8, 0.2)), "increasing pair inside"),
        (dict(cutmix_minmax=(0.0, 0.5)), "increasing pair inside"),
        (dict(cutmix_minmax=(0.2, 1.5)), "increasing pair inside"),
        (dict(cutmix_minmax=(0.2,)), "increasing pair inside"),
        (dict(mode="rows"), "mode must be one of batch, pair, elem"),
        (dict(pairing="shuffle"), "pairing must be one of flip, roll, random"),
        (dict(mode="pair", pairing="roll"), "needs symmetric partners"),
        (dict(prob=1.5), r"prob must be in \[0, 1\]"),
        (dict(switch_prob=-0.1), r"switch_prob must be in \[0, 1\]"),
        (dict(label_smoothing=2.0), r"label_smoothing must be in \[0, 1\]"),
        (dict(num_classes=0), "num_classes must be > 0"),
        (dict(target_form="sparse"), "target_form must be one of dense, index"),
    ],
)
def test_bad_arguments_are_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Mixup(**{"num_classes": C, **kwargs})


# ---------------------------------------------------------------------------
# The host path: two operators a call
# ---------------------------------------------------------------------------


class _OpLog(torch.utils._python_dispatch.TorchDispatchMode):
    """Every operator a call dispatches (below autograd), by name."""

    def __init__(self):
        super().__init__()
        self.ops = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.ops.append(str(func.overloadpacket))
        return func(*args, **(kwargs or {}))


VIEWS = {"aten.expand", "aten.view", "aten.alias"}  # metadata only: no kernel runs


@pytest.mark.parametrize("mode", ["batch", "pair", "elem"])
@pytest.mark.parametrize("target_form", ["dense", "index"])
@pytest.mark.parametrize("minmax", [None, (0.2, 0.8)])
def test_a_call_is_one_draw_and_one_mix(mode, target_form, minmax):
    """All randomness in one op, the mix in one more, in every mode and target
    form; the index form does no target work (no target reaches the op)."""
    x, y = images(6, "cpu"), labels(6, "cpu")
    mixup = Mixup(0.8, 1.0, cutmix_minmax=minmax, mode=mode, pairing="random", num_classes=C, target_form=target_form)
    with _OpLog() as log:
        mixup(x, y)
    assert [op for op in log.ops if op not in VIEWS] == ["mixup.draw_mix_params", "mixup.fused_mix"]


def test_alpha_changes_after_construction_are_honoured():
    x = images(4000, "cpu", size=(1, 2, 2))
    mixup = Mixup(mixup_alpha=0.2, num_classes=C, mode="elem", generator=gen("cpu"))
    spread_low_alpha = mixup.sample(x).lam.std()
    mixup.mixup_alpha = 50.0  # Beta(50, 50) sits close to 0.5
    assert mixup.sample(x).lam.std() < spread_low_alpha / 4


def test_mix_params_build_and_unpack_in_one_order():
    index, lam, box = torch.tensor([1, 0]), torch.tensor([0.3, 0.7]), torch.tensor([[0, 1, 0, 1], [-1, -1, -1, -1]])
    params = MixParams(index, lam, box)
    assert (params.index, params.lam, params.box) == (index, lam, box)
    assert tuple(params) == (index, lam, box)

"""torchvision-style MixUp / CutMix: roll pairing, one weight per batch, no
smoothing, the area-corrected weight; checked as formulas and, where
torchvision is installed, against v2.MixUp / v2.CutMix with pinned draws."""

from __future__ import annotations

import pytest
import torch

from mixup_ext import sampling
from mixup_ext.transforms import CutMix, MixUp

from .helpers import DEVICES, assert_close, randn

C = 10


def batch(device, size=(3, 14, 11), n=6, dtype=torch.float32):
    x = randn((n, *size), dtype, device)
    y = torch.randint(0, C, (n,), generator=torch.Generator().manual_seed(3)).to(device)
    return x, y


def one_hot(y):
    return torch.nn.functional.one_hot(y, C).float()


@pytest.mark.parametrize("device", DEVICES)
def test_mixup_formula(device):
    x, y = batch(device)
    g = lambda: torch.Generator(device=device).manual_seed(9)  # noqa: E731
    lam = sampling.beta(0.7, (), device, g()).float()
    out, target = MixUp(alpha=0.7, num_classes=C, generator=g())(x, y)
    assert_close(out, lam * x + (1 - lam) * x.roll(1, 0))
    assert_close(target, lam * one_hot(y) + (1 - lam) * one_hot(y.roll(1, 0)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", [(3, 14, 11), (2, 4, 9, 8)], ids=["image", "video"])
def test_cutmix_formula(device, size):
    x, y = batch(device, size)
    g = lambda: torch.Generator(device=device).manual_seed(5)  # noqa: E731
    lam, box = CutMix(alpha=1.0, num_classes=C, generator=g()).params(x)
    out, target = CutMix(alpha=1.0, num_classes=C, generator=g())(x, y)
    y0, y1, x0, x1 = box.tolist()
    expected = x.clone()
    expected[..., y0:y1, x0:x1] = x.roll(1, 0)[..., y0:y1, x0:x1]
    assert torch.equal(out, expected)
    area = (y1 - y0) * (x1 - x0) / (size[-2] * size[-1])
    torch.testing.assert_close(lam.item(), 1 - area, rtol=0, atol=1e-7)
    assert_close(target, lam * one_hot(y) + (1 - lam) * one_hot(y.roll(1, 0)))


@pytest.mark.parametrize("device", DEVICES)
def test_odd_batches_dtypes_and_layouts(device):
    for dtype in (torch.float32, torch.bfloat16):
        x, y = batch(device, n=5, dtype=dtype)
        x = x.contiguous(memory_format=torch.channels_last)
        before = x.clone()
        for transform in (MixUp(alpha=1.0, num_classes=C), CutMix(alpha=1.0, num_classes=C)):
            out, target = transform(x, y)
            assert torch.equal(x, before)
            assert out.dtype == dtype and out.is_contiguous(memory_format=torch.channels_last)
            assert target.dtype == torch.float32 and torch.allclose(target.sum(1), torch.ones(5, device=device))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="alpha must be > 0"):
        MixUp(alpha=0.0, num_classes=C)
    with pytest.raises(ValueError, match="num_classes must be > 0"):
        CutMix(alpha=1.0, num_classes=0)
    with pytest.raises(ValueError, match=r"labels must be \(B,\)"):
        MixUp(alpha=1.0, num_classes=C)(torch.randn(4, 3), torch.zeros(4, 1, dtype=torch.int64))
    with pytest.raises(ValueError, match="at least 3 dims"):
        CutMix(alpha=1.0, num_classes=C)(torch.randn(4, 3), torch.zeros(4, dtype=torch.int64))


# torchvision itself, with its draws pinned to ours -------------------------


class FixedBeta:
    def __init__(self, value):
        self.value = value

    def sample(self, shape=()):
        return torch.tensor(self.value)


@pytest.mark.parametrize("device", DEVICES)
def test_matches_torchvision_mixup(device):
    v2 = pytest.importorskip("torchvision.transforms.v2")
    x, y = batch(device)
    theirs = v2.MixUp(alpha=1.0, num_classes=C)
    theirs._dist = FixedBeta(0.35)
    t_out, t_target = theirs(x, y)
    lam = torch.tensor(0.35, device=device)
    index = sampling.pairing_index("roll", 6, device)
    from mixup_ext import fused_mix

    out, target = fused_mix(x, y, index, lam, None, C, 0.0)
    assert_close(out, t_out)
    assert_close(target, t_target.float())


@pytest.mark.parametrize("device", DEVICES)
def test_matches_torchvision_cutmix(device, monkeypatch):
    v2 = pytest.importorskip("torchvision.transforms.v2")
    x, y = batch(device)
    height, width = x.shape[-2:]
    lam, r_x, r_y = 0.55, 8, 3
    theirs = v2.CutMix(alpha=1.0, num_classes=C)
    theirs._dist = FixedBeta(lam)
    draws = iter([torch.tensor([r_x]), torch.tensor([r_y])])  # torchvision draws x, then y
    monkeypatch.setattr(torch, "randint", lambda *a, **k: next(draws))
    t_out, t_target = theirs(x, y)
    monkeypatch.undo()
    box = sampling.centred_box(torch.tensor(lam, dtype=torch.float64), torch.tensor((r_y + 0.5) / height), torch.tensor((r_x + 0.5) / width), height, width, full_side=False)
    weight = sampling.box_area_weight(box, height, width).float()
    from mixup_ext import fused_mix

    out, target = fused_mix(x, y, sampling.pairing_index("roll", 6, device), weight.to(device), box.to(device), C, 0.0)
    assert torch.equal(out, t_out)
    assert_close(target, t_target.float())

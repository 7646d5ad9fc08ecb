"""torchvision-style MixUp / CutMix: roll pairing, one weight per batch, no
smoothing, the area-corrected weight; checked as formulas and, where
torchvision is installed, against v2.MixUp / v2.CutMix with pinned draws."""

from __future__ import annotations

import pytest
import torch

from mixup_ext import MixParams
from mixup_ext import _sampling as sampling
from mixup_ext.transforms import CutMix, MixUp

from .helpers import DEVICES, TOLERANCE, assert_close, randn

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
    params = MixUp(alpha=0.7, num_classes=C, generator=g()).params(x)
    lam = params.lam
    assert params.box is None and lam.shape == () and 0 < float(lam) < 1
    assert torch.equal(params.index, torch.arange(6, device=device).roll(1)), "sample i takes i - 1"
    out, target = MixUp(alpha=0.7, num_classes=C, generator=g())(x, y)
    assert_close(out, lam * x + (1 - lam) * x.roll(1, 0))
    assert_close(target, lam * one_hot(y) + (1 - lam) * one_hot(y.roll(1, 0)))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("size", [(3, 14, 11), (2, 4, 9, 8)], ids=["image", "video"])
def test_cutmix_formula(device, size):
    x, y = batch(device, size)
    g = lambda: torch.Generator(device=device).manual_seed(5)  # noqa: E731
    params = CutMix(alpha=1.0, num_classes=C, generator=g()).params(x)
    lam, box = params.lam, params.box
    assert torch.equal(params.index, torch.arange(len(x), device=device).roll(1)), "sample i takes i - 1"
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
    with pytest.raises(ValueError, match="num_classes must be a positive int or None"):
        CutMix(alpha=1.0, num_classes=0)
    with pytest.raises(ValueError, match="labels_getter must be 'default', a callable or None"):
        MixUp(num_classes=C, labels_getter="labels")
    images, ids = torch.randn(4, 3, 5, 5), torch.zeros(4, dtype=torch.int64)
    refusals = [
        (MixUp(num_classes=C), (images, [0, 1, 2, 3]), "labels must be a tensor, got list"),
        (MixUp(num_classes=C, labels_getter=None), (images, ids), "labels must be a tensor, got NoneType"),
        (
            MixUp(num_classes=C),
            (images, torch.zeros(4, 1, 1, dtype=torch.int64)),
            r"labels must be \(B,\) class ids or \(B, num_classes\)",
        ),
        (MixUp(num_classes=C), (images, torch.zeros(4)), r"\(B,\) labels must be integer class ids"),
        (MixUp(), (images, ids), "num_classes is required with"),
        (MixUp(num_classes=C), (images, torch.rand(4, C + 1)), r"C == num_classes = 10, got shape \(4, 11\)"),
        (MixUp(num_classes=C), (images, torch.zeros(5, dtype=torch.int64)), "images hold 4 samples but labels hold 5"),
        (CutMix(num_classes=C), (torch.randn(4, 3), ids), r"at least 3 dims \(B, ..., H, W\)"),
        (MixUp(num_classes=C), ({"image": images, "target": ids},), "no 'labels' or 'label' key among"),
        (MixUp(num_classes=C), ((images,),), "needs \\(images, labels\\)"),
        (
            MixUp(num_classes=C, labels_getter=lambda s: s[1].clone()),
            (images, ids),
            "labels_getter must return one of the input",
        ),
        (MixUp(num_classes=C), ((ids, ids),), "no image tensor among the inputs"),
    ]
    for transform, inputs, match in refusals:
        with pytest.raises(ValueError, match=match):
            transform(*inputs)


# torchvision's call conventions ----------------------------------------------


def seeded(cls, seed=4, **kwargs):
    return cls(num_classes=kwargs.pop("num_classes", C), generator=torch.Generator().manual_seed(seed), **kwargs)


@pytest.mark.parametrize("cls", [MixUp, CutMix])
def test_unpacked_packed_and_dict_samples_agree(cls):
    x, y = batch("cpu")
    x_before, y_before = x.clone(), y.clone()
    out, target = seeded(cls)(x, y)
    packed = seeded(cls)((x, y))
    assert isinstance(packed, tuple) and len(packed) == 2
    as_list = seeded(cls)([x, y])
    assert isinstance(as_list, list)
    sample = seeded(cls)({"image": x, "Label": y, "path": "a.jpg", "id": 7})
    assert list(sample) == ["image", "Label", "path", "id"] and sample["path"] == "a.jpg" and sample["id"] == 7
    labels_first = seeded(cls)({"labels": y, "image": x})  # never mistakes labels listed first for the images
    nested = seeded(cls, labels_getter=lambda s: s[1]["y"])((x, {"y": y, "meta": torch.arange(3)}))
    assert torch.equal(nested[1]["meta"], torch.arange(3))
    for got_x, got_y in [
        packed,
        as_list,
        (sample["image"], sample["Label"]),
        (labels_first["image"], labels_first["labels"]),
        (nested[0], nested[1]["y"]),
    ]:
        assert torch.equal(got_x, out) and torch.equal(got_y, target)
    assert torch.equal(x, x_before) and torch.equal(y, y_before), "inputs are never modified"
    assert not torch.equal(out, x), "the call mixed"


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("cls", [MixUp, CutMix])
@pytest.mark.parametrize(
    "dtype", [torch.float64, torch.float32, torch.bfloat16, torch.float16, torch.int64, torch.bool], ids=str
)
def test_probability_labels_are_mixed_as_given(device, cls, dtype):
    x, y = batch(device)
    probs = torch.rand(6, C, generator=torch.Generator().manual_seed(2)).to(device)
    probs = (
        (probs > 0.5).to(dtype)
        if dtype in (torch.int64, torch.bool)
        else (probs / probs.sum(1, keepdim=True)).to(dtype)
    )
    transform = cls(num_classes=None, generator=torch.Generator(device=device).manual_seed(6))
    lam = cls(num_classes=None, generator=torch.Generator(device=device).manual_seed(6)).params(x).lam
    out, target = transform(x, probs)
    expected_dtype = dtype if dtype.is_floating_point else torch.float32
    assert target.dtype == expected_dtype and target.shape == (6, C)
    as_float = probs.double()
    expected = lam.double() * as_float + (1 - lam.double()) * as_float.roll(1, 0)
    rtol, atol = TOLERANCE.get(expected_dtype, TOLERANCE[torch.float32])
    torch.testing.assert_close(target.double(), expected, rtol=2 * rtol, atol=2 * atol)
    # with num_classes given it must match, and the same call mixes one-hot ids identically
    ids = torch.randint(0, C, (6,), generator=torch.Generator().manual_seed(8)).to(device)
    _, from_ids = seeded_on(cls, device)(x, ids)
    _, from_one_hot = seeded_on(cls, device)(x, torch.nn.functional.one_hot(ids, C).float())
    assert torch.equal(from_ids, from_one_hot)


def seeded_on(cls, device, seed=6):
    return cls(num_classes=C, generator=torch.Generator(device=device).manual_seed(seed))


@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.uint8], ids=str)
def test_integer_class_ids_of_any_width(dtype):
    x, y = batch("cpu")
    _, expected = seeded(MixUp)(x, y)
    _, got = seeded(MixUp)(x, y.to(dtype))
    assert torch.equal(got, expected)


def test_inside_a_dataloader_collate_fn():
    """The torchvision recipe: mix in collate_fn, after default_collate. The
    transform pickles, so loader workers can run it."""
    import pickle

    from torch.utils.data import DataLoader, TensorDataset, default_collate

    images = randn((20, 3, 8, 8), torch.float32, "cpu")
    ids = torch.arange(20) % C
    mix = CutMix(num_classes=C)
    assert isinstance(pickle.loads(pickle.dumps(mix)), CutMix)
    loader = DataLoader(TensorDataset(images, ids), batch_size=7, collate_fn=lambda items: mix(*default_collate(items)))
    batches = list(loader)
    assert [b[0].shape[0] for b in batches] == [7, 7, 6], "odd last batch included"
    for b_images, b_labels in batches:
        assert b_images.shape[1:] == (3, 8, 8) and b_labels.shape == (b_images.shape[0], C)
        torch.testing.assert_close(b_labels.sum(1), torch.ones(b_images.shape[0]))


def test_repr_names_the_settings():
    assert repr(MixUp(alpha=0.4, num_classes=C)) == "MixUp(alpha=0.4, num_classes=10)"
    assert "labels_getter" in repr(CutMix(labels_getter=lambda s: s[1]))


# torchvision itself, with its draws pinned to ours -------------------------


class FixedBeta:
    def __init__(self, value):
        self.value = value

    def sample(self, shape=()):
        return torch.tensor(self.value)


class Pinned:
    """Our transform with its (lam, box) draw pinned, to meet torchvision's."""

    def __init__(self, cls, lam, box=None, **kwargs):
        self.transform = cls(**kwargs)
        self.transform.params = lambda images: MixParams(
            lam=torch.tensor(lam, device=images.device).float(),
            index=torch.arange(images.shape[0], device=images.device).roll(1),
            box=None if box is None else box.to(images.device),
        )

    def __call__(self, *inputs):
        return self.transform(*inputs)


def pack(kind, x, y):
    return {"unpacked": (x, y), "packed": ((x, y),), "dict": ({"image": x, "label": y},)}[kind]


def unpack(kind, result):
    return (result["image"], result["label"]) if kind == "dict" else result


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["unpacked", "packed", "dict"])
@pytest.mark.parametrize("labels", ["ids", "probabilities"])
def test_matches_torchvision_mixup(device, kind, labels):
    v2 = pytest.importorskip("torchvision.transforms.v2")
    x, y = batch(device)
    if labels == "probabilities":
        y = torch.rand(6, C, device=device, dtype=torch.float64)
    classes = C if labels == "ids" else None
    theirs = v2.MixUp(alpha=1.0, num_classes=classes)
    theirs._dist = FixedBeta(0.35)
    t_out, t_target = unpack(kind, theirs(*pack(kind, x, y)))
    out, target = unpack(kind, Pinned(MixUp, 0.35, num_classes=classes)(*pack(kind, x, y)))
    assert_close(out, t_out)
    assert_close(target, t_target)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", ["unpacked", "packed", "dict"])
def test_matches_torchvision_cutmix(device, monkeypatch, kind):
    v2 = pytest.importorskip("torchvision.transforms.v2")
    x, y = batch(device)
    height, width = x.shape[-2:]
    lam, r_x, r_y = 0.55, 8, 3
    theirs = v2.CutMix(alpha=1.0, num_classes=C)
    theirs._dist = FixedBeta(lam)
    draws = iter([torch.tensor([r_x]), torch.tensor([r_y])])  # torchvision draws x, then y
    monkeypatch.setattr(torch, "randint", lambda *a, **k: next(draws))
    t_out, t_target = unpack(kind, theirs(*pack(kind, x, y)))
    monkeypatch.undo()
    box = sampling.centred_box(
        torch.tensor(lam, dtype=torch.float64),
        torch.tensor((r_y + 0.5) / height),
        torch.tensor((r_x + 0.5) / width),
        height,
        width,
        full_side=False,
    )
    weight = float(sampling.box_area_weight(box, height, width))
    out, target = unpack(kind, Pinned(CutMix, weight, box, num_classes=C)(*pack(kind, x, y)))
    assert torch.equal(out, t_out)
    assert_close(target, t_target.float())


def test_inside_torchvision_compose_and_random_choice():
    v2 = pytest.importorskip("torchvision.transforms.v2")
    x, y = batch("cpu")
    for pipeline in (
        v2.Compose([MixUp(num_classes=C)]),
        v2.RandomChoice([MixUp(num_classes=C), CutMix(num_classes=C)]),
    ):
        out, target = pipeline(x, y)
        assert out.shape == x.shape and target.shape == (6, C)
        packed_out, packed_target = pipeline((x, y))
        assert packed_out.shape == x.shape and packed_target.shape == (6, C)
    tv_tensors = pytest.importorskip("torchvision.tv_tensors")
    out, target = MixUp(num_classes=C)(tv_tensors.Image(x), y)
    assert isinstance(out, tv_tensors.Image), "a tv_tensors.Image stays one"


@pytest.mark.parametrize("device", DEVICES)
def test_mixup_weights_follow_beta_and_cutmix_weights_the_area(device):
    """The transforms draw with mixup::draw_mix_params; their weights must
    still be Beta(alpha, alpha), and CutMix's the pasted area's complement."""
    stats = pytest.importorskip("scipy.stats")
    x = torch.empty(4, 1, 16, 12, device=device)
    mixup = MixUp(alpha=0.7, num_classes=C, generator=torch.Generator(device=device).manual_seed(1))
    lams = torch.stack([mixup.params(x).lam for _ in range(3000)]).double().cpu().numpy()
    assert stats.kstest(lams, stats.beta(0.7, 0.7).cdf).pvalue > 1e-3
    cutmix = CutMix(alpha=1.0, num_classes=C, generator=torch.Generator(device=device).manual_seed(2))
    for _ in range(200):
        p = cutmix.params(x)
        y0, y1, x0, x1 = p.box.tolist()
        assert 0 <= y0 <= y1 <= 16 and 0 <= x0 <= x1 <= 12, "always a box inside the image: a paste"
        assert abs(float(p.lam) - (1 - (y1 - y0) * (x1 - x0) / (16 * 12))) < 1e-6

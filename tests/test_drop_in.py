"""Drop-in gaps a new user hit: class ids of any integer dtype,
MixParams unpacking, and Python-float lam checked by name."""

from __future__ import annotations

import math

import pytest
import torch

from mixup_ext import Mixup, fused_mix, mixup_binary_cross_entropy, mixup_cross_entropy

from .helpers import DEVICES, generator

pytestmark = pytest.mark.cpu_kernels  # .ci/sanitize_cpu selects by these (pyproject.toml: markers)

INTEGER_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", INTEGER_DTYPES, ids=str)
@pytest.mark.parametrize("target_form", ["dense", "index"])
def test_mixup_takes_class_ids_of_any_integer_dtype(device, dtype, target_form):
    x = torch.randn(6, 3, 8, 8, device=device)
    y = torch.randint(0, 10, (6,), device=device)

    def call(labels):
        return Mixup(
            0.8,
            1.0,
            mode="elem",
            num_classes=10,
            label_smoothing=0.1,
            target_form=target_form,
            generator=generator(device, 4),
        )(x, labels)

    want_x, want_y = call(y)
    got_x, got_y = call(y.to(dtype))
    assert torch.equal(got_x, want_x)
    if target_form == "index":
        assert got_y[0].dtype == torch.int64 and torch.equal(got_y[0], want_y[0]) and torch.equal(got_y[1], want_y[1])
    else:
        assert torch.equal(got_y, want_y)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", INTEGER_DTYPES, ids=str)
def test_fused_mix_and_losses_take_class_ids_of_any_integer_dtype(device, dtype):
    x = torch.randn(4, 3, 5, 5, device=device)
    y = torch.tensor([0, 3, 1, 2], device=device)
    index = torch.tensor([3, 2, 1, 0], device=device)
    lam = torch.rand(4, device=device)
    want = fused_mix(x, y, index, lam, None, 5, 0.1)
    got = fused_mix(x, y.to(dtype), index, lam, None, 5, 0.1)
    assert all(torch.equal(g, w) for g, w in zip(got, want))
    logits = torch.randn(4, 5, device=device)
    for loss in (mixup_cross_entropy, mixup_binary_cross_entropy):
        assert torch.equal(loss(logits, y.to(dtype), y[index].to(dtype), lam), loss(logits, y, y[index], lam))


@pytest.mark.parametrize("device", DEVICES)
def test_sample_unpacks_as_index_lam_box(device):
    mixup = Mixup(0.8, 1.0, mode="elem", num_classes=10, generator=generator(device, 1))
    x = torch.randn(5, 3, 8, 8, device=device)
    params = mixup.sample(x)
    index, lam, box = params
    assert index is params.index and lam is params.lam and box is params.box
    assert index.dtype == torch.int64 and lam.dtype == torch.float32 and box.shape == (5, 4)


BAD_LAMS = [1.5, -0.1, float("nan"), float("inf"), "0.5"]


@pytest.mark.parametrize("lam", BAD_LAMS, ids=repr)
def test_a_python_float_lam_is_checked(lam):
    x = torch.randn(4, 3, 5, 5)
    y = torch.tensor([0, 3, 1, 2])
    index = torch.tensor([3, 2, 1, 0])
    words = "lam must be a finite float in \\[0, 1\\]" if not isinstance(lam, str) else "lam must be a float"
    with pytest.raises(ValueError, match=words):
        fused_mix(x, y, index, lam, None, 5, 0.1)
    logits = torch.randn(4, 5)
    for loss in (mixup_cross_entropy, mixup_binary_cross_entropy):
        with pytest.raises(ValueError, match=words):
            loss(logits, y, y[index], lam)


@pytest.mark.parametrize("lam", [0.0, 1.0, 0.25, True])
def test_the_ends_of_lam_pass(lam):
    x = torch.randn(4, 3, 5, 5)
    y = torch.tensor([0, 3, 1, 2])
    index = torch.tensor([3, 2, 1, 0])
    out, _ = fused_mix(x, y, index, lam, None, 5, 0.1)
    assert math.isclose(
        float(out[0, 0, 0, 0]), float(lam * x[0, 0, 0, 0] + (1 - lam) * x[3, 0, 0, 0]), rel_tol=1e-6, abs_tol=1e-6
    )

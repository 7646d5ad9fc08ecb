"""mixup::_sample_mix_params, the fused per-sample parameter kernel behind
Mixup.sample, against its torch-op reference, bit for bit, on random draws."""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from mixup_ext import NO_BOX, reference

from .helpers import DEVICES, refused_alike

pytestmark = pytest.mark.cpu_kernels  # .ci/sanitize_cpu selects by these (pyproject.toml: markers)

CONFIGS = [
    dict(mixup_on=True, cutmix_on=True, minmax=None, correct_lam=True),
    dict(mixup_on=True, cutmix_on=False, minmax=None, correct_lam=True),
    dict(mixup_on=False, cutmix_on=True, minmax=None, correct_lam=False),
    dict(mixup_on=False, cutmix_on=True, minmax=[0.2, 0.8], correct_lam=False),
    dict(mixup_on=True, cutmix_on=True, minmax=[0.3, 0.9], correct_lam=True),
]


def draws(n, device, seed=0):
    g = torch.Generator().manual_seed(seed)
    uniforms = torch.rand(n, 8, dtype=torch.float64, generator=g)
    gammas = torch._standard_gamma(
        torch.tensor([0.4, 0.4, 1.0, 1.0], dtype=torch.float64)[:, None].expand(4, n).contiguous(), generator=g
    )
    gammas[:, :3] = 0.0  # both Gammas underflowed: the kernel must give 0.5, not 0/0
    return uniforms.to(device), gammas.to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
@pytest.mark.parametrize("full_side", [True, False])
@pytest.mark.parametrize("paired", [False, True])
@pytest.mark.parametrize("n", [1, 7, 300])
def test_kernel_matches_reference_bit_for_bit(device, config, full_side, paired, n):
    uniforms, gammas = draws(n, device)
    pair_index = torch.randperm(n, generator=torch.Generator().manual_seed(1)).to(device) if paired else None
    args = (
        uniforms,
        gammas,
        pair_index,
        13,
        17,
        0.8,
        0.4,
        config["mixup_on"],
        config["cutmix_on"],
        config["minmax"],
        config["correct_lam"],
        full_side,
    )
    lam, box = torch.ops.mixup._sample_mix_params(*args)
    ref_lam, ref_box = reference._sample_mix_params(*args)
    assert lam.dtype == torch.float32 and box.dtype == torch.int64
    assert torch.equal(lam, ref_lam) and torch.equal(box, ref_box)
    assert torch.isfinite(lam).all() and ((lam >= 0) & (lam <= 1)).all()
    blended = (box == NO_BOX).all(dim=1)
    boxed = (
        (box[:, 0] <= box[:, 1])
        & (box[:, 1] <= 13)
        & (box[:, 2] <= box[:, 3])
        & (box[:, 3] <= 17)
        & (box >= 0).all(dim=1)
    )
    assert (blended | boxed).all()
    rows = torch.arange(n, device=device)
    leader = torch.minimum(rows, pair_index) if paired else rows
    applied = uniforms[leader, 0] < 0.8
    assert (box[~applied] == 0).all() and (lam[~applied] == 1).all(), "unmixed rows: the empty box, weight 1"
    if not config["cutmix_on"]:
        assert blended[applied].all(), "without CutMix every mixed row blends"
    if not config["mixup_on"]:
        assert not blended.any(), "without Mixup no row blends: CutMix always pastes"


@pytest.mark.parametrize("device", DEVICES)
def test_opcheck(device):
    uniforms, gammas = draws(9, device)
    for pair_index in (None, torch.arange(8, -1, -1, device=device)):
        torch.library.opcheck(
            torch.ops.mixup._sample_mix_params.default,
            (uniforms, gammas, pair_index, 8, 8, 1.0, 0.5, True, True, None, True, True),
        )


@pytest.mark.parametrize("impl", [torch.ops.mixup._sample_mix_params, reference._sample_mix_params])
def test_bad_arguments_are_refused(impl):
    uniforms, gammas = draws(4, "cpu")
    config = (8, 8, 1.0, 0.5, True, True, None, True, True)
    with pytest.raises(ValueError, match=r"uniforms must be a float64 tensor of shape \(n, 8\)"):
        impl(uniforms[:, :7], gammas, None, *config)
    with pytest.raises(ValueError, match=r"gammas must be a float64 tensor of shape \(4, n\)"):
        impl(uniforms, gammas[:, :3], None, *config)
    with pytest.raises(ValueError, match="one of mixup_on, cutmix_on must be true"):
        impl(uniforms, gammas, None, 8, 8, 1.0, 0.5, False, False, None, True, True)


# Every check of csrc/sample_mix_params_plan.cpp (the reference once missed
# four of its seven, and accepted height 0): keyword overrides of a good call.
SAMPLE_CASES = {
    "uniforms_width": dict(u=lambda u: u[:, :7]),
    "gammas_width": dict(g=lambda g: g[:, :3]),
    "height_zero": dict(height=0),
    "width_negative": dict(width=-2),
    "neither_method": dict(on=False),
    "minmax_decreasing": dict(minmax=[0.8, 0.2]),
    "minmax_three": dict(minmax=[0.1, 0.2, 0.3]),
    "pair_index_dtype": dict(pair_index=torch.zeros(4, dtype=torch.int32)),
    "pair_index_length": dict(pair_index=torch.zeros(3, dtype=torch.int64)),
}


@pytest.mark.parametrize("case", SAMPLE_CASES)
def test_sample_mix_params_refusals_read_the_same(case):
    """Compiled op, reference and fake kernel: one sentence per refusal."""
    uniforms, gammas = draws(4, "cpu")
    a = dict(u=uniforms, g=gammas, pair_index=None, height=8, width=8, on=True, minmax=None)
    for key, value in SAMPLE_CASES[case].items():
        a[key] = value(a[key]) if callable(value) else value

    def call(fn, convert=lambda t: t):
        pair_index = None if a["pair_index"] is None else convert(a["pair_index"])
        return lambda: fn(
            convert(a["u"]),
            convert(a["g"]),
            pair_index,
            a["height"],
            a["width"],
            1.0,
            0.5,
            a["on"],
            a["on"],
            a["minmax"],
            True,
            True,
        )

    def fake():
        with FakeTensorMode() as mode:
            call(torch.ops.mixup._sample_mix_params, mode.from_tensor)()

    refused_alike(
        "^mixup::_sample_mix_params: ",
        call(torch.ops.mixup._sample_mix_params),
        call(reference._sample_mix_params),
        fake,
    )

"""The contracts that both languages state, held to one text.

Schemas and the sampler's slots are read by Python from the very files the
C++ is built from (tests/test_loading.py checks the reading). The refusals
are written twice -- TORCH_CHECK_VALUE in csrc/*_plan.cpp, ValueError in
mixup_ext/_validation.py and the reference -- so every refusal case of every
op is run through both here, and the messages must match word for word:
a user who moves from the compiled backend to the reference (or to a fake
tensor under torch.compile) reads the same sentence.
"""

from __future__ import annotations

import pytest
import torch
from torch._subclasses.fake_tensor import FakeTensorMode

from mixup_ext import reference

from . import test_draw_mix_params, test_mixup_binary_cross_entropy, test_mixup_cross_entropy, test_validation
from .test_sample_mix_params import draws


def message(call) -> str:
    with pytest.raises(ValueError) as refused:
        call()
    return str(refused.value)


def assert_same_words(op_call, reference_call):
    assert message(op_call) == message(reference_call)


FUSED_MIX_CASES = test_validation.METADATA_CASES + [
    (case, lambda d, o=overrides: o, match) for case, overrides, match in test_validation.VALUE_CASES
]


@pytest.mark.parametrize("case,overrides,match", FUSED_MIX_CASES, ids=[c[0] for c in FUSED_MIX_CASES])
def test_fused_mix_refusals_read_the_same(case, overrides, match):
    args = test_validation.good_args("cpu")
    args.update(overrides("cpu"))
    assert_same_words(lambda: test_validation.call_op(args), lambda: test_validation.call_reference(args))
    if case in {c[0] for c in test_validation.METADATA_CASES}:
        assert_same_words(lambda: test_validation.call_op(args), lambda: test_validation.call_fake(args))


@pytest.mark.parametrize("case", range(len(test_mixup_cross_entropy.BAD)))
def test_mixup_cross_entropy_refusals_read_the_same(case):
    z, a, b = test_mixup_cross_entropy.make((4, 5), torch.float32, "cpu")
    args = test_mixup_cross_entropy.BAD[case][0](z, a, b, torch.rand(4))
    assert_same_words(lambda: torch.ops.mixup.mixup_cross_entropy(*args, 0.1),
                      lambda: reference.mixup_cross_entropy(*args, 0.1))


@pytest.mark.parametrize("case", range(len(test_mixup_binary_cross_entropy.BAD)))
def test_mixup_binary_cross_entropy_refusals_read_the_same(case):
    z, a, b = test_mixup_binary_cross_entropy.make((4, 5), torch.float32, "cpu")
    args = dict(logits=z, y_a=a, y_b=b, lam=torch.rand(4), smoothing=0.1, threshold=None, pos_weight=None,
                sum_classes=False)
    for key, value in test_mixup_binary_cross_entropy.BAD[case][0].items():
        args[key] = value(args[key]) if callable(value) else value
    assert_same_words(lambda: torch.ops.mixup.mixup_binary_cross_entropy(*args.values()),
                      lambda: reference.mixup_binary_cross_entropy(*args.values()))


@pytest.mark.parametrize("kwargs,match", test_draw_mix_params.BAD)
def test_draw_mix_params_refusals_read_the_same(kwargs, match):
    x = test_draw_mix_params.batch_like(4, "cpu")
    assert_same_words(lambda: test_draw_mix_params.draw("op", x, **kwargs),
                      lambda: test_draw_mix_params.draw("reference", x, **kwargs))
    real = message(lambda: test_draw_mix_params.draw("op", x, **kwargs))
    with FakeTensorMode() as mode:
        assert message(lambda: test_draw_mix_params.draw("op", mode.from_tensor(x), **kwargs)) == real


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
        return lambda: fn(convert(a["u"]), convert(a["g"]), pair_index, a["height"], a["width"], 1.0, 0.5, a["on"],
                          a["on"], a["minmax"], True, True)

    words = message(call(torch.ops.mixup._sample_mix_params))
    assert words.startswith("mixup::_sample_mix_params: ")
    assert message(call(reference._sample_mix_params)) == words
    with FakeTensorMode() as mode:
        assert message(call(torch.ops.mixup._sample_mix_params, mode.from_tensor)) == words


BAD_CHANNEL_VALUES = {
    "mean_nan": ((1.0, float("nan"), 2.0), (1.0, 1.0, 1.0)),
    "std_zero": ((1.0, 2.0, 3.0), (1.0, 0.0, 1.0)),
    "std_inf": ((1.0, 2.0, 3.0), (1.0, 1.0, float("inf"))),
}


@pytest.mark.parametrize("case", BAD_CHANNEL_VALUES)
def test_bad_mean_std_name_the_channel_alike(case):
    """A bad mean/std value is named with its channel by the compiled op,
    the reference op and both Python entry points (they once said "got 0
    for channel 1" in C++ and printed the whole list in Python)."""
    mean, std = BAD_CHANNEL_VALUES[case]
    x = torch.randint(0, 256, (4, 3, 5, 5), dtype=torch.uint8)
    index, lam = torch.tensor([1, 0, 3, 2]), torch.rand(4)
    as_tensors = (None, index, lam, None, 0, 0.0, torch.tensor(mean), torch.tensor(std))
    words = message(lambda: torch.ops.mixup.fused_mix(x, *as_tensors))
    assert "for channel" in words
    assert message(lambda: reference.fused_mix_op(x, *as_tensors)) == words
    from mixup_ext import fused_mix
    assert message(lambda: fused_mix(x, None, index, lam, mean=mean, std=std)) == words
    assert message(lambda: reference.fused_mix(x, None, index, lam, mean=mean, std=std)) == words

"""The pytest-benchmark view of the harness (bench/harness.py): every suite's
cases x providers, one benchmark each, grouped by suite and case, the same
steps ``python -m bench`` times.

    pytest bench --benchmark-enable --benchmark-group-by=group

CUDA work is synchronised inside the timed function, so the times are of the
kernels, not of their launches. For medians from CUDA events, ratios to the
baseline and peak memory, run ``python -m bench``.
"""

from __future__ import annotations

import pytest
import torch

from .harness import build_step
from .suites import all_suites

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
PARAMS = [
    pytest.param(suite, device, case, provider, id=f"{suite.name}-{device}-{case.id}-{provider.name}")
    for suite in all_suites().values()
    for device in DEVICES
    for case in suite.cases.get(device, [])
    for provider in suite.providers
    if provider.applies(case) and not (provider.cuda_only and device != "cuda")
]


@pytest.mark.parametrize("suite,device,case,provider", PARAMS)
def test_bench(benchmark, suite, device, case, provider):
    inputs = suite.setup(case, device)
    step = build_step(provider, inputs, case)
    if step is None:
        pytest.skip(f"{provider.name} cannot run {case.id} here")
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def timed():
        result = step()
        sync()
        return result

    benchmark.group = f"{suite.name}-{device}-{case.id}"
    benchmark.extra_info.update(mode=provider.mode, floor_bytes=suite.floor_bytes(case, inputs))
    benchmark.pedantic(timed, rounds=20, warmup_rounds=3, iterations=1)

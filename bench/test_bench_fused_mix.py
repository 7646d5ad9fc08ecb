"""pytest-benchmark suite: the fused op against the reference, torch.compile
of it, the hand-written formula (eager and compiled), timm and torchvision
where installed, grouped by case, with x.clone() as the floor.

    pytest bench --benchmark-enable --benchmark-group-by=group

CUDA work is synchronised inside the timed function, so the times are of the
kernels, not of their launches. For ratios to clone measured with CUDA
events, run ``python -m bench.report``.
"""

from __future__ import annotations

import pytest
import torch

from .cases import ALL_PROVIDERS, CPU_CASES, CUDA_ONLY_PROVIDERS, CUDA_CASES, HIDDEN_MIX_PROVIDERS, PEER_PROVIDERS, PROVIDERS, setup

PARAMS = [("cpu", c) for c in CPU_CASES] + ([("cuda", c) for c in CUDA_CASES] if torch.cuda.is_available() else [])


@pytest.mark.parametrize("provider", ALL_PROVIDERS)
@pytest.mark.parametrize("device,case", PARAMS, ids=[f"{d}-{c.id}" for d, c in PARAMS])
def test_mix(benchmark, device, case, provider):
    if device != "cuda" and provider in CUDA_ONLY_PROVIDERS:
        pytest.skip(f"{provider} needs CUDA")
    if provider in HIDDEN_MIX_PROVIDERS and not case.hidden_mix:
        pytest.skip(f"{provider} runs on feature-sized cases only")
    inputs = setup(case, device)
    try:
        fn = PROVIDERS[provider](inputs)
        if provider in PEER_PROVIDERS:
            fn()  # a peer may not handle this case (timm's CutMix on 2-D features) or be installed
    except Exception as e:  # noqa: BLE001
        if provider not in PEER_PROVIDERS:
            raise
        pytest.skip(f"{provider} cannot run {case.id}: {type(e).__name__}: {e}")
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def timed():
        result = fn()
        sync()
        return result

    benchmark.group = f"{device}-{case.id}"
    benchmark.extra_info["bytes_floor"] = case.bytes_moved(inputs["x"])
    benchmark.pedantic(timed, rounds=20, warmup_rounds=3, iterations=1)

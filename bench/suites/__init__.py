"""Every benchmark suite, by name: one per operator family (bench/harness.py
runs them)."""

from __future__ import annotations

from ..harness import Suite


def all_suites() -> dict[str, Suite]:
    # Imported here, not at the top: each suite imports mixup_ext, which
    # bench.tune (its own builds of the kernels) must not load.
    from . import fused_mix, fused_mix_uint8, mixup_loss, naflex_mix

    return {s.name: s for s in (fused_mix.SUITE, fused_mix_uint8.SUITE, mixup_loss.SUITE, naflex_mix.SUITE)}

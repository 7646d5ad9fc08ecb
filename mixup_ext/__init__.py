"""mixup_ext: Mixup and CutMix as one fused PyTorch operator.

Importing the package makes ``torch.ops.mixup.fused_mix`` available, backed by
the ahead-of-time build, a JIT build, or the pure-PyTorch reference (see
:func:`backend`).
"""

from ._loader import backend
from ._loader import load as _load

_load()

from . import reference, transforms  # noqa: E402
from ._sampling import NO_BOX  # noqa: E402
from .loss import (  # noqa: E402
    MixupBinaryCrossEntropy,
    MixupCrossEntropy,
    mixup_binary_cross_entropy,
    mixup_cross_entropy,
)
from .mixup import MixParams, Mixup  # noqa: E402
from .naflex import NaFlexMixup, NaFlexParams  # noqa: E402
from .ops import fused_mix, set_value_checks  # noqa: E402

__all__ = [
    "MixParams",
    "NO_BOX",
    "Mixup",
    "MixupCrossEntropy",
    "MixupBinaryCrossEntropy",
    "NaFlexMixup",
    "NaFlexParams",
    "backend",
    "fused_mix",
    "mixup_cross_entropy",
    "mixup_binary_cross_entropy",
    "reference",
    "set_value_checks",
    "transforms",
]
__version__ = "0.1.0"

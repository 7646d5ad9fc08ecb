"""The operator schemas, for defining the library from Python when no compiled
build is available (the reference backend). The compiled library defines the
same strings in csrc/mixup.cpp; tests/test_loading.py checks they agree."""

NAMESPACE = "mixup"

FUSED_MIX = (
    "fused_mix(Tensor x, Tensor target, Tensor index, Tensor lam, Tensor? box, "
    "int num_classes, float smoothing) -> (Tensor, Tensor)"
)
FUSED_MIX_BACKWARD = (
    "fused_mix_backward(Tensor grad, Tensor index, Tensor lam, Tensor? box, float scale) -> Tensor"
)

"""The operator schemas, for defining the library from Python when no compiled
build is available (the reference backend). The compiled library defines the
same strings in csrc/mixup.cpp; tests/test_loading.py checks they agree."""

NAMESPACE = "mixup"

FUSED_MIX = (
    "fused_mix(Tensor x, Tensor? target, Tensor index, Tensor lam, Tensor? box, "
    "int num_classes, float smoothing, Tensor? mean=None, Tensor? std=None, "
    "ScalarType? out_dtype=None) -> (Tensor, Tensor)"
)
FUSED_MIX_BACKWARD = (
    "fused_mix_backward(Tensor grad, Tensor index, Tensor lam, Tensor? box, float scale, "
    "Tensor? std=None) -> Tensor"
)
SAMPLE_MIX_PARAMS = (
    "sample_mix_params(Tensor uniforms, Tensor gammas, Tensor? pair_index, int height, int width, "
    "float mix_prob, float switch_prob, bool mixup_on, bool cutmix_on, float[]? minmax, "
    "bool correct_lam, bool full_side) -> (Tensor, Tensor)"
)
DRAW_MIX_PARAMS = (
    "draw_mix_params(Tensor x, str mode, str pairing, float mixup_alpha, float cutmix_alpha, "
    "float mix_prob, float switch_prob, float[]? minmax, bool correct_lam, bool full_side, "
    "Generator? generator=None) -> (Tensor, Tensor, Tensor)"
)
MIXUP_CROSS_ENTROPY = (
    "mixup_cross_entropy(Tensor logits, Tensor y_a, Tensor y_b, Tensor lam, float smoothing) -> (Tensor, Tensor)"
)
MIXUP_CROSS_ENTROPY_BACKWARD = (
    "mixup_cross_entropy_backward(Tensor grad_loss, Tensor logits, Tensor y_a, Tensor y_b, Tensor lam, "
    "Tensor shifted_lse, float smoothing) -> Tensor"
)
MIXUP_BINARY_CROSS_ENTROPY = (
    "mixup_binary_cross_entropy(Tensor logits, Tensor y_a, Tensor y_b, Tensor lam, float smoothing, "
    "float? threshold, Tensor? pos_weight, bool sum_classes) -> Tensor"
)
MIXUP_BINARY_CROSS_ENTROPY_BACKWARD = (
    "mixup_binary_cross_entropy_backward(Tensor grad_loss, Tensor logits, Tensor y_a, Tensor y_b, Tensor lam, "
    "float smoothing, float? threshold, Tensor? pos_weight, bool sum_classes) -> Tensor"
)
CPU_VECTOR_ISA = "cpu_vector_isa() -> str"

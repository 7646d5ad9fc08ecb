// The one definition of the `mixup` operator library. Kernels are registered
// per backend in cpu/ and cuda/, autograd in autograd/ (C++, under the
// Autograd key); fake (meta) kernels are registered from Python, in
// mixup_ext/_registrations.py. ops.h is the C++ API over these schemas.
//
// Keep these strings in sync with mixup_ext/_schema.py, which defines the same
// schemas when no compiled library is available (tests/test_loading.py checks).
#include <torch/library.h>

#include <string>

#include "cpu/isa.h"

TORCH_LIBRARY(mixup, m) {
  // out[i] = lam[i] * x[i] + (1 - lam[i]) * x[index[i]] (or a CutMix paste
  // inside box[i]), and the label-smoothed targets mixed with the same lam.
  // Without a target (a loss that mixes class ids itself) the second output
  // is an empty (B, 0) tensor and num_classes and smoothing are unused.
  // x may be uint8; the output is (mix - mean[c]) / std[c] per channel (dim
  // 1) when mean/std are given, of out_dtype (default: float32 for uint8,
  // else x's dtype), computed in float32 (float64) and rounded once.
  m.def(
      "fused_mix(Tensor x, Tensor? target, Tensor index, Tensor lam, Tensor? box, "
      "int num_classes, float smoothing, Tensor? mean=None, Tensor? std=None, "
      "ScalarType? out_dtype=None) -> (Tensor, Tensor)",
      {at::Tag::pt2_compliant_tag});
  // The adjoint of the mix for one tensor: the gradient of x (box given,
  // scale 1) or of soft targets (box None, scale 1 - smoothing), divided per
  // channel by the forward's std when it normalised.
  m.def(
      "fused_mix_backward(Tensor grad, Tensor index, Tensor lam, Tensor? box, float scale, "
      "Tensor? std=None) -> Tensor",
      {at::Tag::pt2_compliant_tag});
  // Per-sample Mixup/CutMix weights and boxes from pre-drawn uniforms and
  // Gamma draws (the randomness stays in torch, generator and all); one
  // launch for what would be ~30 tiny tensor ops. Used by mixup_ext.Mixup.
  m.def(
      "sample_mix_params(Tensor uniforms, Tensor gammas, Tensor? pair_index, int height, int width, "
      "float mix_prob, float switch_prob, bool mixup_on, bool cutmix_on, float[]? minmax, "
      "bool correct_lam, bool full_side) -> (Tensor, Tensor)",
      {at::Tag::pt2_compliant_tag});
  // Everything random about one Mixup/CutMix call -- partners (flip, roll or
  // a random permutation or matching), weights, boxes -- in one launch, drawn
  // with Philox on x's device from `generator` (CUDA-graph safe, no sync).
  // Outputs: index (B,) int64; lam (B,) float32, () in batch mode; box
  // (B, 4) int64 rows [y0, y1, x0, x1), (4,) in batch mode: a CutMix box, a
  // row of -1 (Box::kNoBox) for a blend, [0, 0, 0, 0] for a sample not mixed.
  m.def(
      "draw_mix_params(Tensor x, str mode, str pairing, float mixup_alpha, float cutmix_alpha, "
      "float mix_prob, float switch_prob, float[]? minmax, bool correct_lam, bool full_side, "
      "Generator? generator=None) -> (Tensor, Tensor, Tensor)",
      {at::Tag::pt2_compliant_tag, at::Tag::nondeterministic_seeded});
  // The mixed cross-entropy lam * CE_eps(z, a) + (1 - lam) * CE_eps(z, b)
  // per row, from class ids alone (no B x C targets), and the per-row
  // log-sum-exp minus the row's first logit, which its backward reuses.
  m.def("mixup_cross_entropy(Tensor logits, Tensor y_a, Tensor y_b, Tensor lam, float smoothing) -> (Tensor, Tensor)",
        {at::Tag::pt2_compliant_tag});
  m.def(
      "mixup_cross_entropy_backward(Tensor grad_loss, Tensor logits, Tensor y_a, Tensor y_b, Tensor lam, "
      "Tensor shifted_lse, float smoothing) -> Tensor",
      {at::Tag::pt2_compliant_tag});
  // timm's BinaryCrossEntropy on Mixup's dense target lam * s(y_a) +
  // (1 - lam) * s(y_b) (binarised to t > threshold when one is given), per
  // row: summed over classes, or their mean; from class ids alone.
  m.def(
      "mixup_binary_cross_entropy(Tensor logits, Tensor y_a, Tensor y_b, Tensor lam, float smoothing, "
      "float? threshold, Tensor? pos_weight, bool sum_classes) -> Tensor",
      {at::Tag::pt2_compliant_tag});
  m.def(
      "mixup_binary_cross_entropy_backward(Tensor grad_loss, Tensor logits, Tensor y_a, Tensor y_b, Tensor lam, "
      "float smoothing, float? threshold, Tensor? pos_weight, bool sum_classes) -> Tensor",
      {at::Tag::pt2_compliant_tag});
  // The vector instruction set of the CPU kernels' loops in this process:
  // "avx512", "avx2" or "default" (cpu/isa.h).
  m.def("cpu_vector_isa() -> str", [] { return std::string(mixup::cpu::isa_name(mixup::cpu::active_isa())); });
}

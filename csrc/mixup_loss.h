// What the loss family (mixup::mixup_cross_entropy and
// mixup::mixup_binary_cross_entropy) shares on the host: the validated logits,
// the two label vectors and the weights that every loss of a mixed pair takes.
// Each op's own plan (mixup_cross_entropy.h, mixup_binary_cross_entropy.h)
// builds on this one.
#pragma once

#include <ATen/core/Tensor.h>

namespace mixup {

struct LossInputs {
  at::Tensor logits;  // (B, C), unit stride along C
  at::Tensor y_a, y_b;
  at::Tensor lam;  // () or (B,), in the accumulation dtype
  int64_t batch = 0, classes = 0;
  int64_t lam_stride = 0;
  double smoothing = 0.0;
};

// Validates logits (B, C), y_a and y_b (B,) int64, lam () or (B,) and the
// smoothing, naming `op` and the argument. `check_values` also checks the
// labels' range, which reads them: the CPU backend only (CUDA asserts).
LossInputs plan_loss_inputs(const char* op, const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                            const at::Tensor& lam, double smoothing, bool check_values);

// A backward's per-row tensor `name` ((B,), floating, on logits' device),
// checked and returned contiguous in the accumulation dtype.
at::Tensor plan_per_row(const char* op, const char* name, const at::Tensor& t, const LossInputs& in);

}  // namespace mixup

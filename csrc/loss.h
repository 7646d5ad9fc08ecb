// Host-side planning for mixup::mixup_cross_entropy and its backward.
#pragma once

#include <ATen/core/Tensor.h>

#include "loss_math.h"

namespace mixup {

struct LossPlan {
  at::Tensor logits;  // (B, C), unit stride along C
  at::Tensor y_a, y_b;
  at::Tensor lam;  // () or (B,), in the accumulation dtype
  int64_t batch = 0, classes = 0;
  int64_t lam_stride = 0;
  double smoothing = 0.0;
};

struct LossForwardPlan {
  LossPlan in;
  at::Tensor loss;  // out: (B,) per-row loss, accumulation dtype
  at::Tensor lse;   // out: (B,) per-row log-sum-exp minus z[0] (see loss_math.h), for the backward
};

struct LossBackwardPlan {
  LossPlan in;
  at::Tensor grad_loss;  // (B,), accumulation dtype, contiguous
  at::Tensor lse;        // (B,) shifted log-sum-exp, accumulation dtype, contiguous
  at::Tensor grad;       // out: (B, C) like logits, contiguous
};

// Validate metadata and allocate outputs. `check_values` also checks the
// labels' range, which reads them: the CPU backend only (CUDA asserts).
LossForwardPlan plan_loss_forward(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                  const at::Tensor& lam, double smoothing, bool check_values);
LossBackwardPlan plan_loss_backward(const at::Tensor& grad_loss, const at::Tensor& logits, const at::Tensor& y_a,
                                    const at::Tensor& y_b, const at::Tensor& lam, const at::Tensor& lse,
                                    double smoothing);

}  // namespace mixup

// Host-side planning for mixup::mixup_cross_entropy and its backward.
#pragma once

#include <ATen/core/Tensor.h>

#include "mixup_cross_entropy_math.h"
#include "mixup_loss.h"

namespace mixup {

struct CrossEntropyForwardPlan {
  LossInputs in;
  at::Tensor loss;  // out: (B,) per-row loss, accumulation dtype
  at::Tensor lse;   // out: (B,) per-row log-sum-exp minus z[0] (mixup_cross_entropy_math.h), for the backward
};

struct CrossEntropyBackwardPlan {
  LossInputs in;
  at::Tensor grad_loss;  // (B,), accumulation dtype, contiguous
  at::Tensor lse;        // (B,) shifted log-sum-exp, accumulation dtype, contiguous
  at::Tensor grad;       // out: (B, C) like logits, contiguous
};

// Validate metadata and allocate outputs; `check_values` as in plan_loss_inputs.
CrossEntropyForwardPlan plan_cross_entropy_forward(const at::Tensor& logits, const at::Tensor& y_a,
                                                   const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
                                                   bool check_values);
CrossEntropyBackwardPlan plan_cross_entropy_backward(const at::Tensor& grad_loss, const at::Tensor& logits,
                                                     const at::Tensor& y_a, const at::Tensor& y_b,
                                                     const at::Tensor& lam, const at::Tensor& lse, double smoothing);

}  // namespace mixup

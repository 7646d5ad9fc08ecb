// Host-side planning for mixup::mixup_cross_entropy, the forward that also
// writes its gradient, and the backwards.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include "mixup_cross_entropy_math.h"
#include "mixup_loss.h"

namespace mixup {

struct CrossEntropyForwardPlan {
  LossInputs in;
  Reduction reduction = Reduction::kNone;
  at::Tensor loss;        // out: (B,) per-row loss, accumulation dtype (reduce_rows makes the op's output)
  at::Tensor lse;         // out: (B,) per-row log-sum-exp minus z[0] (mixup_cross_entropy_math.h), for the backward
  at::Tensor grad;        // out, with_grad only: (B, C) like logits, contiguous: the gradient for grad_output 1
  UpstreamGrad upstream;  // with_grad only: grad_output 1
};

struct CrossEntropyBackwardPlan {
  LossInputs in;
  UpstreamGrad upstream;  // grad_output, per row
  at::Tensor lse;         // (B,) shifted log-sum-exp, accumulation dtype, contiguous
  at::Tensor grad;        // out: (B, C) like logits, contiguous (fresh, or the forward's, rewritten in place)
};

// Validate metadata (and values, as plan_loss_inputs checks a forward's) and
// allocate outputs.
// `with_grad` also allocates the (B, C) gradient that the forward writes.
CrossEntropyForwardPlan plan_cross_entropy_forward(const char* op, const at::Tensor& logits, const at::Tensor& y_a,
                                                   const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
                                                   c10::string_view reduction, bool with_grad);

// A fresh gradient for grad_loss (_mixup_cross_entropy_backward).
CrossEntropyBackwardPlan plan_cross_entropy_backward(const at::Tensor& grad_loss, const at::Tensor& logits,
                                                     const at::Tensor& y_a, const at::Tensor& y_b,
                                                     const at::Tensor& lam, const at::Tensor& lse, double smoothing,
                                                     c10::string_view reduction);

// The forward's gradient, rewritten in place where grad_loss is not 1
// (_mixup_cross_entropy_apply_grad_output).
CrossEntropyBackwardPlan plan_cross_entropy_apply_grad_output(const at::Tensor& grad, const at::Tensor& grad_loss,
                                                              const at::Tensor& logits, const at::Tensor& y_a,
                                                              const at::Tensor& y_b, const at::Tensor& lam,
                                                              const at::Tensor& lse, double smoothing,
                                                              c10::string_view reduction);

}  // namespace mixup

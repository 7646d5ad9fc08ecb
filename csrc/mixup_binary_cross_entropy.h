// Host-side planning for mixup::mixup_binary_cross_entropy, the forward
// that also writes its gradient, and the backwards.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <optional>

#include "mixup_binary_cross_entropy_math.h"
#include "mixup_loss.h"

namespace mixup {

// The binary cross-entropy's options on top of the shared inputs.
struct BinaryCrossEntropyOptions {
  LossInputs in;
  SmoothedOneHot smoothed{};
  bool thresholded = false;
  double threshold = 0.0;
  at::Tensor pos_weight;          // undefined, or () / (1,) / (C,), contiguous, accumulation dtype
  int64_t pos_weight_stride = 0;  // 0: one weight for every class
  double scale = 1.0;             // per row: 1 when summing over classes, 1 / C for the mean
};

struct BinaryCrossEntropyForwardPlan {
  BinaryCrossEntropyOptions in;
  Reduction reduction = Reduction::kNone;
  at::Tensor loss;        // out: (B,) per-row loss, accumulation dtype (reduce_rows makes the op's output)
  at::Tensor grad;        // out, with_grad only: (B, C) like logits, contiguous: the gradient for grad_output 1
  UpstreamGrad upstream;  // with_grad only: grad_output 1
};

struct BinaryCrossEntropyBackwardPlan {
  BinaryCrossEntropyOptions in;
  UpstreamGrad upstream;  // grad_output, per row
  at::Tensor grad;        // out: (B, C) like logits, contiguous (fresh, or the forward's, rewritten in place)
};

// Validate metadata (and values, as plan_loss_inputs checks a forward's) and
// allocate outputs.
// `with_grad` also allocates the (B, C) gradient that the forward writes.
BinaryCrossEntropyForwardPlan plan_binary_cross_entropy_forward(
    const char* op, const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
    double smoothing, std::optional<double> threshold, const std::optional<at::Tensor>& pos_weight, bool sum_classes,
    c10::string_view reduction, bool with_grad);

// Without `into`, a fresh gradient for grad_loss (_mixup_binary_cross_entropy_backward);
// with it, the forward's gradient, to be rewritten in place where grad_loss
// is not 1 (_mixup_binary_cross_entropy_apply_grad_output).
BinaryCrossEntropyBackwardPlan plan_binary_cross_entropy_backward(
    const std::optional<at::Tensor>& into, const at::Tensor& grad_loss, const at::Tensor& logits, const at::Tensor& y_a,
    const at::Tensor& y_b, const at::Tensor& lam, double smoothing, std::optional<double> threshold,
    const std::optional<at::Tensor>& pos_weight, bool sum_classes, c10::string_view reduction);

}  // namespace mixup

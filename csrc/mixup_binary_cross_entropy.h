// Host-side planning for mixup::mixup_binary_cross_entropy and its backward.
#pragma once

#include <ATen/core/Tensor.h>

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
  at::Tensor pos_weight;  // undefined, or () / (1,) / (C,), contiguous, accumulation dtype
  int64_t pos_weight_stride = 0;  // 0: one weight for every class
  double scale = 1.0;  // per row: 1 when summing over classes, 1 / C for the mean
};

struct BinaryCrossEntropyForwardPlan {
  BinaryCrossEntropyOptions in;
  at::Tensor loss;  // out: (B,) per-row loss, accumulation dtype
};

struct BinaryCrossEntropyBackwardPlan {
  BinaryCrossEntropyOptions in;
  at::Tensor grad_loss;  // (B,), accumulation dtype, contiguous
  at::Tensor grad;       // out: (B, C) like logits, contiguous
};

// Validate metadata and allocate outputs; `check_values` as in plan_loss_inputs.
BinaryCrossEntropyForwardPlan plan_binary_cross_entropy_forward(
    const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
    std::optional<double> threshold, const std::optional<at::Tensor>& pos_weight, bool sum_classes,
    bool check_values);
BinaryCrossEntropyBackwardPlan plan_binary_cross_entropy_backward(
    const at::Tensor& grad_loss, const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
    const at::Tensor& lam, double smoothing, std::optional<double> threshold,
    const std::optional<at::Tensor>& pos_weight, bool sum_classes);

}  // namespace mixup

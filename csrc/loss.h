// Host-side planning for the loss family: mixup::mixup_cross_entropy,
// mixup::mixup_binary_cross_entropy and their backwards.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

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

// The binary cross-entropy's options on top of LossPlan (loss_math.h).
struct BinaryLossPlan {
  LossPlan in;
  SmoothedOneHot smoothed{};
  bool thresholded = false;
  double threshold = 0.0;
  at::Tensor pos_weight;  // undefined, or () / (1,) / (C,), contiguous, accumulation dtype
  int64_t pos_weight_stride = 0;  // 0: one weight for every class
  double scale = 1.0;  // per row: 1 when summing over classes, 1 / C for the mean
};

struct BinaryLossForwardPlan {
  BinaryLossPlan in;
  at::Tensor loss;  // out: (B,) per-row loss, accumulation dtype
};

struct BinaryLossBackwardPlan {
  BinaryLossPlan in;
  at::Tensor grad_loss;  // (B,), accumulation dtype, contiguous
  at::Tensor grad;       // out: (B, C) like logits, contiguous
};

// Validate metadata and allocate outputs. `check_values` also checks the
// labels' range, which reads them: the CPU backend only (CUDA asserts).
LossForwardPlan plan_loss_forward(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                  const at::Tensor& lam, double smoothing, bool check_values);
LossBackwardPlan plan_loss_backward(const at::Tensor& grad_loss, const at::Tensor& logits, const at::Tensor& y_a,
                                    const at::Tensor& y_b, const at::Tensor& lam, const at::Tensor& lse,
                                    double smoothing);

BinaryLossForwardPlan plan_binary_loss_forward(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                               const at::Tensor& lam, double smoothing, std::optional<double> threshold,
                                               const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                               bool check_values);
BinaryLossBackwardPlan plan_binary_loss_backward(const at::Tensor& grad_loss, const at::Tensor& logits,
                                                 const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
                                                 double smoothing, std::optional<double> threshold,
                                                 const std::optional<at::Tensor>& pos_weight, bool sum_classes);

}  // namespace mixup

// Validation shared by the CPU and CUDA kernels of the loss family.
#include "loss.h"

#include <ATen/ATen.h>

#include <cmath>

namespace mixup {
namespace {

LossPlan plan_loss(const char* op, const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                   const at::Tensor& lam, double smoothing, bool check_values) {
  const at::ScalarType t = logits.scalar_type();
  TORCH_CHECK_VALUE(logits.dim() == 2 && (t == at::kDouble || t == at::kFloat || t == at::kHalf || t == at::kBFloat16),
                    op, ": logits must be a (B, C) float64, float32, float16 or bfloat16 tensor, got ", t, " of shape ",
                    logits.sizes());
  const int64_t batch = logits.size(0), classes = logits.size(1);
  TORCH_CHECK_VALUE(classes > 0, op, ": logits must have at least one class, got shape ", logits.sizes());
  for (const auto& [name, y] : {std::pair<const char*, const at::Tensor&>{"y_a", y_a}, {"y_b", y_b}}) {
    TORCH_CHECK_VALUE(y.scalar_type() == at::kLong && y.dim() == 1 && y.size(0) == batch && y.device() == logits.device(),
                      op, ": ", name, " must be an int64 tensor of shape (B,) = (", batch, ",) on logits' device, got ",
                      y.scalar_type(), " of shape ", y.sizes(), " on ", y.device());
  }
  TORCH_CHECK_VALUE(at::isFloatingType(lam.scalar_type()) && (lam.dim() == 0 || (lam.dim() == 1 && lam.size(0) == batch)) &&
                        lam.device() == logits.device(),
                    op, ": lam must be a floating tensor of shape () or (B,) = (", batch, ",) on logits' device, got ",
                    lam.scalar_type(), " of shape ", lam.sizes(), " on ", lam.device());
  TORCH_CHECK_VALUE(smoothing >= 0.0 && smoothing <= 1.0, op, ": label_smoothing must be in [0, 1], got ", smoothing);
  if (check_values) {
    for (const auto& [name, y] : {std::pair<const char*, const at::Tensor&>{"y_a", y_a}, {"y_b", y_b}}) {
      const auto labels = y.accessor<int64_t, 1>();
      for (int64_t i = 0; i < batch; ++i) {
        TORCH_CHECK_VALUE(labels[i] >= 0 && labels[i] < classes, op, ": ", name, " class ids must be in [0, C) = [0, ",
                          classes, "), found ", labels[i], " at position ", i);
      }
    }
  }
  LossPlan p;
  p.logits = logits.stride(1) == 1 ? logits : logits.contiguous();
  p.y_a = y_a;
  p.y_b = y_b;
  p.lam = lam.to(t == at::kDouble ? at::kDouble : at::kFloat);
  p.lam_stride = lam.dim() == 0 ? 0 : p.lam.stride(0);
  p.batch = batch;
  p.classes = classes;
  p.smoothing = smoothing;
  return p;
}

// The per-row upstream gradient, checked and in the accumulation dtype.
at::Tensor plan_grad_loss(const char* op, const char* name, const at::Tensor& grad_loss, const LossPlan& in) {
  TORCH_CHECK_VALUE(at::isFloatingType(grad_loss.scalar_type()) && grad_loss.dim() == 1 &&
                        grad_loss.size(0) == in.batch && grad_loss.device() == in.logits.device(),
                    op, ": ", name, " must be a floating tensor of shape (B,) = (", in.batch, ",) on logits' device");
  return grad_loss.to(in.lam.scalar_type()).contiguous();
}

BinaryLossPlan plan_binary_loss(const char* op, const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                const at::Tensor& lam, double smoothing, std::optional<double> threshold,
                                const std::optional<at::Tensor>& pos_weight, bool sum_classes, bool check_values) {
  BinaryLossPlan p;
  p.in = plan_loss(op, logits, y_a, y_b, lam, smoothing, check_values);
  TORCH_CHECK_VALUE(!threshold.has_value() || std::isfinite(*threshold), op,
                    ": target_threshold must be a finite number or None, got ", threshold.value_or(0.0));
  p.smoothed = smoothed_one_hot(smoothing, p.in.classes);
  p.thresholded = threshold.has_value();
  p.threshold = threshold.value_or(0.0);
  p.scale = sum_classes ? 1.0 : 1.0 / static_cast<double>(p.in.classes);
  if (pos_weight.has_value()) {
    const at::Tensor& w = *pos_weight;
    const bool one = w.dim() == 0 || (w.dim() == 1 && w.size(0) == 1);
    TORCH_CHECK_VALUE(at::isFloatingType(w.scalar_type()) && (one || (w.dim() == 1 && w.size(0) == p.in.classes)) &&
                          w.device() == logits.device(),
                      op, ": pos_weight must be a float or a floating tensor of shape () or (C,) = (", p.in.classes,
                      ",) on logits' device, got ", w.scalar_type(), " of shape ", w.sizes(), " on ", w.device());
    p.pos_weight = w.to(p.in.lam.scalar_type()).contiguous();
    p.pos_weight_stride = one ? 0 : 1;
  }
  return p;
}

}  // namespace

LossForwardPlan plan_loss_forward(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                  const at::Tensor& lam, double smoothing, bool check_values) {
  LossForwardPlan f;
  f.in = plan_loss("mixup::mixup_cross_entropy", logits, y_a, y_b, lam, smoothing, check_values);
  f.loss = at::empty({f.in.batch}, logits.options().dtype(f.in.lam.scalar_type()));
  f.lse = at::empty({f.in.batch}, logits.options().dtype(f.in.lam.scalar_type()));
  return f;
}

LossBackwardPlan plan_loss_backward(const at::Tensor& grad_loss, const at::Tensor& logits, const at::Tensor& y_a,
                                    const at::Tensor& y_b, const at::Tensor& lam, const at::Tensor& lse,
                                    double smoothing) {
  constexpr const char* op = "mixup::mixup_cross_entropy_backward";
  LossBackwardPlan b;
  b.in = plan_loss(op, logits, y_a, y_b, lam, smoothing, /*check_values=*/false);
  b.grad_loss = plan_grad_loss(op, "grad_loss", grad_loss, b.in);
  b.lse = plan_grad_loss(op, "shifted_lse", lse, b.in);
  b.grad = at::empty({b.in.batch, b.in.classes}, logits.options());
  return b;
}

BinaryLossForwardPlan plan_binary_loss_forward(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                               const at::Tensor& lam, double smoothing, std::optional<double> threshold,
                                               const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                               bool check_values) {
  BinaryLossForwardPlan f;
  f.in = plan_binary_loss("mixup::mixup_binary_cross_entropy", logits, y_a, y_b, lam, smoothing, threshold, pos_weight,
                          sum_classes, check_values);
  f.loss = at::empty({f.in.in.batch}, logits.options().dtype(f.in.in.lam.scalar_type()));
  return f;
}

BinaryLossBackwardPlan plan_binary_loss_backward(const at::Tensor& grad_loss, const at::Tensor& logits,
                                                 const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
                                                 double smoothing, std::optional<double> threshold,
                                                 const std::optional<at::Tensor>& pos_weight, bool sum_classes) {
  constexpr const char* op = "mixup::mixup_binary_cross_entropy_backward";
  BinaryLossBackwardPlan b;
  b.in = plan_binary_loss(op, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes,
                          /*check_values=*/false);
  b.grad_loss = plan_grad_loss(op, "grad_loss", grad_loss, b.in.in);
  b.grad = at::empty({b.in.in.batch, b.in.in.classes}, logits.options());
  return b;
}

}  // namespace mixup

// Validation and allocation for mixup::mixup_binary_cross_entropy, shared by
// the CPU and CUDA kernels.
#include "mixup_binary_cross_entropy.h"
#include "messages.h"

#include <ATen/ATen.h>

#include <cmath>

namespace mixup {
namespace {

BinaryCrossEntropyOptions plan_binary_cross_entropy_options(const char* op, const at::Tensor& logits,
                                                            const at::Tensor& y_a, const at::Tensor& y_b,
                                                            const at::Tensor& lam, double smoothing,
                                                            std::optional<double> threshold,
                                                            const std::optional<at::Tensor>& pos_weight,
                                                            bool sum_classes, bool check_values) {
  BinaryCrossEntropyOptions p;
  p.in = plan_loss_inputs(op, logits, y_a, y_b, lam, smoothing, check_values);
  TORCH_CHECK_VALUE(!threshold.has_value() || std::isfinite(*threshold), op,
                    ": target_threshold must be a finite number or None, got ", number(threshold.value_or(0.0)));
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
                      ",) on logits' device, got ", dtype_name(w.scalar_type()), " of shape ", w.sizes(), " on ",
                      w.device());
    p.pos_weight = w.to(p.in.lam.scalar_type()).contiguous();
    p.pos_weight_stride = one ? 0 : 1;
  }
  return p;
}

}  // namespace

BinaryCrossEntropyForwardPlan plan_binary_cross_entropy_forward(
    const char* op, const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
    double smoothing, std::optional<double> threshold, const std::optional<at::Tensor>& pos_weight, bool sum_classes,
    c10::string_view reduction, bool with_grad) {
  BinaryCrossEntropyForwardPlan f;
  f.in = plan_binary_cross_entropy_options(op, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes,
                                           /*check_values=*/true);
  f.reduction = parse_reduction(op, reduction);
  f.loss = at::empty({f.in.in.batch}, logits.options().dtype(f.in.in.lam.scalar_type()));
  if (with_grad) {
    f.grad = at::empty({f.in.in.batch, f.in.in.classes}, logits.options());
    f.upstream = unit_upstream_grad(f.reduction, f.in.in);
  }
  return f;
}

BinaryCrossEntropyBackwardPlan plan_binary_cross_entropy_backward(
    const std::optional<at::Tensor>& into, const at::Tensor& grad_loss, const at::Tensor& logits, const at::Tensor& y_a,
    const at::Tensor& y_b, const at::Tensor& lam, double smoothing, std::optional<double> threshold,
    const std::optional<at::Tensor>& pos_weight, bool sum_classes, c10::string_view reduction) {
  const char* op = into.has_value() ? "mixup::_mixup_binary_cross_entropy_apply_grad_output"
                                    : "mixup::_mixup_binary_cross_entropy_backward";
  BinaryCrossEntropyBackwardPlan b;
  b.in = plan_binary_cross_entropy_options(op, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes,
                                           /*check_values=*/false);
  b.upstream = plan_upstream_grad(op, grad_loss, parse_reduction(op, reduction), b.in.in);
  if (into.has_value()) {
    check_forward_gradient(op, *into, b.in.in);
    b.grad = *into;
  } else {
    b.grad = at::empty({b.in.in.batch, b.in.in.classes}, logits.options());
  }
  return b;
}

}  // namespace mixup

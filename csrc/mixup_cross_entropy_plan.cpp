// Validation and allocation for mixup::mixup_cross_entropy and its
// backwards, shared by the CPU and CUDA kernels.
#include "mixup_cross_entropy.h"

#include <ATen/ATen.h>

namespace mixup {
namespace {

CrossEntropyBackwardPlan plan_backward_inputs(const char* op, const at::Tensor& grad_loss, const at::Tensor& logits,
                                              const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
                                              const at::Tensor& lse, double smoothing, c10::string_view reduction) {
  CrossEntropyBackwardPlan b;
  b.in = plan_loss_inputs(op, logits, y_a, y_b, lam, smoothing, /*check_values=*/false);
  b.upstream = plan_upstream_grad(op, grad_loss, parse_reduction(op, reduction), b.in);
  b.lse = plan_per_row(op, "shifted_lse", lse, b.in);
  return b;
}

}  // namespace

CrossEntropyForwardPlan plan_cross_entropy_forward(const char* op, const at::Tensor& logits, const at::Tensor& y_a,
                                                   const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
                                                   c10::string_view reduction, bool with_grad) {
  CrossEntropyForwardPlan f;
  f.in = plan_loss_inputs(op, logits, y_a, y_b, lam, smoothing, /*check_values=*/true);
  f.reduction = parse_reduction(op, reduction);
  f.loss = at::empty({f.in.batch}, logits.options().dtype(f.in.lam.scalar_type()));
  f.lse = at::empty({f.in.batch}, logits.options().dtype(f.in.lam.scalar_type()));
  if (with_grad) {
    f.grad = at::empty({f.in.batch, f.in.classes}, logits.options());
    f.upstream = unit_upstream_grad(f.reduction, f.in);
  }
  return f;
}

CrossEntropyBackwardPlan plan_cross_entropy_backward(const at::Tensor& grad_loss, const at::Tensor& logits,
                                                     const at::Tensor& y_a, const at::Tensor& y_b,
                                                     const at::Tensor& lam, const at::Tensor& lse, double smoothing,
                                                     c10::string_view reduction) {
  CrossEntropyBackwardPlan b = plan_backward_inputs("mixup::_mixup_cross_entropy_backward", grad_loss, logits, y_a, y_b,
                                                    lam, lse, smoothing, reduction);
  b.grad = at::empty({b.in.batch, b.in.classes}, logits.options());
  return b;
}

CrossEntropyBackwardPlan plan_cross_entropy_apply_grad_output(const at::Tensor& grad, const at::Tensor& grad_loss,
                                                              const at::Tensor& logits, const at::Tensor& y_a,
                                                              const at::Tensor& y_b, const at::Tensor& lam,
                                                              const at::Tensor& lse, double smoothing,
                                                              c10::string_view reduction) {
  constexpr const char* op = "mixup::_mixup_cross_entropy_apply_grad_output";
  CrossEntropyBackwardPlan b = plan_backward_inputs(op, grad_loss, logits, y_a, y_b, lam, lse, smoothing, reduction);
  check_forward_gradient(op, grad, b.in);
  b.grad = grad;
  return b;
}

}  // namespace mixup

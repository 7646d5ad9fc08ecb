// Validation and allocation for mixup::mixup_cross_entropy, shared by the
// CPU and CUDA kernels.
#include "mixup_cross_entropy.h"

#include <ATen/ATen.h>

namespace mixup {

CrossEntropyForwardPlan plan_cross_entropy_forward(const at::Tensor& logits, const at::Tensor& y_a,
                                                   const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
                                                   bool check_values) {
  CrossEntropyForwardPlan f;
  f.in = plan_loss_inputs("mixup::mixup_cross_entropy", logits, y_a, y_b, lam, smoothing, check_values);
  f.loss = at::empty({f.in.batch}, logits.options().dtype(f.in.lam.scalar_type()));
  f.lse = at::empty({f.in.batch}, logits.options().dtype(f.in.lam.scalar_type()));
  return f;
}

CrossEntropyBackwardPlan plan_cross_entropy_backward(const at::Tensor& grad_loss, const at::Tensor& logits,
                                                     const at::Tensor& y_a, const at::Tensor& y_b,
                                                     const at::Tensor& lam, const at::Tensor& lse, double smoothing) {
  constexpr const char* op = "mixup::_mixup_cross_entropy_backward";
  CrossEntropyBackwardPlan b;
  b.in = plan_loss_inputs(op, logits, y_a, y_b, lam, smoothing, /*check_values=*/false);
  b.grad_loss = plan_per_row(op, "grad_loss", grad_loss, b.in);
  b.lse = plan_per_row(op, "shifted_lse", lse, b.in);
  b.grad = at::empty({b.in.batch, b.in.classes}, logits.options());
  return b;
}

}  // namespace mixup

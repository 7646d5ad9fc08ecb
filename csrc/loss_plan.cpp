// Validation shared by the CPU and CUDA kernels of the mixed cross-entropy.
#include "loss.h"

#include <ATen/ATen.h>

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
  for (const auto& [name, t] : {std::pair<const char*, const at::Tensor&>{"grad_loss", grad_loss}, {"shifted_lse", lse}}) {
    TORCH_CHECK_VALUE(at::isFloatingType(t.scalar_type()) && t.dim() == 1 && t.size(0) == b.in.batch &&
                          t.device() == logits.device(),
                      op, ": ", name, " must be a floating tensor of shape (B,) = (", b.in.batch, ",) on logits' device");
  }
  const at::ScalarType acc = b.in.lam.scalar_type();
  b.grad_loss = grad_loss.to(acc).contiguous();
  b.lse = lse.to(acc).contiguous();
  b.grad = at::empty({b.in.batch, b.in.classes}, logits.options());
  return b;
}

}  // namespace mixup

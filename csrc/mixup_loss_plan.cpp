// Validation shared by every op of the loss family, on both backends.
#include "mixup_loss.h"
#include "dtypes.h"
#include "messages.h"
#include "value_checks.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <string>

namespace mixup {

LossInputs plan_loss_inputs(const char* op, const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                            const at::Tensor& lam, double smoothing, bool check_values) {
  const at::ScalarType t = logits.scalar_type();
  TORCH_CHECK_VALUE(logits.dim() == 2 && is_data_float(t), op, ": logits must be a (B, C) ", kFloatNames,
                    " tensor, got ", dtype_name(t), " of shape ", logits.sizes());
  const int64_t batch = logits.size(0), classes = logits.size(1);
  TORCH_CHECK_VALUE(classes > 0, op, ": logits must have at least one class, got shape ", logits.sizes());
  for (const auto& [name, y] : {std::pair<const char*, const at::Tensor&>{"y_a", y_a}, {"y_b", y_b}}) {
    TORCH_CHECK_VALUE(
        y.scalar_type() == at::kLong && y.dim() == 1 && y.size(0) == batch && y.device() == logits.device(), op, ": ",
        name, " must be an int64 tensor of shape (B,) = (", batch, ",) on logits' device, got ",
        dtype_name(y.scalar_type()), " of shape ", y.sizes(), " on ", y.device());
  }
  TORCH_CHECK_VALUE(at::isFloatingType(lam.scalar_type()) &&
                        (lam.dim() == 0 || (lam.dim() == 1 && lam.size(0) == batch)) && lam.device() == logits.device(),
                    op, ": lam must be a floating tensor of shape () or (B,) = (", batch, ",) on logits' device, got ",
                    dtype_name(lam.scalar_type()), " of shape ", lam.sizes(), " on ", lam.device());
  TORCH_CHECK_VALUE(smoothing >= 0.0 && smoothing <= 1.0, op, ": label_smoothing must be in [0, 1], got ",
                    number(smoothing));
  if (check_values && reads_values(logits)) {
    check_lam_values(op, lam);
    for (const auto& [name, y] : {std::pair<const char*, const at::Tensor&>{"y_a", y_a}, {"y_b", y_b}}) {
      const at::Tensor label_values = y.cpu();  // on a GPU: a sync (value checks on)
      const auto labels = label_values.accessor<int64_t, 1>();
      for (int64_t i = 0; i < batch; ++i) {
        TORCH_CHECK_VALUE(labels[i] >= 0 && labels[i] < classes, op, ": ", name, " class ids must be in [0, C) = [0, ",
                          classes, "), found ", labels[i], " at position ", i);
      }
    }
  }
  LossInputs p;
  p.logits = logits.stride(1) == 1 ? logits : logits.contiguous();
  p.y_a = y_a;
  p.y_b = y_b;
  p.lam = lam.to(accumulation_dtype(t));
  p.lam_stride = lam.dim() == 0 ? 0 : p.lam.stride(0);
  p.batch = batch;
  p.classes = classes;
  p.smoothing = smoothing;
  return p;
}

Reduction parse_reduction(const char* op, c10::string_view reduction) {
  if (reduction == "none") return Reduction::kNone;
  if (reduction == "mean") return Reduction::kMean;
  TORCH_CHECK_VALUE(reduction == "sum", op, ": reduction must be one of mean, sum, none, got '", std::string(reduction),
                    "'");
  return Reduction::kSum;
}

at::Tensor reduce_rows(const at::Tensor& rows, Reduction reduction) {
  switch (reduction) {
    case Reduction::kMean:
      return rows.mean();
    case Reduction::kSum:
      return rows.sum();
    case Reduction::kNone:
      break;
  }
  return rows;
}

void check_forward_gradient(const char* op, const at::Tensor& grad, const LossInputs& in) {
  TORCH_CHECK_VALUE(grad.dim() == 2 && grad.size(0) == in.batch && grad.size(1) == in.classes &&
                        grad.scalar_type() == in.logits.scalar_type() && grad.device() == in.logits.device() &&
                        grad.is_contiguous(),
                    op, ": grad must be the contiguous (B, C) = (", in.batch, ", ", in.classes,
                    ") gradient of logits' dtype and device that the forward wrote, got ", describe(grad));
}

UpstreamGrad unit_upstream_grad(Reduction reduction, const LossInputs& in) {
  UpstreamGrad g;
  g.divisor = reduction == Reduction::kMean ? std::max<int64_t>(in.batch, 1) : 1;
  return g;
}

UpstreamGrad plan_upstream_grad(const char* op, const at::Tensor& grad_loss, Reduction reduction,
                                const LossInputs& in) {
  if (reduction == Reduction::kNone) {
    UpstreamGrad g;
    g.values = plan_per_row(op, "grad_loss", grad_loss, in);
    g.stride = 1;
    return g;
  }
  TORCH_CHECK_VALUE(
      at::isFloatingType(grad_loss.scalar_type()) && grad_loss.dim() == 0 && grad_loss.device() == in.logits.device(),
      op, ": grad_loss must be a floating tensor of shape () on logits' device for a reduced loss, got ",
      describe(grad_loss));
  UpstreamGrad g = unit_upstream_grad(reduction, in);
  g.values = grad_loss.to(in.lam.scalar_type()).contiguous();
  return g;
}

at::Tensor plan_per_row(const char* op, const char* name, const at::Tensor& grad_loss, const LossInputs& in) {
  TORCH_CHECK_VALUE(at::isFloatingType(grad_loss.scalar_type()) && grad_loss.dim() == 1 &&
                        grad_loss.size(0) == in.batch && grad_loss.device() == in.logits.device(),
                    op, ": ", name, " must be a floating tensor of shape (B,) = (", in.batch, ",) on logits' device");
  return grad_loss.to(in.lam.scalar_type()).contiguous();
}

}  // namespace mixup

// Autograd for mixup::fused_mix and mixup::_fused_mix_backward, in C++ under
// the Autograd key (as torchvision's csrc/ops/autograd/ does), so that a
// training step pays no Python on the way in or back, and libtorch programs
// get gradients too. Fake kernels stay in Python (mixup_ext/_registrations.py).
//
// The mix is linear in x and in soft targets:
//   forward   out = A x,              A = the blend or paste of (index, lam, box)
//   backward  grad_x = A^T grad_out   (mixup::_fused_mix_backward, scale 1)
//             grad_t = (1 - eps) M^T grad_mixed   (M = A without the box)
//   and the backward's own adjoint is A again, which gives double backward
//   (gradient penalties through a mixed batch) for free.
// A normalised output, (A x - mean) / std per channel, scales both by 1 / std
// (the division commutes with A, which never moves an element across
// channels). mean and std get no gradient, like index, lam and box.
#include <torch/autograd.h>
#include <torch/library.h>

#include "../ops.h"

namespace mixup {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

bool defined(const std::optional<at::Tensor>& t) { return t.has_value() && t->defined(); }

std::optional<at::Tensor> optional_of(const at::Tensor& t) {
  return t.defined() ? std::optional<at::Tensor>(t) : std::nullopt;
}

// What both functions' save_for_backward keeps, in its order (kBox and kStd
// undefined when not given).
enum Saved : size_t { kIndex, kLam, kBox, kStd };

class FusedMixBackwardFunction : public torch::autograd::Function<FusedMixBackwardFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& grad, const at::Tensor& index,
                               const at::Tensor& lam, const std::optional<at::Tensor>& box, double scale,
                               const std::optional<at::Tensor>& std) {
    ctx->set_materialize_grads(false);
    ctx->save_for_backward({index, lam, box.value_or(at::Tensor()), std.value_or(at::Tensor())});
    ctx->saved_data["scale"] = scale;
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    return {mixup::_fused_mix_backward(grad, index, lam, box, scale, std)};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const at::Tensor& grad_grad_input = grads[0];
    at::Tensor grad;
    if (grad_grad_input.defined() && ctx->needs_input_grad(0)) {
      const auto saved = ctx->get_saved_variables();
      const double scale = ctx->saved_data["scale"].toDouble();
      grad = std::get<0>(
          mixup::fused_mix(grad_grad_input, std::nullopt, saved[kIndex], saved[kLam], optional_of(saved[kBox]),
                           /*num_classes=*/0, /*smoothing=*/0.0, /*mean=*/std::nullopt, optional_of(saved[kStd])));
      if (scale != 1.0) grad = grad.mul(scale);
    }
    return {grad, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

class FusedMixFunction : public torch::autograd::Function<FusedMixFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& x, const std::optional<at::Tensor>& target,
                               const at::Tensor& index, const at::Tensor& lam, const std::optional<at::Tensor>& box,
                               int64_t num_classes, double smoothing, const std::optional<at::Tensor>& mean,
                               const std::optional<at::Tensor>& std, std::optional<at::ScalarType> out_dtype) {
    ctx->set_materialize_grads(false);
    // d out / d x = A / std: mean shifts the output, it does not scale it, so
    // only std is kept (undefined when not given: no scaling).
    ctx->save_for_backward({index, lam, box.value_or(at::Tensor()), std.value_or(at::Tensor())});
    ctx->saved_data["smoothing"] = smoothing;
    ctx->saved_data["x_dtype"] = static_cast<int64_t>(x.scalar_type());
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [out, mixed] = mixup::fused_mix(x, target, index, lam, box, num_classes, smoothing, mean, std, out_dtype);
    // Class ids (or no target) have no gradient, so neither do their mixed rows.
    if (!defined(target) || !target->is_floating_point()) ctx->mark_non_differentiable({mixed});
    return {out, mixed};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &index = saved[kIndex], &lam = saved[kLam];
    at::Tensor grad_x, grad_target;
    if (grads[0].defined() && ctx->needs_input_grad(0)) {
      // An out_dtype other than x's: the gradient comes back in x's dtype.
      const auto x_dtype = static_cast<at::ScalarType>(ctx->saved_data["x_dtype"].toInt());
      grad_x = mixup::_fused_mix_backward(grads[0].to(x_dtype), index, lam, optional_of(saved[kBox]), 1.0,
                                          optional_of(saved[kStd]));
    }
    if (grads[1].defined() && ctx->needs_input_grad(1)) {
      // d mixed / d target = (1 - smoothing) * the same mix, without the box.
      const double smoothing = ctx->saved_data["smoothing"].toDouble();
      grad_target = mixup::_fused_mix_backward(grads[1], index, lam, std::nullopt, 1.0 - smoothing);
    }
    // index, lam, box, num_classes, smoothing, mean, std and out_dtype get no gradient, by contract.
    return {grad_x,       grad_target,  at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

// Nothing to record when no input needs a gradient (mixing a data batch, the
// common case): go straight to the kernel, skipping the graph node.
bool records_graph(const at::Tensor& t, const std::optional<at::Tensor>& other = std::nullopt) {
  return at::GradMode::is_enabled() && (t.requires_grad() || (defined(other) && other->requires_grad()));
}

std::tuple<at::Tensor, at::Tensor> fused_mix_autograd(const at::Tensor& x, const std::optional<at::Tensor>& target,
                                                      const at::Tensor& index, const at::Tensor& lam,
                                                      const std::optional<at::Tensor>& box, int64_t num_classes,
                                                      double smoothing, const std::optional<at::Tensor>& mean,
                                                      const std::optional<at::Tensor>& std,
                                                      std::optional<at::ScalarType> out_dtype) {
  if (!records_graph(x, target)) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    return mixup::fused_mix(x, target, index, lam, box, num_classes, smoothing, mean, std, out_dtype);
  }
  const auto out = FusedMixFunction::apply(x, target, index, lam, box, num_classes, smoothing, mean, std, out_dtype);
  return {out[0], out[1]};
}

at::Tensor fused_mix_backward_autograd(const at::Tensor& grad, const at::Tensor& index, const at::Tensor& lam,
                                       const std::optional<at::Tensor>& box, double scale,
                                       const std::optional<at::Tensor>& std) {
  if (!records_graph(grad)) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    return mixup::_fused_mix_backward(grad, index, lam, box, scale, std);
  }
  return FusedMixBackwardFunction::apply(grad, index, lam, box, scale, std)[0];
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, Autograd, m) {
  m.impl("fused_mix", &fused_mix_autograd);
  m.impl("_fused_mix_backward", &fused_mix_backward_autograd);
}

}  // namespace mixup

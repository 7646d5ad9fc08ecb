// Autograd for mixup::mixup_cross_entropy, in C++ under the Autograd key
// (see fused_mix_autograd.cpp for why).
//
// When the logits need a gradient, the forward is
// _mixup_cross_entropy_with_grad: it writes the gradient for grad_output 1
// while it holds each row (mixup_loss_backward.h has the backward's side).
#include <torch/autograd.h>
#include <torch/library.h>

#include <string>

#include "../ops.h"
#include "mixup_loss_backward.h"

namespace mixup {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What save_for_backward keeps, in its order.
enum Saved : size_t { kLogits, kYA, kYB, kLam, kShiftedLse, kForwardGrad };

class MixupCrossEntropyFunction : public torch::autograd::Function<MixupCrossEntropyFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& y_a,
                               const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
                               c10::string_view reduction) {
    ctx->set_materialize_grads(false);
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [loss, shifted_lse, grad] = mixup::_mixup_cross_entropy_with_grad(logits, y_a, y_b, lam, smoothing, reduction);
    ctx->save_for_backward({logits, y_a, y_b, lam, shifted_lse, grad});
    ctx->saved_data["smoothing"] = smoothing;
    ctx->saved_data["reduction"] = std::string(reduction);
    ctx->mark_non_differentiable({shifted_lse});
    return {loss, shifted_lse};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor grad_logits;
    if (grads[0].defined() && ctx->needs_input_grad(0)) {
      const auto s = ctx->get_saved_variables();
      const double smoothing = ctx->saved_data["smoothing"].toDouble();
      const std::string reduction = ctx->saved_data["reduction"].toStringRef();
      grad_logits = forward_gradient_for(
          ctx, s[kForwardGrad],
          [&](const at::Tensor& grad) {
            mixup::_mixup_cross_entropy_apply_grad_output(grad, grads[0], s[kLogits], s[kYA], s[kYB], s[kLam],
                                                          s[kShiftedLse], smoothing, reduction);
          },
          [&] {
            return mixup::_mixup_cross_entropy_backward(grads[0], s[kLogits], s[kYA], s[kYB], s[kLam], s[kShiftedLse],
                                                        smoothing, reduction);
          });
    }
    return {grad_logits, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor> mixup_cross_entropy_autograd(const at::Tensor& logits, const at::Tensor& y_a,
                                                                const at::Tensor& y_b, const at::Tensor& lam,
                                                                double smoothing, c10::string_view reduction) {
  if (!(at::GradMode::is_enabled() && logits.requires_grad())) {
    // No gradient to write: the plain forward, (B,) outputs only.
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    return mixup::mixup_cross_entropy(logits, y_a, y_b, lam, smoothing, reduction);
  }
  const auto out = MixupCrossEntropyFunction::apply(logits, y_a, y_b, lam, smoothing, reduction);
  return {out[0], out[1]};
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, Autograd, m) { m.impl("mixup_cross_entropy", &mixup_cross_entropy_autograd); }

}  // namespace mixup

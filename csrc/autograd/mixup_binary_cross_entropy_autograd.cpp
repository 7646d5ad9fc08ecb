// Autograd for mixup::mixup_binary_cross_entropy, in C++ under the Autograd
// key (see fused_mix_autograd.cpp for why). Only the logits get a gradient;
// lam and pos_weight are constants of the loss, as in timm.
//
// When the logits need a gradient, the forward is
// _mixup_binary_cross_entropy_with_grad: it writes the gradient for
// grad_output 1 in the same sweep as the loss (mixup_loss_backward.h has the
// backward's side).
#include <torch/autograd.h>
#include <torch/library.h>

#include <string>

#include "../ops.h"
#include "mixup_loss_backward.h"

namespace mixup {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// What save_for_backward keeps, in its order (kPosWeight undefined when not given).
enum Saved : size_t { kLogits, kYA, kYB, kLam, kPosWeight, kForwardGrad };

class MixupBinaryCrossEntropyFunction : public torch::autograd::Function<MixupBinaryCrossEntropyFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& y_a,
                            const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
                            std::optional<double> threshold, const std::optional<at::Tensor>& pos_weight,
                            bool sum_classes, c10::string_view reduction) {
    ctx->set_materialize_grads(false);
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [loss, grad] = mixup::_mixup_binary_cross_entropy_with_grad(logits, y_a, y_b, lam, smoothing, threshold,
                                                                     pos_weight, sum_classes, reduction);
    ctx->save_for_backward({logits, y_a, y_b, lam, pos_weight.value_or(at::Tensor()), grad});
    ctx->saved_data["smoothing"] = smoothing;
    ctx->saved_data["threshold"] = threshold;
    ctx->saved_data["sum_classes"] = sum_classes;
    ctx->saved_data["reduction"] = std::string(reduction);
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor grad_logits;
    if (grads[0].defined() && ctx->needs_input_grad(0)) {
      const auto s = ctx->get_saved_variables();
      const std::optional<at::Tensor> pos_weight =
          s[kPosWeight].defined() ? std::optional<at::Tensor>(s[kPosWeight]) : std::nullopt;
      const double smoothing = ctx->saved_data["smoothing"].toDouble();
      const std::optional<double> threshold = ctx->saved_data["threshold"].toOptional<double>();
      const bool sum_classes = ctx->saved_data["sum_classes"].toBool();
      const std::string reduction = ctx->saved_data["reduction"].toStringRef();
      grad_logits = forward_gradient_for(
          ctx, s[kForwardGrad],
          [&](const at::Tensor& grad) {
            mixup::_mixup_binary_cross_entropy_apply_grad_output(grad, grads[0], s[kLogits], s[kYA], s[kYB], s[kLam],
                                                                 smoothing, threshold, pos_weight, sum_classes,
                                                                 reduction);
          },
          [&] {
            return mixup::_mixup_binary_cross_entropy_backward(grads[0], s[kLogits], s[kYA], s[kYB], s[kLam], smoothing,
                                                               threshold, pos_weight, sum_classes, reduction);
          });
    }
    return {grad_logits,  at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

at::Tensor mixup_binary_cross_entropy_autograd(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                               const at::Tensor& lam, double smoothing, std::optional<double> threshold,
                                               const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                               c10::string_view reduction) {
  if (!(at::GradMode::is_enabled() && logits.requires_grad())) {
    // No gradient to write: the plain forward, (B,) outputs only.
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    return mixup::mixup_binary_cross_entropy(logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes,
                                             reduction);
  }
  return MixupBinaryCrossEntropyFunction::apply(logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes,
                                                reduction);
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, Autograd, m) { m.impl("mixup_binary_cross_entropy", &mixup_binary_cross_entropy_autograd); }

}  // namespace mixup

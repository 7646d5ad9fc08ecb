// Autograd for mixup::mixup_binary_cross_entropy, in C++ under the Autograd
// key (see fused_mix_autograd.cpp for why). The backward recomputes the
// sigmoids from the logits: nothing but the inputs is saved. Only the logits
// get a gradient; lam and pos_weight are constants of the loss, as in timm.
#include <torch/autograd.h>
#include <torch/library.h>

#include "../ops.h"

namespace mixup {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class MixupBinaryCrossEntropyFunction : public torch::autograd::Function<MixupBinaryCrossEntropyFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& y_a,
                            const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
                            std::optional<double> threshold, const std::optional<at::Tensor>& pos_weight,
                            bool sum_classes) {
    ctx->set_materialize_grads(false);
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    at::Tensor loss = mixup::mixup_binary_cross_entropy(logits, y_a, y_b, lam, smoothing, threshold, pos_weight,
                                                        sum_classes);
    ctx->save_for_backward({logits, y_a, y_b, lam, pos_weight.value_or(at::Tensor())});
    ctx->saved_data["smoothing"] = smoothing;
    ctx->saved_data["threshold"] = threshold;
    ctx->saved_data["sum_classes"] = sum_classes;
    return loss;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor grad_logits;
    if (grads[0].defined() && ctx->needs_input_grad(0)) {
      const auto s = ctx->get_saved_variables();
      const std::optional<at::Tensor> pos_weight = s[4].defined() ? std::optional<at::Tensor>(s[4]) : std::nullopt;
      grad_logits = mixup::_mixup_binary_cross_entropy_backward(
          grads[0], s[0], s[1], s[2], s[3], ctx->saved_data["smoothing"].toDouble(),
          ctx->saved_data["threshold"].toOptional<double>(), pos_weight, ctx->saved_data["sum_classes"].toBool());
    }
    return {grad_logits, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor()};
  }
};

at::Tensor mixup_binary_cross_entropy_autograd(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                               const at::Tensor& lam, double smoothing,
                                               std::optional<double> threshold,
                                               const std::optional<at::Tensor>& pos_weight, bool sum_classes) {
  if (!(at::GradMode::is_enabled() && logits.requires_grad())) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    return mixup::mixup_binary_cross_entropy(logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes);
  }
  return MixupBinaryCrossEntropyFunction::apply(logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes);
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, Autograd, m) {
  m.impl("mixup_binary_cross_entropy", &mixup_binary_cross_entropy_autograd);
}

}  // namespace mixup

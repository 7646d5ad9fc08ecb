// Autograd for mixup::mixup_cross_entropy, in C++ under the Autograd key (see
// fused_mix_kernel.cpp for why). The backward op reuses the forward's shifted
// log-sum-exp, a by-product with no gradient of its own.
#include <torch/autograd.h>
#include <torch/library.h>

#include "../ops.h"

namespace mixup {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class MixupCrossEntropyFunction : public torch::autograd::Function<MixupCrossEntropyFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& logits, const at::Tensor& y_a,
                               const at::Tensor& y_b, const at::Tensor& lam, double smoothing) {
    ctx->set_materialize_grads(false);
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    auto [loss, shifted_lse] = mixup::mixup_cross_entropy(logits, y_a, y_b, lam, smoothing);
    ctx->save_for_backward({logits, y_a, y_b, lam, shifted_lse});
    ctx->saved_data["smoothing"] = smoothing;
    ctx->mark_non_differentiable({shifted_lse});
    return {loss, shifted_lse};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::Tensor grad_logits;
    if (grads[0].defined() && ctx->needs_input_grad(0)) {
      const auto s = ctx->get_saved_variables();
      grad_logits = mixup::_mixup_cross_entropy_backward(grads[0], s[0], s[1], s[2], s[3], s[4],
                                                        ctx->saved_data["smoothing"].toDouble());
    }
    return {grad_logits, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor> mixup_cross_entropy_autograd(const at::Tensor& logits, const at::Tensor& y_a,
                                                                const at::Tensor& y_b, const at::Tensor& lam,
                                                                double smoothing) {
  if (!(at::GradMode::is_enabled() && logits.requires_grad())) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    return mixup::mixup_cross_entropy(logits, y_a, y_b, lam, smoothing);
  }
  const auto out = MixupCrossEntropyFunction::apply(logits, y_a, y_b, lam, smoothing);
  return {out[0], out[1]};
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, Autograd, m) { m.impl("mixup_cross_entropy", &mixup_cross_entropy_autograd); }

}  // namespace mixup

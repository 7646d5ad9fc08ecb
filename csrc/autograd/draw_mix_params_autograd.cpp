// mixup::draw_mix_params under the Autograd key: its outputs (partners,
// weights, boxes) are random draws with no gradient, so it runs below
// autograd. Without this an x that requires grad (Manifold Mixup) would give
// the weights a grad_fn that fails on backward.
#include <torch/autograd.h>
#include <torch/library.h>

#include "../ops.h"

namespace mixup {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> draw_mix_params_autograd(
    const at::Tensor& x, c10::string_view mode, c10::string_view pairing, double mixup_alpha, double cutmix_alpha,
    double mix_prob, double switch_prob, std::optional<c10::ArrayRef<double>> minmax, bool correct_lam, bool full_side,
    std::optional<at::Generator> generator) {
  at::AutoDispatchBelowADInplaceOrView below_autograd;
  return mixup::draw_mix_params(x, mode, pairing, mixup_alpha, cutmix_alpha, mix_prob, switch_prob, minmax, correct_lam,
                                full_side, std::move(generator));
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, Autograd, m) { m.impl("draw_mix_params", &draw_mix_params_autograd); }

}  // namespace mixup

// CPU kernel of mixup::_sample_mix_params: a loop over draws (there are at
// most B of them, so no threads).
#include <torch/library.h>

#include "../sample_mix_params.h"

namespace mixup {
namespace {

std::tuple<at::Tensor, at::Tensor> sample_mix_params_cpu(const at::Tensor& uniforms, const at::Tensor& gammas,
                                                         const std::optional<at::Tensor>& pair_index, int64_t height,
                                                         int64_t width, double mix_prob, double switch_prob,
                                                         bool mixup_on, bool cutmix_on,
                                                         std::optional<at::ArrayRef<double>> minmax, bool correct_lam,
                                                         bool full_side) {
  const SamplePlan p = plan_sample(uniforms, gammas, pair_index, height, width, mix_prob, switch_prob, mixup_on,
                                   cutmix_on, minmax, correct_lam, full_side);
  const double* u = p.uniforms.const_data_ptr<double>();
  const double* g = p.gammas.const_data_ptr<double>();
  const int64_t* pairs = p.pair_index.defined() ? p.pair_index.const_data_ptr<int64_t>() : nullptr;
  float* lam = p.lam.mutable_data_ptr<float>();
  int64_t* box = p.box.mutable_data_ptr<int64_t>();
  if (pairs != nullptr) {
    for (int64_t i = 0; i < p.draws; ++i) {
      TORCH_CHECK_VALUE(pairs[i] >= 0 && pairs[i] < p.draws,
                        "mixup::_sample_mix_params: pair_index values must be in [0, ", p.draws, "), found ", pairs[i]);
    }
  }
  for (int64_t i = 0; i < p.draws; ++i) {
    const int64_t d = draw_of(i, p.draws, pairs);
    const auto uniform = [&](int slot) { return u[d * kUniforms + slot]; };
    const auto beta = [&](int first) { return beta_of_gammas([&](int k) { return g[k * p.draws + d]; }, first); };
    sample_one(p.config, uniform, beta, lam + i, box + 4 * i);
  }
  return {p.lam, p.box};
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CPU, m) { m.impl("_sample_mix_params", &sample_mix_params_cpu); }

}  // namespace mixup

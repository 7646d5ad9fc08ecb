// CPU kernel of mixup::draw_mix_params: loops over rows and draws (there
// are at most B of them, microseconds of work, so no threads). The seed comes
// from the CPU generator (one 64-bit draw per call, so `generator=` makes
// calls reproducible); the streams are draw_mix_params.h's, the CUDA kernel's.
#include <ATen/CPUGeneratorImpl.h>
#include <torch/library.h>

#include <algorithm>
#include <mutex>
#include <vector>

#include "../draw_mix_params.h"

namespace mixup {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> draw_mix_params_cpu(
    const at::Tensor& x, c10::string_view mode, c10::string_view pairing, double mixup_alpha, double cutmix_alpha,
    double mix_prob, double switch_prob, std::optional<c10::ArrayRef<double>> minmax, bool correct_lam, bool full_side,
    std::optional<at::Generator> generator) {
  const DrawPlan plan = plan_draw(x, mode, pairing, mixup_alpha, cutmix_alpha, mix_prob, switch_prob, minmax,
                                  correct_lam, full_side, generator);
  const DrawConfig& c = plan.config;
  auto* gen = at::get_generator_or_default<at::CPUGeneratorImpl>(generator, at::detail::getDefaultCPUGenerator());
  uint64_t seed;
  {
    std::lock_guard<std::mutex> lock(gen->mutex_);
    seed = gen->random64();
  }
  constexpr uint64_t offset = 0;  // a fresh seed per call: every call starts its streams at 0

  int64_t* index = plan.index.mutable_data_ptr<int64_t>();
  if (c.partners == PartnerRule::kRandom) {
    std::vector<uint64_t> keys(static_cast<size_t>(c.batch));
    for (int64_t i = 0; i < c.batch; ++i) keys[i] = permutation_key(seed, offset, i);
    std::sort(keys.begin(), keys.end());
    const auto perm = [&](int64_t k) { return row_of_key(keys[k]); };
    for (int64_t k = 0; k < c.batch; ++k) place_partner(perm, k, c.batch, c.symmetric(), index);
  } else {
    for (int64_t i = 0; i < c.batch; ++i) index[i] = fixed_partner(c.partners, i, c.batch);
  }

  float* lam = plan.lam.mutable_data_ptr<float>();
  int64_t* box = plan.box.mutable_data_ptr<int64_t>();
  const int64_t* pair_index = c.symmetric() ? index : nullptr;
  for (int64_t i = 0; i < c.outputs(); ++i) {
    draw_one(c, seed, offset, draw_of(i, c.outputs(), pair_index), lam + i, box + 4 * i);
  }
  return {plan.index, plan.lam, plan.box};
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CPU, m) { m.impl("draw_mix_params", &draw_mix_params_cpu); }

}  // namespace mixup

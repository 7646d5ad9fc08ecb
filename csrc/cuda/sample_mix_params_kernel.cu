// CUDA kernel of mixup::_sample_mix_params: one thread per draw, one launch.
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../sample_mix_params.h"
#include "launch.h"

namespace mixup {
namespace {

constexpr int kThreads = 128;

__global__ void sample_mix_params_kernel(SampleConfig config, const double* uniforms, const double* gammas,
                                         const int64_t* pair_index, int64_t draws, float* lam, int64_t* box) {
  const int64_t i = blockIdx.x * int64_t(kThreads) + threadIdx.x;
  if (i >= draws) return;
  if (pair_index != nullptr) CUDA_KERNEL_ASSERT(pair_index[i] >= 0 && pair_index[i] < draws);
  const int64_t d = draw_of(i, draws, pair_index);
  const auto uniform = [&](int slot) { return uniforms[d * kUniforms + slot]; };
  const auto beta = [&](int first) { return beta_of_gammas([&](int k) { return gammas[k * draws + d]; }, first); };
  sample_one(config, uniform, beta, lam + i, box + 4 * i);
}

std::tuple<at::Tensor, at::Tensor> sample_mix_params_cuda(const at::Tensor& uniforms, const at::Tensor& gammas,
                                                          const std::optional<at::Tensor>& pair_index, int64_t height,
                                                          int64_t width, double mix_prob, double switch_prob,
                                                          bool mixup_on, bool cutmix_on,
                                                          std::optional<at::ArrayRef<double>> minmax, bool correct_lam,
                                                          bool full_side) {
  const c10::cuda::CUDAGuard guard(uniforms.device());
  const SamplePlan p = plan_sample(uniforms, gammas, pair_index, height, width, mix_prob, switch_prob, mixup_on,
                                   cutmix_on, minmax, correct_lam, full_side);
  cuda::launch("mixup::_sample_mix_params", sample_mix_params_kernel, cuda::ceil_div<int64_t>(p.draws, kThreads),
               kThreads, p.config, p.uniforms.const_data_ptr<double>(), p.gammas.const_data_ptr<double>(),
               p.pair_index.defined() ? p.pair_index.const_data_ptr<int64_t>() : nullptr, p.draws,
               p.lam.mutable_data_ptr<float>(), p.box.mutable_data_ptr<int64_t>());
  return {p.lam, p.box};
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CUDA, m) { m.impl("_sample_mix_params", &sample_mix_params_cuda); }

}  // namespace mixup

// CUDA kernel of mixup::draw_mix_params: the whole draw in one block, one
// launch. Pairing first (a random order by sorting Philox keys in shared
// memory), then, once every partner is known (pair mode reads them), each
// thread draws weights and boxes for its rows. Seed and offset come from the
// generator's graph-safe Philox state, read on the device, so the launch can
// be captured in a CUDA graph and every replay draws afresh.
#include <ATen/cuda/CUDAGeneratorImpl.h>
#include <ATen/cuda/PhiloxUtils.cuh>
#include <ATen/ops/randperm.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <cstdint>
#include <mutex>

#include "../draw_mix_params.h"
#include "launch.h"

namespace mixup {
namespace {

constexpr int kThreads = 512;
// Random orders up to this many rows are sorted in shared memory (32 KB);
// bigger batches take their order from torch.randperm (a few more launches).
constexpr int64_t kMaxSortedRows = 4096;

int64_t next_power_of_two(int64_t n) {
  int64_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

// Ascending bitonic sort of n (a power of two) keys, by the whole block.
__device__ void bitonic_sort(uint64_t* keys, int64_t n) {
  for (int64_t size = 2; size <= n; size <<= 1) {
    for (int64_t stride = size >> 1; stride > 0; stride >>= 1) {
      for (int64_t i = threadIdx.x; i < n; i += kThreads) {
        const int64_t j = i ^ stride;
        if (j > i) {
          const bool ascending = (i & size) == 0;
          const uint64_t a = keys[i], b = keys[j];
          if ((a > b) == ascending) {
            keys[i] = b;
            keys[j] = a;
          }
        }
      }
      __syncthreads();
    }
  }
}

__global__ void __launch_bounds__(kThreads)
    draw_mix_params_kernel(DrawConfig c, at::PhiloxCudaState rng, const int64_t* given_order, int64_t sort_size,
                           int64_t* index, float* lam, int64_t* box) {
  __shared__ uint64_t keys[kMaxSortedRows];
  const auto [seed, offset_values] = at::cuda::philox::unpack(rng);
  const uint64_t offset = offset_values / 4;  // torch counts 32-bit values, the engine 128-bit blocks

  if (c.partners != PartnerRule::kRandom) {
    for (int64_t i = threadIdx.x; i < c.batch; i += kThreads) index[i] = fixed_partner(c.partners, i, c.batch);
  } else if (given_order != nullptr) {
    const auto perm = [&](int64_t k) { return given_order[k]; };
    for (int64_t k = threadIdx.x; k < c.batch; k += kThreads) place_partner(perm, k, c.batch, c.symmetric(), index);
  } else {
    for (int64_t i = threadIdx.x; i < sort_size; i += kThreads) {
      keys[i] = i < c.batch ? permutation_key(seed, offset, i) : UINT64_MAX;  // padding sorts last
    }
    __syncthreads();
    bitonic_sort(keys, sort_size);
    const auto perm = [&](int64_t k) { return row_of_key(keys[k]); };
    for (int64_t k = threadIdx.x; k < c.batch; k += kThreads) place_partner(perm, k, c.batch, c.symmetric(), index);
  }
  __syncthreads();  // pair mode reads partners that other threads wrote

  const int64_t* pair_index = c.symmetric() ? index : nullptr;
  for (int64_t i = threadIdx.x; i < c.outputs(); i += kThreads) {
    if (pair_index != nullptr) CUDA_KERNEL_ASSERT(pair_index[i] >= 0 && pair_index[i] < c.batch);
    draw_one(c, seed, offset, draw_of(i, c.outputs(), pair_index), lam + i, box + 4 * i);
  }
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> draw_mix_params_cuda(
    const at::Tensor& x, c10::string_view mode, c10::string_view pairing, double mixup_alpha, double cutmix_alpha,
    double mix_prob, double switch_prob, std::optional<c10::ArrayRef<double>> minmax, bool correct_lam, bool full_side,
    std::optional<at::Generator> generator) {
  const c10::cuda::CUDAGuard guard(x.device());
  const DrawPlan plan = plan_draw(x, mode, pairing, mixup_alpha, cutmix_alpha, mix_prob, switch_prob, minmax,
                                  correct_lam, full_side, generator);
  const DrawConfig& c = plan.config;
  const bool sorted_here = c.partners == PartnerRule::kRandom && c.batch <= kMaxSortedRows;
  at::Tensor order;
  if (c.partners == PartnerRule::kRandom && !sorted_here) {
    order = at::randperm(c.batch, generator, plan.index.options());
  }
  auto* gen = at::get_generator_or_default<at::CUDAGeneratorImpl>(
      generator, at::cuda::detail::getDefaultCUDAGenerator(x.device().index()));
  at::PhiloxCudaState rng;
  {
    std::lock_guard<std::mutex> lock(gen->mutex_);
    rng = gen->philox_cuda_state(kValuesPerCall);
  }
  // One block: the partners of a whole batch are decided together.
  cuda::launch("mixup::draw_mix_params", draw_mix_params_kernel, 1, kThreads, c, rng,
               order.defined() ? order.const_data_ptr<int64_t>() : nullptr,
               sorted_here ? next_power_of_two(c.batch) : 0, plan.index.mutable_data_ptr<int64_t>(),
               plan.lam.mutable_data_ptr<float>(), plan.box.mutable_data_ptr<int64_t>());
  return {plan.index, plan.lam, plan.box};
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CUDA, m) { m.impl("draw_mix_params", &draw_mix_params_cuda); }

}  // namespace mixup

// CUDA kernels of mixup::naflex_mix and mixup::naflex_mix_: the whole batch
// in one launch, one warp per work unit (a row of one channel,
// naflex_mix_math.h), its lanes striding the row's columns.
//
// The plan's arrays (images, pairs, unit starts) go to the device in one
// non-blocking copy from pinned memory, on the current stream: the kernel
// follows it in stream order, and the host never waits for the device.
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <cstring>
#include <vector>

#include "../naflex_mix.h"
#include "launch.h"

namespace mixup {
namespace {

constexpr int kThreads = 256;
constexpr int kUnitsPerBlock = kThreads / 32;

template <typename scalar_t, bool kDense>
__global__ void __launch_bounds__(kThreads) naflex_mix_kernel(const NaFlexUnits units, int64_t count) {
  const int64_t unit = int64_t(blockIdx.x) * kUnitsPerBlock + threadIdx.x / 32;
  if (unit >= count) return;
  run_naflex_unit<scalar_t, kDense>(units, unit, threadIdx.x % 32, 32);
}

// Rounds a byte offset up to the alignment of what is placed there.
size_t aligned(size_t offset) { return (offset + 15) & ~size_t(15); }

// The plan's three arrays in one device buffer; `units` points into it.
at::Tensor upload(const NaFlexPlan& plan, NaFlexUnits& units) {
  const size_t images_at = 0;
  const size_t pairs_at = aligned(images_at + plan.images.size() * sizeof(NaFlexImage));
  const size_t starts_at = aligned(pairs_at + plan.pairs.size() * sizeof(NaFlexPair));
  const size_t bytes = starts_at + plan.unit_starts.size() * sizeof(int64_t);
  at::Tensor host = at::empty({static_cast<int64_t>(bytes)}, at::TensorOptions().dtype(at::kByte).pinned_memory(true));
  auto* base = static_cast<char*>(host.data_ptr());
  std::memcpy(base + images_at, plan.images.data(), plan.images.size() * sizeof(NaFlexImage));
  std::memcpy(base + pairs_at, plan.pairs.data(), plan.pairs.size() * sizeof(NaFlexPair));
  std::memcpy(base + starts_at, plan.unit_starts.data(), plan.unit_starts.size() * sizeof(int64_t));
  // The caching host allocator keeps `host` alive until this copy is done.
  at::Tensor device = host.to(plan.device, /*non_blocking=*/true);
  const char* d = static_cast<const char*>(device.const_data_ptr());
  units = plan.host_units();
  units.images = reinterpret_cast<const NaFlexImage*>(d + images_at);
  units.pairs = reinterpret_cast<const NaFlexPair*>(d + pairs_at);
  units.starts = reinterpret_cast<const int64_t*>(d + starts_at);
  return device;
}

void run_plan(const NaFlexPlan& plan) {
  if (plan.units() == 0) return;
  const c10::cuda::CUDAGuard guard(plan.device);
  NaFlexUnits units{};
  const at::Tensor arrays = upload(plan, units);  // lives until the launch is queued
  const int64_t blocks = cuda::ceil_div<int64_t>(plan.units(), kUnitsPerBlock);
  dispatch_sample(plan.dtype, "mixup::naflex_mix", [&](auto type) {
    using scalar_t = decltype(type);
    if (plan.dense_columns) {
      cuda::launch("mixup::naflex_mix", naflex_mix_kernel<scalar_t, true>, blocks, kThreads, units, plan.units());
    } else {
      cuda::launch("mixup::naflex_mix", naflex_mix_kernel<scalar_t, false>, blocks, kThreads, units, plan.units());
    }
  });
}

std::vector<at::Tensor> naflex_mix_cuda(at::TensorList images, const at::Tensor& pairs, const at::Tensor& lam,
                                        const at::Tensor& box) {
  NaFlexPlan plan = plan_naflex_mix("mixup::naflex_mix", images, pairs, lam, box, /*in_place=*/false);
  run_plan(plan);
  return std::move(plan.outputs);
}

void naflex_mix_inplace_cuda(at::TensorList images, const at::Tensor& pairs, const at::Tensor& lam,
                             const at::Tensor& box) {
  run_plan(plan_naflex_mix("mixup::naflex_mix_", images, pairs, lam, box, /*in_place=*/true));
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CUDA, m) {
  m.impl("naflex_mix", &naflex_mix_cuda);
  m.impl("naflex_mix_", &naflex_mix_inplace_cuda);
}

}  // namespace mixup

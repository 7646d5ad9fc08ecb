// CPU kernels of mixup::naflex_mix and mixup::naflex_mix_: one parallel loop
// over the plan's work units (a row of one channel each, naflex_mix_math.h),
// so a batch of any mix of sizes is one region of at::parallel_for. With
// every column stride 1 (the usual (C, H, W) image) the row loops are plain
// streams the compiler vectorises.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <vector>

#include "../naflex_mix.h"

namespace mixup {
namespace {

// Units (rows of a few hundred elements) per parallel task: enough to
// amortise a task, few enough to balance a batch of different sizes.
constexpr int64_t kUnitsPerTask = 64;

void run_plan(const NaFlexPlan& plan) {
  const NaFlexUnits units = plan.host_units();
  dispatch_sample(plan.dtype, "mixup::naflex_mix", [&](auto type) {
    using scalar_t = decltype(type);
    const auto walk = [&](auto dense) {
      at::parallel_for(0, plan.units(), kUnitsPerTask, [&](int64_t begin, int64_t end) {
        for (int64_t u = begin; u < end; ++u) run_naflex_unit<scalar_t, decltype(dense)::value>(units, u, 0, 1);
      });
    };
    if (plan.dense_columns) {
      walk(std::true_type{});
    } else {
      walk(std::false_type{});
    }
  });
}

std::vector<at::Tensor> naflex_mix_cpu(at::TensorList images, const at::Tensor& pairs, const at::Tensor& lam,
                                       const at::Tensor& box) {
  NaFlexPlan plan = plan_naflex_mix("mixup::naflex_mix", images, pairs, lam, box, /*in_place=*/false);
  run_plan(plan);
  return std::move(plan.outputs);
}

void naflex_mix_inplace_cpu(at::TensorList images, const at::Tensor& pairs, const at::Tensor& lam,
                            const at::Tensor& box) {
  run_plan(plan_naflex_mix("mixup::naflex_mix_", images, pairs, lam, box, /*in_place=*/true));
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CPU, m) {
  m.impl("naflex_mix", &naflex_mix_cpu);
  m.impl("naflex_mix_", &naflex_mix_inplace_cpu);
}

}  // namespace mixup

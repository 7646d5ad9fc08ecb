// What the CUDA kernels of the loss family (mixup_cross_entropy_kernel.cu,
// mixup_binary_cross_entropy_kernel.cu) share: the grid shapes -- a forward
// block per row, and backward blocks that each write kGradPerThread strided
// elements per thread of one row -- and the arguments every kernel reads a
// row by, a base each op's arguments extend (as causal-conv1d's
// ConvParamsBwd extends ConvParamsBase).
#pragma once

#include <cstdint>

#include "../mixup_loss.h"
#include "launch.h"

namespace mixup::cuda {

constexpr int kLossThreads = 256;
constexpr int kLossWarps = kLossThreads / 32;
constexpr int kGradPerThread = 4;

struct GradGrid {
  int64_t chunks;  // blocks per row
  int64_t blocks;  // in all; 0 for an empty gradient
};

inline GradGrid grad_grid(const LossInputs& in) {
  const int64_t chunks = ceil_div<int64_t>(in.classes, int64_t(kLossThreads) * kGradPerThread);
  return {chunks, in.batch * chunks};
}

// Row r of the logits, its two labels and its weight.
template <typename scalar_t, typename acc_t>
struct LossRowArgs {
  const scalar_t* logits;
  int64_t row_stride;
  int64_t classes;
  const int64_t* y_a;
  int64_t a_stride;
  const int64_t* y_b;
  int64_t b_stride;
  const acc_t* lam;
  int64_t lam_stride;

  __device__ const scalar_t* row(int64_t r) const { return logits + r * row_stride; }
  __device__ int64_t label_a(int64_t r) const { return y_a[r * a_stride]; }
  __device__ int64_t label_b(int64_t r) const { return y_b[r * b_stride]; }
  __device__ acc_t weight_a(int64_t r) const { return lam[r * lam_stride]; }
};

template <typename scalar_t, typename acc_t>
LossRowArgs<scalar_t, acc_t> loss_row_args(const LossInputs& in) {
  return {in.logits.const_data_ptr<scalar_t>(), in.logits.stride(0), in.classes,
          in.y_a.const_data_ptr<int64_t>(),     in.y_a.stride(0),    in.y_b.const_data_ptr<int64_t>(),
          in.y_b.stride(0),                     in.lam.const_data_ptr<acc_t>(), in.lam_stride};
}

}  // namespace mixup::cuda

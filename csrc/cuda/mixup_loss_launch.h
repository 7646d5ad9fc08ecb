// What the CUDA kernels of the loss family (mixup_cross_entropy_kernel.cu,
// mixup_binary_cross_entropy_kernel.cu) share:
//  * the arguments every kernel reads a row by (LossRowArgs), a base each
//    op's arguments extend (as causal-conv1d's ConvParamsBwd extends
//    ConvParamsBase), and the upstream gradient per row (UpstreamRows, mixup_loss.h);
//  * the forward's grid: one block per row, of row_block_threads(C)
//    threads, reading and writing the row 16 bytes a thread at a time
//    (RowVector) where the row allows it;
//  * the backward's grid: (row, chunk) work items of kGradPerThread strided
//    elements per thread, walked by a grid-stride loop, so that a backward
//    that finds grad_output == 1 everywhere (nothing to rewrite) costs one
//    small grid, not B x chunks empty blocks.
#pragma once

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAFunctions.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

#include "../mixup_loss.h"
#include "launch.h"

namespace mixup::cuda {

constexpr int kLossThreads = 256;
constexpr int kGradPerThread = 4;

struct GradGrid {
  int64_t chunks;  // work items per row
  int64_t items;   // in all
  int64_t blocks;  // launched: enough to fill the GPU, at most one per item; 0 for an empty gradient
};

inline GradGrid grad_grid(const LossInputs& in) {
  const int64_t chunks = ceil_div<int64_t>(in.classes, int64_t(kLossThreads) * kGradPerThread);
  const int64_t items = in.batch * chunks;
  // 2048 threads per SM on every GPU this builds for: 8 blocks of 256 fill it.
  int sms = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, c10::cuda::current_device()));
  const int64_t resident = int64_t(sms) * 8;
  return {chunks, items, std::min(items, resident)};
}

// Threads per row of a forward: enough to keep a long row's loads in
// flight, few enough that the rows in flight at once (SMs x resident
// blocks) stay in L2 for the cross-entropy's second sweep (the dev log).
inline int row_block_threads(int64_t classes) {
  if (classes >= 16384) return 1024;
  if (classes >= 2048) return 512;
  return 256;
}

// launch(std::integral_constant<int, threads>) with row_block_threads(C)
// as a compile-time block size, for the forwards' __launch_bounds__.
template <typename Launch>
void with_row_block_threads(int64_t classes, const Launch& launch) {
  switch (row_block_threads(classes)) {
    case 1024:
      return launch(std::integral_constant<int, 1024>{});
    case 512:
      return launch(std::integral_constant<int, 512>{});
    default:
      return launch(std::integral_constant<int, 256>{});
  }
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
  return {in.logits.const_data_ptr<scalar_t>(),
          in.logits.stride(0),
          in.classes,
          in.y_a.const_data_ptr<int64_t>(),
          in.y_a.stride(0),
          in.y_b.const_data_ptr<int64_t>(),
          in.y_b.stride(0),
          in.lam.const_data_ptr<acc_t>(),
          in.lam_stride};
}

// 16 bytes of a row: kVec elements loaded or stored at once.
template <typename scalar_t>
struct RowVector {
  static constexpr int kVec = 16 / sizeof(scalar_t);
  union {
    uint4 raw;
    scalar_t v[kVec];
  };

  __device__ RowVector() {}
  // First touch of a row: kept in L2 for a second sweep.
  __device__ static RowVector load(const scalar_t* p) {
    RowVector r;
    r.raw = *reinterpret_cast<const uint4*>(p);
    return r;
  }
  // Last touch: evict-first.
  __device__ static RowVector load_last(const scalar_t* p) {
    RowVector r;
    r.raw = __ldcs(reinterpret_cast<const uint4*>(p));
    return r;
  }
  // A gradient row is not read again in this kernel: stream it out.
  __device__ void store(scalar_t* p) const { __stcs(reinterpret_cast<uint4*>(p), raw); }
};

// body(i, load(i)) for i = threadIdx.x, + kBlock, ... below `count`, with
// kUnroll loads issued before the first body runs: one 16-byte load a
// thread at a time leaves too few bytes in flight to fill HBM (a 1024-thread
// block would hold 16 KB; an SM needs several times that).
template <int kBlock, int kUnroll, typename Load, typename Body>
__device__ void row_sweep(int64_t count, const Load& load, const Body& body) {
  int64_t i = threadIdx.x;
  for (; i + int64_t(kUnroll - 1) * kBlock < count; i += int64_t(kUnroll) * kBlock) {
    decltype(load(i)) in[kUnroll];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) in[u] = load(i + int64_t(u) * kBlock);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) body(i + int64_t(u) * kBlock, in[u]);
  }
  for (; i < count; i += kBlock) body(i, load(i));
}

// Loads in flight per thread: 4, or 1 for double math (rare), whose twice-as-wide
// registers would otherwise spill under a 1024-thread block's 64-register cap.
template <typename acc_t>
constexpr int sweep_unroll() {
  return sizeof(acc_t) == 8 ? 1 : 4;
}

// Whether every row of logits and of a contiguous (B, C) gradient starts on
// a 16-byte boundary and holds whole RowVectors.
template <typename scalar_t>
bool rows_vectorizable(const LossInputs& in) {
  constexpr int kVec = RowVector<scalar_t>::kVec;
  return in.classes % kVec == 0 && in.logits.stride(0) % kVec == 0 &&
         reinterpret_cast<uintptr_t>(in.logits.const_data_ptr()) % 16 == 0;
}

}  // namespace mixup::cuda

// Launch shapes shared by the CUDA loss kernels (mixup_cross_entropy_kernel.cu,
// mixup_binary_cross_entropy_kernel.cu): a forward block per row, and backward blocks that
// each write kGradPerThread strided elements per thread of one row.
#pragma once

#include <c10/util/Exception.h>

#include <climits>
#include <cstdint>

namespace mixup::loss_launch {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kGradPerThread = 4;

struct GradGrid {
  int64_t chunks;    // blocks per row
  unsigned blocks;   // in all; 0 for an empty gradient
};

inline GradGrid grad_grid(const char* op, int64_t batch, int64_t classes) {
  const int64_t per_block = int64_t(kThreads) * kGradPerThread;
  const int64_t chunks = (classes + per_block - 1) / per_block;
  const int64_t blocks = batch * chunks;
  TORCH_CHECK(blocks <= INT_MAX, op, ": too many blocks for one launch");
  return {chunks, static_cast<unsigned>(blocks)};
}

// Forward rows are one block each.
inline unsigned row_blocks(const char* op, int64_t batch) {
  TORCH_CHECK(batch <= INT_MAX, op, ": too many rows for one launch");
  return static_cast<unsigned>(batch);
}

}  // namespace mixup::loss_launch

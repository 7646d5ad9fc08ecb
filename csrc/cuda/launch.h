// The one way this library launches a CUDA kernel: on the current stream,
// nothing for an empty grid, the grid checked against CUDA's limit first (a
// silently truncated block count would leave rows unwritten), and the launch
// itself checked after.
#pragma once

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>

#include <climits>
#include <cstdint>

namespace mixup::cuda {

template <typename T>
constexpr T ceil_div(T a, T b) {
  return (a + b - 1) / b;
}

template <typename Kernel, typename... Args>
void launch(const char* op, Kernel kernel, int64_t blocks, int threads, const Args&... args) {
  if (blocks == 0) return;
  TORCH_CHECK(blocks > 0 && blocks <= INT_MAX, op, ": too large for one launch (", blocks, " blocks of ", threads,
              " threads)");
  kernel<<<static_cast<unsigned>(blocks), threads, 0, c10::cuda::getCurrentCUDAStream()>>>(args...);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

}  // namespace mixup::cuda

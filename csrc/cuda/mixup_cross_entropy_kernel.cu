// CUDA kernels of mixup::mixup_cross_entropy and its backward.
//
// Forward: one block per row, one pass: each thread keeps an online
// (max, sum exp) pair and sum(z) over its strided elements; warps merge by
// shuffles, then the block through shared memory. Only B-sized outputs are
// written: the per-row loss and the log-sum-exp the backward reuses.
// Backward: one pass, softmax(z) - mixed target, times the row's upstream
// gradient; the target is never materialised.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../mixup_cross_entropy.h"
#include "mixup_loss_launch.h"

namespace mixup {
namespace {

using cuda::kGradPerThread;
using cuda::LossRowArgs;
constexpr int kThreads = cuda::kLossThreads;
constexpr int kWarps = cuda::kLossWarps;

template <typename acc_t>
__device__ void warp_merge(OnlineLogSumExp<acc_t>& o, acc_t& sum_z) {
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) {
    OnlineLogSumExp<acc_t> other;
    other.max = __shfl_xor_sync(0xffffffff, o.max, offset);
    other.sum = __shfl_xor_sync(0xffffffff, o.sum, offset);
    sum_z += __shfl_xor_sync(0xffffffff, sum_z, offset);
    o.merge(other);
  }
}

template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads)
    mixup_ce_forward_kernel(const LossRowArgs<scalar_t, acc_t> rows, double smoothing, acc_t* loss, acc_t* lse) {
  const int64_t row = blockIdx.x, classes = rows.classes;
  const scalar_t* z = rows.row(row);
  const acc_t ref = static_cast<acc_t>(z[0]);  // see mixup_cross_entropy_math.h: everything relative to z[0]
  OnlineLogSumExp<acc_t> o;
  acc_t sum_z = 0;
  for (int64_t c = threadIdx.x; c < classes; c += kThreads) {
    const acc_t v = static_cast<acc_t>(z[c]) - ref;
    o.add(v);
    sum_z += v;
  }
  warp_merge(o, sum_z);
  __shared__ acc_t s_max[kWarps], s_sum[kWarps], s_z[kWarps];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    s_max[warp] = o.max;
    s_sum[warp] = o.sum;
    s_z[warp] = sum_z;
  }
  __syncthreads();
  if (threadIdx.x != 0) return;
  OnlineLogSumExp<acc_t> total;
  acc_t total_z = 0;
  for (int w = 0; w < kWarps; ++w) {
    OnlineLogSumExp<acc_t> part;
    part.max = s_max[w];
    part.sum = s_sum[w];
    total.merge(part);
    total_z += s_z[w];
  }
  const int64_t a = rows.label_a(row), b = rows.label_b(row);
  CUDA_KERNEL_ASSERT(a >= 0 && a < classes && b >= 0 && b < classes);  // class id out of [0, C)
  const acc_t shifted_lse = total.value();
  lse[row] = shifted_lse;
  loss[row] = mixed_ce_loss<acc_t>(shifted_lse, static_cast<acc_t>(z[a]) - ref, static_cast<acc_t>(z[b]) - ref, total_z,
                                   rows.weight_a(row), smoothing, classes);
}

template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads)
    mixup_ce_backward_kernel(const LossRowArgs<scalar_t, acc_t> rows, int64_t chunks, const acc_t* grad_loss,
                             const acc_t* lse, double smoothing, scalar_t* grad) {
  const int64_t row = blockIdx.x / chunks, classes = rows.classes;
  const int64_t first = (blockIdx.x % chunks) * int64_t(kThreads) * kGradPerThread + threadIdx.x;
  const scalar_t* z = rows.row(row);
  const int64_t a = rows.label_a(row), b = rows.label_b(row);
  const acc_t w = rows.weight_a(row), g = grad_loss[row], l = lse[row], ref = static_cast<acc_t>(z[0]);
#pragma unroll
  for (int k = 0; k < kGradPerThread; ++k) {
    const int64_t c = first + int64_t(k) * kThreads;
    if (c < classes) {
      const acc_t d = mixed_ce_grad<acc_t>(static_cast<acc_t>(z[c]) - ref, l, c, a, b, w, smoothing, classes);
      grad[row * classes + c] = static_cast<scalar_t>(g * d);
    }
  }
}

std::tuple<at::Tensor, at::Tensor> mixup_cross_entropy_cuda(const at::Tensor& logits, const at::Tensor& y_a,
                                                            const at::Tensor& y_b, const at::Tensor& lam,
                                                            double smoothing) {
  constexpr const char* op = "mixup::mixup_cross_entropy";
  const c10::cuda::CUDAGuard guard(logits.device());
  const CrossEntropyForwardPlan f =
      plan_cross_entropy_forward(logits, y_a, y_b, lam, smoothing, /*check_values=*/false);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(), op, [&] {
    using acc_t = at::opmath_type<scalar_t>;
    cuda::launch(op, mixup_ce_forward_kernel<scalar_t, acc_t>, f.in.batch, kThreads,
                 cuda::loss_row_args<scalar_t, acc_t>(f.in), f.in.smoothing, f.loss.mutable_data_ptr<acc_t>(),
                 f.lse.mutable_data_ptr<acc_t>());
  });
  return {f.loss, f.lse};
}

at::Tensor mixup_cross_entropy_backward_cuda(const at::Tensor& grad_loss, const at::Tensor& logits,
                                             const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
                                             const at::Tensor& lse, double smoothing) {
  constexpr const char* op = "mixup::_mixup_cross_entropy_backward";
  const c10::cuda::CUDAGuard guard(logits.device());
  const CrossEntropyBackwardPlan b = plan_cross_entropy_backward(grad_loss, logits, y_a, y_b, lam, lse, smoothing);
  const cuda::GradGrid grid = cuda::grad_grid(b.in);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(), op, [&] {
    using acc_t = at::opmath_type<scalar_t>;
    cuda::launch(op, mixup_ce_backward_kernel<scalar_t, acc_t>, grid.blocks, kThreads,
                 cuda::loss_row_args<scalar_t, acc_t>(b.in), grid.chunks, b.grad_loss.const_data_ptr<acc_t>(),
                 b.lse.const_data_ptr<acc_t>(), b.in.smoothing, b.grad.mutable_data_ptr<scalar_t>());
  });
  return b.grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CUDA, m) {
  m.impl("mixup_cross_entropy", &mixup_cross_entropy_cuda);
  m.impl("_mixup_cross_entropy_backward", &mixup_cross_entropy_backward_cuda);
}

}  // namespace mixup

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
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include "../loss.h"
#include "loss_launch.h"

namespace mixup {
namespace {

using loss_launch::kGradPerThread;
using loss_launch::kThreads;
using loss_launch::kWarps;

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
    mixup_ce_forward_kernel(const scalar_t* logits, int64_t row_stride, int64_t classes, const int64_t* y_a,
                            int64_t a_stride, const int64_t* y_b, int64_t b_stride, const acc_t* lam,
                            int64_t lam_stride, double smoothing, acc_t* loss, acc_t* lse) {
  const int64_t row = blockIdx.x;
  const scalar_t* z = logits + row * row_stride;
  const acc_t ref = static_cast<acc_t>(z[0]);  // see loss_math.h: everything relative to z[0]
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
  const int64_t a = y_a[row * a_stride], b = y_b[row * b_stride];
  CUDA_KERNEL_ASSERT(a >= 0 && a < classes && b >= 0 && b < classes);  // class id out of [0, C)
  const acc_t shifted_lse = total.value();
  lse[row] = shifted_lse;
  loss[row] = mixed_ce_loss<acc_t>(shifted_lse, static_cast<acc_t>(z[a]) - ref, static_cast<acc_t>(z[b]) - ref, total_z,
                                   lam[row * lam_stride], smoothing, classes);
}

template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads)
    mixup_ce_backward_kernel(const scalar_t* logits, int64_t row_stride, int64_t classes, int64_t chunks,
                             const int64_t* y_a, int64_t a_stride, const int64_t* y_b, int64_t b_stride,
                             const acc_t* lam, int64_t lam_stride, const acc_t* grad_loss, const acc_t* lse,
                             double smoothing, scalar_t* grad) {
  const int64_t row = blockIdx.x / chunks;
  const int64_t first = (blockIdx.x % chunks) * int64_t(kThreads) * kGradPerThread + threadIdx.x;
  const scalar_t* z = logits + row * row_stride;
  const int64_t a = y_a[row * a_stride], b = y_b[row * b_stride];
  const acc_t w = lam[row * lam_stride], g = grad_loss[row], l = lse[row], ref = static_cast<acc_t>(z[0]);
#pragma unroll
  for (int k = 0; k < kGradPerThread; ++k) {
    const int64_t c = first + int64_t(k) * kThreads;
    if (c < classes) {
      grad[row * classes + c] =
          static_cast<scalar_t>(g * mixed_ce_grad<acc_t>(static_cast<acc_t>(z[c]) - ref, l, c, a, b, w, smoothing, classes));
    }
  }
}

std::tuple<at::Tensor, at::Tensor> mixup_cross_entropy_cuda(const at::Tensor& logits, const at::Tensor& y_a,
                                                            const at::Tensor& y_b, const at::Tensor& lam,
                                                            double smoothing) {
  const c10::cuda::CUDAGuard guard(logits.device());
  const LossForwardPlan f = plan_loss_forward(logits, y_a, y_b, lam, smoothing, /*check_values=*/false);
  const LossPlan& p = f.in;
  if (p.batch == 0) return {f.loss, f.lse};
  const unsigned blocks = loss_launch::row_blocks("mixup::mixup_cross_entropy", p.batch);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(), "mixup::mixup_cross_entropy", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    mixup_ce_forward_kernel<scalar_t, acc_t><<<blocks, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        p.logits.const_data_ptr<scalar_t>(), p.logits.stride(0), p.classes, p.y_a.const_data_ptr<int64_t>(),
        p.y_a.stride(0), p.y_b.const_data_ptr<int64_t>(), p.y_b.stride(0), p.lam.const_data_ptr<acc_t>(),
        p.lam_stride, p.smoothing, f.loss.mutable_data_ptr<acc_t>(), f.lse.mutable_data_ptr<acc_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return {f.loss, f.lse};
}

at::Tensor mixup_cross_entropy_backward_cuda(const at::Tensor& grad_loss, const at::Tensor& logits,
                                             const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
                                             const at::Tensor& lse, double smoothing) {
  const c10::cuda::CUDAGuard guard(logits.device());
  const LossBackwardPlan bp = plan_loss_backward(grad_loss, logits, y_a, y_b, lam, lse, smoothing);
  const LossPlan& p = bp.in;
  const loss_launch::GradGrid grid = loss_launch::grad_grid("mixup::mixup_cross_entropy_backward", p.batch, p.classes);
  if (grid.blocks == 0) return bp.grad;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(), "mixup::mixup_cross_entropy_backward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    mixup_ce_backward_kernel<scalar_t, acc_t><<<grid.blocks, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        p.logits.const_data_ptr<scalar_t>(), p.logits.stride(0), p.classes, grid.chunks, p.y_a.const_data_ptr<int64_t>(),
        p.y_a.stride(0), p.y_b.const_data_ptr<int64_t>(), p.y_b.stride(0), p.lam.const_data_ptr<acc_t>(), p.lam_stride,
        bp.grad_loss.const_data_ptr<acc_t>(), bp.lse.const_data_ptr<acc_t>(), p.smoothing,
        bp.grad.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return bp.grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CUDA, m) {
  m.impl("mixup_cross_entropy", &mixup_cross_entropy_cuda);
  m.impl("mixup_cross_entropy_backward", &mixup_cross_entropy_backward_cuda);
}

}  // namespace mixup

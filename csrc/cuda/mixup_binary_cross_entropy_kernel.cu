// CUDA kernels of mixup::mixup_binary_cross_entropy and its backward.
//
// A row's target is one of four values (loss_math.h: BinaryTargets), chosen
// per element by comparing its class with the two labels; the (B, C) target
// is never built. Forward: one block per row sums the element losses (warp
// shuffles, then shared memory) and writes one float per row. Backward: one
// pass over the logits, writing the gradient.
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

// Everything a row needs besides its logits, the same for both kernels.
template <typename acc_t>
struct BinaryRowArgs {
  const int64_t* y_a;
  int64_t a_stride;
  const int64_t* y_b;
  int64_t b_stride;
  const acc_t* lam;
  int64_t lam_stride;
  const acc_t* pos_weight;  // null: every weight 1
  int64_t pos_weight_stride;
  acc_t on, off;
  bool thresholded;
  acc_t threshold;
  int64_t classes;

  __device__ acc_t weight(int64_t c) const { return pos_weight == nullptr ? acc_t(1) : pos_weight[c * pos_weight_stride]; }
  __device__ BinaryTargets<acc_t> targets(int64_t row) const {
    return binary_targets<acc_t>(lam[row * lam_stride], on, off, thresholded, threshold);
  }
};

template <typename acc_t>
BinaryRowArgs<acc_t> row_args(const BinaryLossPlan& p) {
  const LossPlan& in = p.in;
  return {in.y_a.const_data_ptr<int64_t>(),
          in.y_a.stride(0),
          in.y_b.const_data_ptr<int64_t>(),
          in.y_b.stride(0),
          in.lam.const_data_ptr<acc_t>(),
          in.lam_stride,
          p.pos_weight.defined() ? p.pos_weight.const_data_ptr<acc_t>() : nullptr,
          p.pos_weight_stride,
          static_cast<acc_t>(p.smoothed.on),
          static_cast<acc_t>(p.smoothed.off),
          p.thresholded,
          static_cast<acc_t>(p.threshold),
          in.classes};
}

template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads)
    mixup_bce_forward_kernel(const scalar_t* logits, int64_t row_stride, BinaryRowArgs<acc_t> args, acc_t scale,
                             acc_t* loss) {
  const int64_t row = blockIdx.x;
  const scalar_t* z = logits + row * row_stride;
  const int64_t a = args.y_a[row * args.a_stride], b = args.y_b[row * args.b_stride];
  CUDA_KERNEL_ASSERT(a >= 0 && a < args.classes && b >= 0 && b < args.classes);  // class id out of [0, C)
  const BinaryTargets<acc_t> t = args.targets(row);
  acc_t sum = 0;
  for (int64_t c = threadIdx.x; c < args.classes; c += kThreads) {
    sum += binary_ce_loss<acc_t>(static_cast<acc_t>(z[c]), t.of(c, a, b), args.weight(c));
  }
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffff, sum, offset);
  __shared__ acc_t partial[kWarps];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) partial[warp] = sum;
  __syncthreads();
  if (threadIdx.x != 0) return;
  acc_t total = 0;
  for (int w = 0; w < kWarps; ++w) total += partial[w];
  loss[row] = total * scale;
}

template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads)
    mixup_bce_backward_kernel(const scalar_t* logits, int64_t row_stride, int64_t chunks, BinaryRowArgs<acc_t> args,
                              acc_t scale, const acc_t* grad_loss, scalar_t* grad) {
  const int64_t row = blockIdx.x / chunks;
  const int64_t first = (blockIdx.x % chunks) * int64_t(kThreads) * kGradPerThread + threadIdx.x;
  const scalar_t* z = logits + row * row_stride;
  const int64_t a = args.y_a[row * args.a_stride], b = args.y_b[row * args.b_stride];
  const BinaryTargets<acc_t> t = args.targets(row);
  const acc_t g = grad_loss[row] * scale;
#pragma unroll
  for (int k = 0; k < kGradPerThread; ++k) {
    const int64_t c = first + int64_t(k) * kThreads;
    if (c < args.classes) {
      grad[row * args.classes + c] =
          static_cast<scalar_t>(g * binary_ce_grad<acc_t>(static_cast<acc_t>(z[c]), t.of(c, a, b), args.weight(c)));
    }
  }
}

at::Tensor mixup_binary_cross_entropy_cuda(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                           const at::Tensor& lam, double smoothing, std::optional<double> threshold,
                                           const std::optional<at::Tensor>& pos_weight, bool sum_classes) {
  const c10::cuda::CUDAGuard guard(logits.device());
  const BinaryLossForwardPlan f = plan_binary_loss_forward(logits, y_a, y_b, lam, smoothing, threshold, pos_weight,
                                                           sum_classes, /*check_values=*/false);
  const BinaryLossPlan& p = f.in;
  if (p.in.batch == 0) return f.loss;
  const unsigned blocks = loss_launch::row_blocks("mixup::mixup_binary_cross_entropy", p.in.batch);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(), "mixup::mixup_binary_cross_entropy", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    mixup_bce_forward_kernel<scalar_t, acc_t><<<blocks, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        p.in.logits.const_data_ptr<scalar_t>(), p.in.logits.stride(0), row_args<acc_t>(p),
        static_cast<acc_t>(p.scale), f.loss.mutable_data_ptr<acc_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return f.loss;
}

at::Tensor mixup_binary_cross_entropy_backward_cuda(const at::Tensor& grad_loss, const at::Tensor& logits,
                                                    const at::Tensor& y_a, const at::Tensor& y_b,
                                                    const at::Tensor& lam, double smoothing,
                                                    std::optional<double> threshold,
                                                    const std::optional<at::Tensor>& pos_weight, bool sum_classes) {
  const c10::cuda::CUDAGuard guard(logits.device());
  const BinaryLossBackwardPlan bp = plan_binary_loss_backward(grad_loss, logits, y_a, y_b, lam, smoothing, threshold,
                                                              pos_weight, sum_classes);
  const BinaryLossPlan& p = bp.in;
  const loss_launch::GradGrid grid =
      loss_launch::grad_grid("mixup::mixup_binary_cross_entropy_backward", p.in.batch, p.in.classes);
  if (grid.blocks == 0) return bp.grad;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "mixup::mixup_binary_cross_entropy_backward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    mixup_bce_backward_kernel<scalar_t, acc_t><<<grid.blocks, kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        p.in.logits.const_data_ptr<scalar_t>(), p.in.logits.stride(0), grid.chunks, row_args<acc_t>(p),
        static_cast<acc_t>(p.scale), bp.grad_loss.const_data_ptr<acc_t>(), bp.grad.mutable_data_ptr<scalar_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return bp.grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CUDA, m) {
  m.impl("mixup_binary_cross_entropy", &mixup_binary_cross_entropy_cuda);
  m.impl("mixup_binary_cross_entropy_backward", &mixup_binary_cross_entropy_backward_cuda);
}

}  // namespace mixup

// CUDA kernels of mixup::mixup_binary_cross_entropy and its backward.
//
// A row's target is one of four values (mixup_binary_cross_entropy_math.h: BinaryTargets), chosen
// per element by comparing its class with the two labels; the (B, C) target
// is never built. Forward: one block per row sums the element losses (warp
// shuffles, then shared memory) and writes one float per row. Backward: one
// pass over the logits, writing the gradient.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../mixup_binary_cross_entropy.h"
#include "mixup_loss_launch.h"

namespace mixup {
namespace {

using cuda::kGradPerThread;
constexpr int kThreads = cuda::kLossThreads;
constexpr int kWarps = cuda::kLossWarps;

// A row's arguments (cuda::LossRowArgs) and the binary cross-entropy's own.
template <typename scalar_t, typename acc_t>
struct BinaryRowArgs : cuda::LossRowArgs<scalar_t, acc_t> {
  const acc_t* pos_weight;  // null: every weight 1
  int64_t pos_weight_stride;
  acc_t on, off;
  bool thresholded;
  acc_t threshold;

  __device__ acc_t class_weight(int64_t c) const {
    return pos_weight == nullptr ? acc_t(1) : pos_weight[c * pos_weight_stride];
  }
  __device__ BinaryTargets<acc_t> targets(int64_t row) const {
    return binary_targets<acc_t>(this->weight_a(row), on, off, thresholded, threshold);
  }
};

template <typename scalar_t, typename acc_t>
BinaryRowArgs<scalar_t, acc_t> binary_row_args(const BinaryCrossEntropyOptions& p) {
  BinaryRowArgs<scalar_t, acc_t> args{cuda::loss_row_args<scalar_t, acc_t>(p.in)};
  args.pos_weight = p.pos_weight.defined() ? p.pos_weight.const_data_ptr<acc_t>() : nullptr;
  args.pos_weight_stride = p.pos_weight_stride;
  args.on = static_cast<acc_t>(p.smoothed.on);
  args.off = static_cast<acc_t>(p.smoothed.off);
  args.thresholded = p.thresholded;
  args.threshold = static_cast<acc_t>(p.threshold);
  return args;
}

template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads)
    mixup_bce_forward_kernel(const BinaryRowArgs<scalar_t, acc_t> args, acc_t scale, acc_t* loss) {
  const int64_t row = blockIdx.x;
  const scalar_t* z = args.row(row);
  const int64_t a = args.label_a(row), b = args.label_b(row);
  CUDA_KERNEL_ASSERT(a >= 0 && a < args.classes && b >= 0 && b < args.classes);  // class id out of [0, C)
  const BinaryTargets<acc_t> t = args.targets(row);
  acc_t sum = 0;
  for (int64_t c = threadIdx.x; c < args.classes; c += kThreads) {
    sum += binary_ce_loss<acc_t>(static_cast<acc_t>(z[c]), t.of(c, a, b), args.class_weight(c));
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
    mixup_bce_backward_kernel(const BinaryRowArgs<scalar_t, acc_t> args, int64_t chunks, acc_t scale,
                              const acc_t* grad_loss, scalar_t* grad) {
  const int64_t row = blockIdx.x / chunks;
  const int64_t first = (blockIdx.x % chunks) * int64_t(kThreads) * kGradPerThread + threadIdx.x;
  const scalar_t* z = args.row(row);
  const int64_t a = args.label_a(row), b = args.label_b(row);
  const BinaryTargets<acc_t> t = args.targets(row);
  const acc_t g = grad_loss[row] * scale;
#pragma unroll
  for (int k = 0; k < kGradPerThread; ++k) {
    const int64_t c = first + int64_t(k) * kThreads;
    if (c < args.classes) {
      const acc_t d = binary_ce_grad<acc_t>(static_cast<acc_t>(z[c]), t.of(c, a, b), args.class_weight(c));
      grad[row * args.classes + c] = static_cast<scalar_t>(g * d);
    }
  }
}

at::Tensor mixup_binary_cross_entropy_cuda(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                           const at::Tensor& lam, double smoothing, std::optional<double> threshold,
                                           const std::optional<at::Tensor>& pos_weight, bool sum_classes) {
  constexpr const char* op = "mixup::mixup_binary_cross_entropy";
  const c10::cuda::CUDAGuard guard(logits.device());
  const BinaryCrossEntropyForwardPlan f = plan_binary_cross_entropy_forward(
      logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, /*check_values=*/false);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(), op, [&] {
    using acc_t = at::opmath_type<scalar_t>;
    cuda::launch(op, mixup_bce_forward_kernel<scalar_t, acc_t>, f.in.in.batch, kThreads,
                 binary_row_args<scalar_t, acc_t>(f.in), static_cast<acc_t>(f.in.scale),
                 f.loss.mutable_data_ptr<acc_t>());
  });
  return f.loss;
}

at::Tensor mixup_binary_cross_entropy_backward_cuda(const at::Tensor& grad_loss, const at::Tensor& logits,
                                                    const at::Tensor& y_a, const at::Tensor& y_b,
                                                    const at::Tensor& lam, double smoothing,
                                                    std::optional<double> threshold,
                                                    const std::optional<at::Tensor>& pos_weight, bool sum_classes) {
  constexpr const char* op = "mixup::_mixup_binary_cross_entropy_backward";
  const c10::cuda::CUDAGuard guard(logits.device());
  const BinaryCrossEntropyBackwardPlan b = plan_binary_cross_entropy_backward(
      grad_loss, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes);
  const cuda::GradGrid grid = cuda::grad_grid(b.in.in);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(), op, [&] {
    using acc_t = at::opmath_type<scalar_t>;
    cuda::launch(op, mixup_bce_backward_kernel<scalar_t, acc_t>, grid.blocks, kThreads,
                 binary_row_args<scalar_t, acc_t>(b.in), grid.chunks, static_cast<acc_t>(b.in.scale),
                 b.grad_loss.const_data_ptr<acc_t>(), b.grad.mutable_data_ptr<scalar_t>());
  });
  return b.grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CUDA, m) {
  m.impl("mixup_binary_cross_entropy", &mixup_binary_cross_entropy_cuda);
  m.impl("_mixup_binary_cross_entropy_backward", &mixup_binary_cross_entropy_backward_cuda);
}

}  // namespace mixup

// CUDA kernels of mixup::mixup_binary_cross_entropy, the forward that also
// writes its gradient, and the backwards.
//
// A row's target is one of four values (mixup_binary_cross_entropy_math.h:
// BinaryTargets), chosen per element by comparing its class with the two
// labels; the (B, C) target is never built. Forward: one block per row sums
// the element losses (warp shuffles, then shared memory) and writes one
// float per row; with a gradient, the same sweep writes each element's
// derivative, so a training step reads the logits once and writes the
// gradient once. Backward: (row, chunk) items writing the
// gradient times grad_output, into a fresh tensor, or into the forward's
// where grad_output is not the 1 that the forward assumed.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../dtypes.h"
#include "../mixup_binary_cross_entropy.h"
#include "mixup_loss_launch.h"

namespace mixup {
namespace {

using cuda::kGradPerThread;
using cuda::RowVector;
constexpr int kThreads = cuda::kLossThreads;

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

// One block per row, one sweep: each element's loss term is summed and,
// with a gradient to write (_mixup_binary_cross_entropy_with_grad), its
// derivative for grad_output 1 written in the same touch; both share one
// exp(-|z|).
template <typename scalar_t, typename acc_t, int kBlock, bool kVectorized>
__global__ void __launch_bounds__(kBlock)
    mixup_bce_forward_kernel(const BinaryRowArgs<scalar_t, acc_t> args, acc_t scale, acc_t* loss,
                             const UpstreamRows<acc_t> upstream, scalar_t* grad) {
  using Vector = RowVector<scalar_t>;
  constexpr int kVec = Vector::kVec;
  constexpr int kWarps = kBlock / 32;
  const int64_t row = blockIdx.x, classes = args.classes, vectors = classes / Vector::kVec;
  const scalar_t* z = args.row(row);
  const int64_t a = args.label_a(row), b = args.label_b(row);
  const BinaryTargets<acc_t> t = args.targets(row);
  const acc_t g = upstream.of(row) * scale;
  scalar_t* out = grad == nullptr ? nullptr : grad + row * classes;
  acc_t sum = 0;
  // One element: its loss term summed, its derivative returned (when written).
  const auto element = [&](int64_t c, acc_t zc) {
    const acc_t e = std::exp(-std::abs(zc));
    const acc_t tc = t.of(c, a, b), wc = args.class_weight(c);
    sum += binary_ce_loss_of<acc_t>(zc, e, tc, wc);
    return out == nullptr ? acc_t(0) : g * binary_ce_grad_of<acc_t>(zc, e, tc, wc);
  };
  if constexpr (kVectorized) {
    cuda::row_sweep<kBlock, cuda::sweep_unroll<acc_t>()>(
        vectors, [&](int64_t v) { return Vector::load_last(z + v * kVec); },
        [&](int64_t v, const Vector& in) {
          Vector d;
#pragma unroll
          for (int k = 0; k < kVec; ++k)
            d.v[k] = static_cast<scalar_t>(element(v * kVec + k, static_cast<acc_t>(in.v[k])));
          if (out != nullptr) d.store(out + v * kVec);
        });
  } else {
    cuda::row_sweep<kBlock, cuda::sweep_unroll<acc_t>()>(
        classes, [&](int64_t c) { return z[c]; },
        [&](int64_t c, scalar_t value) {
          const acc_t d = element(c, static_cast<acc_t>(value));
          if (out != nullptr) out[c] = static_cast<scalar_t>(d);
        });
  }
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_xor_sync(0xffffffff, sum, offset);
  __shared__ acc_t partial[kWarps];
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) partial[warp] = sum;
  __syncthreads();
  if (threadIdx.x != 0) return;
  CUDA_KERNEL_ASSERT(a >= 0 && a < classes && b >= 0 && b < classes);  // class id out of [0, C)
  acc_t total = 0;
  for (int w = 0; w < kWarps; ++w) total += partial[w];
  loss[row] = total * scale;
}

// skip_unit: leave the items whose grad_output is 1 as they are (the
// forward wrote them for exactly that), rewrite the others.
template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads)
    mixup_bce_backward_kernel(const BinaryRowArgs<scalar_t, acc_t> args, int64_t chunks, int64_t items, acc_t scale,
                              const UpstreamRows<acc_t> upstream, bool skip_unit, scalar_t* grad) {
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int64_t row = item / chunks;
    if (skip_unit && upstream.grad_output(row) == acc_t(1)) continue;
    const int64_t first = (item % chunks) * int64_t(kThreads) * kGradPerThread + threadIdx.x;
    const scalar_t* z = args.row(row);
    const int64_t a = args.label_a(row), b = args.label_b(row);
    const BinaryTargets<acc_t> t = args.targets(row);
    const acc_t g = upstream.of(row) * scale;
#pragma unroll
    for (int k = 0; k < kGradPerThread; ++k) {
      const int64_t c = first + int64_t(k) * kThreads;
      if (c < args.classes) {
        const acc_t d = binary_ce_grad<acc_t>(static_cast<acc_t>(z[c]), t.of(c, a, b), args.class_weight(c));
        grad[row * args.classes + c] = static_cast<scalar_t>(g * d);
      }
    }
  }
}

template <typename scalar_t, typename acc_t, int kBlock>
void launch_forward_rows(const char* op, const BinaryCrossEntropyForwardPlan& f) {
  const auto args = binary_row_args<scalar_t, acc_t>(f.in);
  const auto upstream = upstream_rows<acc_t>(f.upstream);
  scalar_t* grad = f.grad.defined() ? f.grad.mutable_data_ptr<scalar_t>() : nullptr;
  const acc_t scale = static_cast<acc_t>(f.in.scale);
  acc_t* loss = f.loss.mutable_data_ptr<acc_t>();
  if (cuda::rows_vectorizable<scalar_t>(f.in.in)) {
    cuda::launch(op, mixup_bce_forward_kernel<scalar_t, acc_t, kBlock, true>, f.in.in.batch, kBlock, args, scale, loss,
                 upstream, grad);
  } else {
    cuda::launch(op, mixup_bce_forward_kernel<scalar_t, acc_t, kBlock, false>, f.in.in.batch, kBlock, args, scale, loss,
                 upstream, grad);
  }
}

void launch_forward(const char* op, const BinaryCrossEntropyForwardPlan& f) {
  const c10::cuda::CUDAGuard guard(f.in.in.logits.device());
  dispatch_data_float(f.in.in.logits.scalar_type(), "mixup::mixup_binary_cross_entropy", [&](auto type) {
    using scalar_t = decltype(type);
    using acc_t = acc_type_t<scalar_t>;
    cuda::with_row_block_threads(
        f.in.in.classes, [&](auto block) { launch_forward_rows<scalar_t, acc_t, decltype(block)::value>(op, f); });
  });
}

void launch_backward(const char* op, const BinaryCrossEntropyBackwardPlan& b, bool skip_unit) {
  const c10::cuda::CUDAGuard guard(b.in.in.logits.device());
  const cuda::GradGrid grid = cuda::grad_grid(b.in.in);
  dispatch_data_float(b.in.in.logits.scalar_type(), "mixup::mixup_binary_cross_entropy", [&](auto type) {
    using scalar_t = decltype(type);
    using acc_t = acc_type_t<scalar_t>;
    cuda::launch(op, mixup_bce_backward_kernel<scalar_t, acc_t>, grid.blocks, kThreads,
                 binary_row_args<scalar_t, acc_t>(b.in), grid.chunks, grid.items, static_cast<acc_t>(b.in.scale),
                 upstream_rows<acc_t>(b.upstream), skip_unit, b.grad.mutable_data_ptr<scalar_t>());
  });
}

at::Tensor mixup_binary_cross_entropy_cuda(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                           const at::Tensor& lam, double smoothing, std::optional<double> threshold,
                                           const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                           c10::string_view reduction) {
  constexpr const char* op = "mixup::mixup_binary_cross_entropy";
  const BinaryCrossEntropyForwardPlan f = plan_binary_cross_entropy_forward(
      op, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction, /*with_grad=*/false);
  launch_forward(op, f);
  return reduce_rows(f.loss, f.reduction);
}

std::tuple<at::Tensor, at::Tensor> mixup_binary_cross_entropy_with_grad_cuda(
    const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
    std::optional<double> threshold, const std::optional<at::Tensor>& pos_weight, bool sum_classes,
    c10::string_view reduction) {
  constexpr const char* op = "mixup::_mixup_binary_cross_entropy_with_grad";
  const BinaryCrossEntropyForwardPlan f = plan_binary_cross_entropy_forward(
      op, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction, /*with_grad=*/true);
  launch_forward(op, f);
  return {reduce_rows(f.loss, f.reduction), f.grad};
}

at::Tensor mixup_binary_cross_entropy_backward_cuda(const at::Tensor& grad_loss, const at::Tensor& logits,
                                                    const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
                                                    double smoothing, std::optional<double> threshold,
                                                    const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                                    c10::string_view reduction) {
  const BinaryCrossEntropyBackwardPlan b = plan_binary_cross_entropy_backward(
      std::nullopt, grad_loss, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction);
  launch_backward("mixup::_mixup_binary_cross_entropy_backward", b, /*skip_unit=*/false);
  return b.grad;
}

void mixup_binary_cross_entropy_apply_grad_output_cuda(const at::Tensor& grad, const at::Tensor& grad_loss,
                                                       const at::Tensor& logits, const at::Tensor& y_a,
                                                       const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
                                                       std::optional<double> threshold,
                                                       const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                                       c10::string_view reduction) {
  const BinaryCrossEntropyBackwardPlan b = plan_binary_cross_entropy_backward(
      grad, grad_loss, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction);
  launch_backward("mixup::_mixup_binary_cross_entropy_apply_grad_output", b, /*skip_unit=*/true);
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CUDA, m) {
  m.impl("mixup_binary_cross_entropy", &mixup_binary_cross_entropy_cuda);
  m.impl("_mixup_binary_cross_entropy_with_grad", &mixup_binary_cross_entropy_with_grad_cuda);
  m.impl("_mixup_binary_cross_entropy_backward", &mixup_binary_cross_entropy_backward_cuda);
  m.impl("_mixup_binary_cross_entropy_apply_grad_output", &mixup_binary_cross_entropy_apply_grad_output_cuda);
}

}  // namespace mixup

// CUDA kernels of mixup::mixup_cross_entropy, the forward that also writes
// its gradient, and the backwards.
//
// Forward: one block per row. A first sweep keeps an online (max, sum exp)
// pair and sum(z) per thread, merged by warp shuffles and then across the
// block; thread 0 writes the row's loss and the log-sum-exp. With a
// gradient to write (_mixup_cross_entropy_with_grad), a second sweep
// re-reads the row -- from L2: the rows in flight fit there -- and writes
// grad_output * (softmax(z) - mixed target) for grad_output 1, so a step's
// logits leave DRAM once and its gradient is written once.
// Backward: (row, chunk) items of softmax(z) - mixed target, times the row's
// upstream gradient, into a fresh tensor, or into the forward's gradient
// where grad_output is not the 1 that the forward assumed.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "../dtypes.h"
#include "../mixup_cross_entropy.h"
#include "mixup_loss_launch.h"

namespace mixup {
namespace {

using cuda::kGradPerThread;
using cuda::LossRowArgs;
using cuda::RowVector;

template <typename acc_t>
struct RowStats {
  OnlineLogSumExp<acc_t> lse;
  acc_t sum_z = 0;  // sum(z - r)

  __device__ void add(acc_t v) {
    lse.add(v);
    sum_z += v;
  }
  // kVec values at once: the running max moves (and the sum is rescaled)
  // at most once per vector, not once per element, so an element costs an
  // exp, a max and two adds.
  template <int kVec>
  __device__ void add_vector(const acc_t (&v)[kVec]) {
    acc_t top = v[0];
#pragma unroll
    for (int k = 0; k < kVec; ++k) {
      top = top > v[k] ? top : v[k];
      sum_z += v[k];
    }
    if (top > lse.max) {
      lse.sum *= std::exp(lse.max - top);
      lse.max = top;
    }
#pragma unroll
    for (int k = 0; k < kVec; ++k) lse.sum += std::exp(v[k] - lse.max);
  }
  __device__ void merge(const RowStats& o) {
    lse.merge(o.lse);
    sum_z += o.sum_z;
  }
  __device__ RowStats shuffled(int offset) const {
    RowStats o;
    o.lse.max = __shfl_xor_sync(0xffffffff, lse.max, offset);
    o.lse.sum = __shfl_xor_sync(0xffffffff, lse.sum, offset);
    o.sum_z = __shfl_xor_sync(0xffffffff, sum_z, offset);
    return o;
  }
};

// The whole block's statistics, in every thread.
template <typename acc_t, int kBlock>
__device__ RowStats<acc_t> block_merge(RowStats<acc_t> s) {
  constexpr int kWarps = kBlock / 32;
  __shared__ acc_t s_max[kWarps], s_sum[kWarps], s_z[kWarps];
#pragma unroll
  for (int offset = 16; offset > 0; offset /= 2) s.merge(s.shuffled(offset));
  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32;
  if (lane == 0) {
    s_max[warp] = s.lse.max;
    s_sum[warp] = s.lse.sum;
    s_z[warp] = s.sum_z;
  }
  __syncthreads();
  if (warp == 0) {
    RowStats<acc_t> part;
    if (lane < kWarps) {
      part.lse.max = s_max[lane];
      part.lse.sum = s_sum[lane];
      part.sum_z = s_z[lane];
    }
#pragma unroll
    for (int offset = 16; offset > 0; offset /= 2) part.merge(part.shuffled(offset));
    if (lane == 0) {
      s_max[0] = part.lse.max;
      s_sum[0] = part.lse.sum;
      s_z[0] = part.sum_z;
    }
  }
  __syncthreads();
  RowStats<acc_t> total;
  total.lse.max = s_max[0];
  total.lse.sum = s_sum[0];
  total.sum_z = s_z[0];
  return total;
}

template <typename scalar_t, typename acc_t, int kBlock, bool kVectorized>
__global__ void __launch_bounds__(kBlock)
    mixup_ce_forward_kernel(const LossRowArgs<scalar_t, acc_t> rows, double smoothing, acc_t* loss, acc_t* lse,
                            const UpstreamRows<acc_t> upstream, scalar_t* grad) {
  using Vector = RowVector<scalar_t>;
  constexpr int kVec = kVectorized ? Vector::kVec : 1;
  const int64_t row = blockIdx.x, classes = rows.classes, vectors = classes / kVec;
  const scalar_t* z = rows.row(row);
  const acc_t ref = static_cast<acc_t>(z[0]);  // see mixup_cross_entropy_math.h: everything relative to z[0]

  RowStats<acc_t> mine;
  if constexpr (kVectorized) {
    cuda::row_sweep<kBlock, cuda::sweep_unroll<acc_t>()>(
        vectors, [&](int64_t v) { return Vector::load(z + v * kVec); },
        [&](int64_t, const Vector& in) {
          acc_t shifted[kVec];
#pragma unroll
          for (int k = 0; k < kVec; ++k) shifted[k] = static_cast<acc_t>(in.v[k]) - ref;
          mine.add_vector(shifted);
        });
  } else {
    cuda::row_sweep<kBlock, cuda::sweep_unroll<acc_t>()>(
        classes, [&](int64_t c) { return z[c]; },
        [&](int64_t, scalar_t value) { mine.add(static_cast<acc_t>(value) - ref); });
  }
  const RowStats<acc_t> total = block_merge<acc_t, kBlock>(mine);
  const acc_t shifted_lse = total.lse.value();
  const int64_t a = rows.label_a(row), b = rows.label_b(row);
  const acc_t w = rows.weight_a(row);
  if (threadIdx.x == 0) {
    CUDA_KERNEL_ASSERT(a >= 0 && a < classes && b >= 0 && b < classes);  // class id out of [0, C)
    lse[row] = shifted_lse;
    loss[row] = mixed_ce_loss<acc_t>(shifted_lse, static_cast<acc_t>(z[a]) - ref, static_cast<acc_t>(z[b]) - ref,
                                     total.sum_z, w, smoothing, classes);
  }
  if (grad == nullptr) return;

  const acc_t g = upstream.of(row);
  scalar_t* out = grad + row * classes;
  if constexpr (kVectorized) {
    cuda::row_sweep<kBlock, cuda::sweep_unroll<acc_t>()>(
        vectors, [&](int64_t v) { return Vector::load_last(z + v * kVec); },
        [&](int64_t v, const Vector& in) {
          Vector d;
#pragma unroll
          for (int k = 0; k < kVec; ++k) {
            const int64_t c = v * kVec + k;
            d.v[k] = static_cast<scalar_t>(g * mixed_ce_grad<acc_t>(static_cast<acc_t>(in.v[k]) - ref, shifted_lse, c,
                                                                    a, b, w, smoothing, classes));
          }
          d.store(out + v * kVec);
        });
  } else {
    cuda::row_sweep<kBlock, cuda::sweep_unroll<acc_t>()>(
        classes, [&](int64_t c) { return z[c]; },
        [&](int64_t c, scalar_t value) {
          out[c] = static_cast<scalar_t>(
              g * mixed_ce_grad<acc_t>(static_cast<acc_t>(value) - ref, shifted_lse, c, a, b, w, smoothing, classes));
        });
  }
}

// skip_unit: leave the items whose grad_output is 1 as they are (the
// forward wrote them for exactly that), rewrite the others.
template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(cuda::kLossThreads)
    mixup_ce_backward_kernel(const LossRowArgs<scalar_t, acc_t> rows, int64_t chunks, int64_t items,
                             const UpstreamRows<acc_t> upstream, bool skip_unit, const acc_t* lse, double smoothing,
                             scalar_t* grad) {
  constexpr int kThreads = cuda::kLossThreads;
  const int64_t classes = rows.classes;
  for (int64_t item = blockIdx.x; item < items; item += gridDim.x) {
    const int64_t row = item / chunks;
    if (skip_unit && upstream.grad_output(row) == acc_t(1)) continue;
    const int64_t first = (item % chunks) * int64_t(kThreads) * kGradPerThread + threadIdx.x;
    const scalar_t* z = rows.row(row);
    const int64_t a = rows.label_a(row), b = rows.label_b(row);
    const acc_t w = rows.weight_a(row), g = upstream.of(row), l = lse[row], ref = static_cast<acc_t>(z[0]);
#pragma unroll
    for (int k = 0; k < kGradPerThread; ++k) {
      const int64_t c = first + int64_t(k) * kThreads;
      if (c < classes) {
        const acc_t d = mixed_ce_grad<acc_t>(static_cast<acc_t>(z[c]) - ref, l, c, a, b, w, smoothing, classes);
        grad[row * classes + c] = static_cast<scalar_t>(g * d);
      }
    }
  }
}

template <typename scalar_t, typename acc_t, int kBlock>
void launch_forward_rows(const char* op, const CrossEntropyForwardPlan& f) {
  const auto rows = cuda::loss_row_args<scalar_t, acc_t>(f.in);
  const auto upstream = upstream_rows<acc_t>(f.upstream);
  scalar_t* grad = f.grad.defined() ? f.grad.mutable_data_ptr<scalar_t>() : nullptr;
  acc_t* loss = f.loss.mutable_data_ptr<acc_t>();
  acc_t* lse = f.lse.mutable_data_ptr<acc_t>();
  if (cuda::rows_vectorizable<scalar_t>(f.in)) {
    cuda::launch(op, mixup_ce_forward_kernel<scalar_t, acc_t, kBlock, true>, f.in.batch, kBlock, rows, f.in.smoothing,
                 loss, lse, upstream, grad);
  } else {
    cuda::launch(op, mixup_ce_forward_kernel<scalar_t, acc_t, kBlock, false>, f.in.batch, kBlock, rows, f.in.smoothing,
                 loss, lse, upstream, grad);
  }
}

void launch_forward(const char* op, const CrossEntropyForwardPlan& f) {
  const c10::cuda::CUDAGuard guard(f.in.logits.device());
  dispatch_data_float(f.in.logits.scalar_type(), "mixup::mixup_cross_entropy", [&](auto type) {
    using scalar_t = decltype(type);
    using acc_t = acc_type_t<scalar_t>;
    cuda::with_row_block_threads(
        f.in.classes, [&](auto block) { launch_forward_rows<scalar_t, acc_t, decltype(block)::value>(op, f); });
  });
}

void launch_backward(const char* op, const CrossEntropyBackwardPlan& b, bool skip_unit) {
  const c10::cuda::CUDAGuard guard(b.in.logits.device());
  const cuda::GradGrid grid = cuda::grad_grid(b.in);
  dispatch_data_float(b.in.logits.scalar_type(), "mixup::mixup_cross_entropy", [&](auto type) {
    using scalar_t = decltype(type);
    using acc_t = acc_type_t<scalar_t>;
    cuda::launch(op, mixup_ce_backward_kernel<scalar_t, acc_t>, grid.blocks, cuda::kLossThreads,
                 cuda::loss_row_args<scalar_t, acc_t>(b.in), grid.chunks, grid.items, upstream_rows<acc_t>(b.upstream),
                 skip_unit, b.lse.const_data_ptr<acc_t>(), b.in.smoothing, b.grad.mutable_data_ptr<scalar_t>());
  });
}

std::tuple<at::Tensor, at::Tensor> mixup_cross_entropy_cuda(const at::Tensor& logits, const at::Tensor& y_a,
                                                            const at::Tensor& y_b, const at::Tensor& lam,
                                                            double smoothing, c10::string_view reduction) {
  constexpr const char* op = "mixup::mixup_cross_entropy";
  const CrossEntropyForwardPlan f = plan_cross_entropy_forward(op, logits, y_a, y_b, lam, smoothing, reduction,
                                                               /*with_grad=*/false);
  launch_forward(op, f);
  return {reduce_rows(f.loss, f.reduction), f.lse};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> mixup_cross_entropy_with_grad_cuda(
    const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
    c10::string_view reduction) {
  constexpr const char* op = "mixup::_mixup_cross_entropy_with_grad";
  const CrossEntropyForwardPlan f = plan_cross_entropy_forward(op, logits, y_a, y_b, lam, smoothing, reduction,
                                                               /*with_grad=*/true);
  launch_forward(op, f);
  return {reduce_rows(f.loss, f.reduction), f.lse, f.grad};
}

at::Tensor mixup_cross_entropy_backward_cuda(const at::Tensor& grad_loss, const at::Tensor& logits,
                                             const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
                                             const at::Tensor& lse, double smoothing, c10::string_view reduction) {
  const CrossEntropyBackwardPlan b =
      plan_cross_entropy_backward(grad_loss, logits, y_a, y_b, lam, lse, smoothing, reduction);
  launch_backward("mixup::_mixup_cross_entropy_backward", b, /*skip_unit=*/false);
  return b.grad;
}

void mixup_cross_entropy_apply_grad_output_cuda(const at::Tensor& grad, const at::Tensor& grad_loss,
                                                const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                                const at::Tensor& lam, const at::Tensor& lse, double smoothing,
                                                c10::string_view reduction) {
  const CrossEntropyBackwardPlan b =
      plan_cross_entropy_apply_grad_output(grad, grad_loss, logits, y_a, y_b, lam, lse, smoothing, reduction);
  launch_backward("mixup::_mixup_cross_entropy_apply_grad_output", b, /*skip_unit=*/true);
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CUDA, m) {
  m.impl("mixup_cross_entropy", &mixup_cross_entropy_cuda);
  m.impl("_mixup_cross_entropy_with_grad", &mixup_cross_entropy_with_grad_cuda);
  m.impl("_mixup_cross_entropy_backward", &mixup_cross_entropy_backward_cuda);
  m.impl("_mixup_cross_entropy_apply_grad_output", &mixup_cross_entropy_apply_grad_output_cuda);
}

}  // namespace mixup

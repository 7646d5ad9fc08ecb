// CUDA kernels of mixup::fused_mix and mixup::fused_mix_backward.
//
// One launch does the whole forward: blocks [0, row_blocks) mix x, the blocks
// after them mix the targets. Each x block covers one chunk of one row, and the
// row index varies fastest across blocks, so the blocks resident at one time
// read the same column chunk of every row: a partner's chunk is then usually
// still in L2 (50 MB on an H100), and a random pairing costs about one read of
// x instead of two. Rows are read in 16-byte packs, kUnroll of them in flight
// per thread and row, with a one-element fallback for misaligned views.
//
// Nothing here synchronises with the host: lam, index and box are read on the
// device, and their value checks are device-side asserts (MIXUP_DEVICE_ASSERT).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <climits>
#include <cstdint>
#include <type_traits>

#include "../fused_mix.h"

namespace mixup {
namespace {

constexpr int kThreads = 256;
constexpr int kUnroll = 4;
constexpr int kTargetsPerThread = 4;

template <typename T, int N>
struct alignas(sizeof(T) * N) Pack {
  T v[N];
};

// A box's test in row-offset form: line index h in [y0, y1) and offset within
// the line in [x0 * w_stride, x1 * w_stride) -- no division per element.
struct BoxSpan {
  int64_t y0, y1, lo, hi;
  __device__ BoxSpan(const Box& b, const RowGeometry& g)
      : y0(b.y0), y1(b.y1), lo(b.x0 * g.w_stride), hi(b.x1 * g.w_stride) {}
};

// The (h, offset-in-line) coordinates of an element, stepped one element at a
// time, so a pack costs two divisions, not two per element.
struct Cursor {
  int64_t h, r;

  __device__ Cursor(const RowGeometry& g, int64_t e) {
    const int64_t line = g.line();
    if (g.numel <= UINT32_MAX) {  // 32-bit division is several times cheaper
      const uint32_t q = static_cast<uint32_t>(e) / static_cast<uint32_t>(line);
      r = static_cast<uint32_t>(e) - q * static_cast<uint32_t>(line);
      h = q % static_cast<uint32_t>(g.height);
    } else {
      const int64_t q = e / line;
      r = e - q * line;
      h = q % g.height;
    }
  }
  __device__ bool inside(const BoxSpan& b) const {
    return h >= b.y0 && h < b.y1 && r >= b.lo && r < b.hi;
  }
  __device__ void advance(const RowGeometry& g) {
    if (++r == g.line()) {
      r = 0;
      if (++h == g.height) h = 0;
    }
  }
};

template <typename scalar_t, typename acc_t>
struct ForwardArgs {
  const scalar_t* x;
  scalar_t* out;
  int64_t batch_stride;
  RowGeometry geometry;
  Pairing<acc_t> pairing;
  int64_t row_blocks;  // blocks that mix x; the rest mix the targets
  TargetArgs targets;
  int64_t target_numel;
};

template <typename scalar_t, typename acc_t>
struct BackwardArgs {
  const scalar_t* grad;
  scalar_t* out;
  int64_t batch_stride;
  RowGeometry geometry;
  Pairing<acc_t> pairing;
  const int64_t* order;    // rows sorted by the row they read (stable)
  const int64_t* offsets;  // readers of row j: order[offsets[j] : offsets[j + 1]]
  acc_t scale;
};

// Splits a block id into (row, first element of this thread's first pack).
template <int VEC>
__device__ inline void locate(int64_t block, int64_t batch, int64_t& row, int64_t& first) {
  constexpr int64_t kChunk = int64_t(kThreads) * VEC * kUnroll;
  row = block % batch;
  first = (block / batch) * kChunk + int64_t(threadIdx.x) * VEC;
}

template <int VEC>
__device__ inline int64_t pack_offset(int64_t first, int u) {
  return first + int64_t(u) * kThreads * VEC;
}

template <typename scalar_t, int VEC>
__global__ void __launch_bounds__(kThreads)
    fused_mix_kernel(const ForwardArgs<scalar_t, at::opmath_type<scalar_t>> args) {
  using acc_t = at::opmath_type<scalar_t>;
  using pack_t = Pack<scalar_t, VEC>;

  const int64_t block = blockIdx.x;
  if (block >= args.row_blocks) {
    const int64_t first = (block - args.row_blocks) * kThreads * kTargetsPerThread + threadIdx.x;
#pragma unroll
    for (int u = 0; u < kTargetsPerThread; ++u) {
      const int64_t flat = first + int64_t(u) * kThreads;
      if (flat < args.target_numel) mix_target_element(args.targets, args.pairing, flat);
    }
    return;
  }

  const RowGeometry g = args.geometry;
  int64_t row, first;
  locate<VEC>(block, args.pairing.batch, row, first);
  const scalar_t* own = args.x + row * args.batch_stride;
  const scalar_t* partner = args.x + args.pairing.partner(row) * args.batch_stride;
  scalar_t* dst = args.out + row * g.numel;

  pack_t a[kUnroll], b[kUnroll];
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t e = pack_offset<VEC>(first, u);
    if (e < g.numel) {
      a[u] = *reinterpret_cast<const pack_t*>(own + e);
      b[u] = *reinterpret_cast<const pack_t*>(partner + e);
    }
  }

  const Box box = args.pairing.box_of(row, g);
  if (box.empty()) {
    const acc_t lam = args.pairing.weight(row);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t e = pack_offset<VEC>(first, u);
      if (e >= g.numel) continue;
      pack_t o;
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        o.v[k] = static_cast<scalar_t>(
            blend(lam, static_cast<acc_t>(a[u].v[k]), static_cast<acc_t>(b[u].v[k])));
      }
      *reinterpret_cast<pack_t*>(dst + e) = o;
    }
  } else {
    // CutMix: a select, not a blend, so every element is bit-exact (NaN too).
    const BoxSpan span(box, g);
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t e = pack_offset<VEC>(first, u);
      if (e >= g.numel) continue;
      Cursor cursor(g, e);
      pack_t o;
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        o.v[k] = cursor.inside(span) ? b[u].v[k] : a[u].v[k];
        cursor.advance(g);
      }
      *reinterpret_cast<pack_t*>(dst + e) = o;
    }
  }
}

// Adds coefficient * grad[src] to acc for this thread's packs, where the
// coefficient is `weight` for a blended row and the box mask (or its
// complement, for the row's own term) for a boxed one.
template <typename scalar_t, int VEC, typename acc_t>
__device__ inline void accumulate_row(acc_t (&acc)[kUnroll][VEC], const scalar_t* src,
                                      const RowGeometry& g, int64_t first, const Box& box,
                                      acc_t weight, bool take_inside, bool overwrite) {
  using pack_t = Pack<scalar_t, VEC>;
  pack_t p[kUnroll];
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t e = pack_offset<VEC>(first, u);
    if (e < g.numel) p[u] = *reinterpret_cast<const pack_t*>(src + e);
  }
  if (box.empty()) {
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        const acc_t term = weight * static_cast<acc_t>(p[u].v[k]);
        acc[u][k] = overwrite ? term : acc[u][k] + term;
      }
    }
    return;
  }
  const BoxSpan span(box, g);
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t e = pack_offset<VEC>(first, u);
    if (e >= g.numel) continue;
    Cursor cursor(g, e);
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      const acc_t term = cursor.inside(span) == take_inside ? static_cast<acc_t>(p[u].v[k]) : acc_t(0);
      acc[u][k] = overwrite ? term : acc[u][k] + term;
      cursor.advance(g);
    }
  }
}

// grad_input[j] = scale * (own_j * grad[j] + sum over readers i of j of partner_i * grad[i]).
// Readers are gathered through the sorted inverse of index: no atomics, and
// the summation order is fixed, so the result is bitwise reproducible.
template <typename scalar_t, int VEC>
__global__ void __launch_bounds__(kThreads)
    fused_mix_backward_kernel(const BackwardArgs<scalar_t, at::opmath_type<scalar_t>> args) {
  using acc_t = at::opmath_type<scalar_t>;
  using pack_t = Pack<scalar_t, VEC>;

  const RowGeometry g = args.geometry;
  int64_t row, first;
  locate<VEC>(blockIdx.x, args.pairing.batch, row, first);

  acc_t acc[kUnroll][VEC];
  accumulate_row<scalar_t, VEC>(acc, args.grad + row * args.batch_stride, g, first,
                                args.pairing.box_of(row, g), args.pairing.weight(row),
                                /*take_inside=*/false, /*overwrite=*/true);
  const int64_t end = args.offsets[row + 1];
  for (int64_t t = args.offsets[row]; t < end; ++t) {
    const int64_t reader = args.order[t];
    accumulate_row<scalar_t, VEC>(acc, args.grad + reader * args.batch_stride, g, first,
                                  args.pairing.box_of(reader, g),
                                  acc_t(1) - args.pairing.weight(reader),
                                  /*take_inside=*/true, /*overwrite=*/false);
  }

  scalar_t* dst = args.out + row * g.numel;
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t e = pack_offset<VEC>(first, u);
    if (e >= g.numel) continue;
    pack_t o;
#pragma unroll
    for (int k = 0; k < VEC; ++k) o.v[k] = static_cast<scalar_t>(args.scale * acc[u][k]);
    *reinterpret_cast<pack_t*>(dst + e) = o;
  }
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// 16-byte packs need every row start 16-byte aligned and whole packs per row;
// otherwise (odd widths, offset views) the kernels run one element per step.
template <typename scalar_t>
bool packs_fit(const void* in, const void* out, int64_t batch_stride, int64_t numel) {
  constexpr int64_t vec = 16 / sizeof(scalar_t);
  return reinterpret_cast<uintptr_t>(in) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0 &&
         batch_stride % vec == 0 && numel % vec == 0;
}

// Calls launch(std::integral_constant<int, VEC>) with the widest usable pack.
template <typename scalar_t, typename Launch>
void with_pack_width(bool wide, const Launch& launch) {
  if (wide) {
    launch(std::integral_constant<int, 16 / sizeof(scalar_t)>{});
  } else {
    launch(std::integral_constant<int, 1>{});
  }
}

int64_t row_blocks_for(int64_t batch, int64_t numel, int vec) {
  return numel == 0 ? 0 : batch * ceil_div(numel, int64_t(kThreads) * vec * kUnroll);
}

void check_grid(int64_t blocks) {
  TORCH_CHECK(blocks <= INT_MAX, "mixup: tensor too large for one launch (", blocks,
              " blocks of ", kThreads, " threads)");
}

template <typename scalar_t>
void launch_forward(const ForwardPlan& plan) {
  using acc_t = at::opmath_type<scalar_t>;
  const RowMixPlan& mix = plan.mix;
  ForwardArgs<scalar_t, acc_t> args{};
  args.x = plan.x_rows.const_data_ptr<scalar_t>();
  args.out = plan.out.mutable_data_ptr<scalar_t>();
  args.batch_stride = mix.batch_stride;
  args.geometry = mix.geometry;
  args.pairing = mix.pairing<acc_t>();
  args.targets = plan.target_args;
  args.target_numel = plan.out_target.numel();

  const bool wide = packs_fit<scalar_t>(args.x, args.out, args.batch_stride, mix.geometry.numel);
  with_pack_width<scalar_t>(wide, [&](auto vec) {
    constexpr int VEC = decltype(vec)::value;
    args.row_blocks = row_blocks_for(mix.batch, mix.geometry.numel, VEC);
    const int64_t target_blocks = ceil_div(args.target_numel, int64_t(kThreads) * kTargetsPerThread);
    const int64_t blocks = args.row_blocks + target_blocks;
    if (blocks == 0) return;
    check_grid(blocks);
    fused_mix_kernel<scalar_t, VEC><<<static_cast<unsigned>(blocks), kThreads, 0,
                                      c10::cuda::getCurrentCUDAStream()>>>(args);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

template <typename scalar_t>
void launch_backward(const BackwardPlan& plan) {
  using acc_t = at::opmath_type<scalar_t>;
  const RowMixPlan& mix = plan.mix;
  BackwardArgs<scalar_t, acc_t> args{};
  args.grad = plan.grad_rows.const_data_ptr<scalar_t>();
  args.out = plan.grad_input.mutable_data_ptr<scalar_t>();
  args.batch_stride = mix.batch_stride;
  args.geometry = mix.geometry;
  args.pairing = mix.pairing<acc_t>();
  args.order = plan.order.const_data_ptr<int64_t>();
  args.offsets = plan.offsets.const_data_ptr<int64_t>();
  args.scale = static_cast<acc_t>(plan.scale);

  const bool wide = packs_fit<scalar_t>(args.grad, args.out, args.batch_stride, mix.geometry.numel);
  with_pack_width<scalar_t>(wide, [&](auto vec) {
    constexpr int VEC = decltype(vec)::value;
    const int64_t blocks = row_blocks_for(mix.batch, mix.geometry.numel, VEC);
    if (blocks == 0) return;
    check_grid(blocks);
    fused_mix_backward_kernel<scalar_t, VEC><<<static_cast<unsigned>(blocks), kThreads, 0,
                                               c10::cuda::getCurrentCUDAStream()>>>(args);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
}

std::tuple<at::Tensor, at::Tensor> fused_mix_cuda(const at::Tensor& x, const at::Tensor& target,
                                                  const at::Tensor& index, const at::Tensor& lam,
                                                  const std::optional<at::Tensor>& box,
                                                  int64_t num_classes, double smoothing) {
  const c10::cuda::CUDAGuard guard(x.device());
  const ForwardPlan plan = plan_forward(x, target, index, lam, box, num_classes, smoothing);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "mixup::fused_mix",
                                  [&] { launch_forward<scalar_t>(plan); });
  return {plan.out, plan.out_target};
}

at::Tensor fused_mix_backward_cuda(const at::Tensor& grad, const at::Tensor& index,
                                   const at::Tensor& lam, const std::optional<at::Tensor>& box,
                                   double scale) {
  const c10::cuda::CUDAGuard guard(grad.device());
  const BackwardPlan plan = plan_backward(grad, index, lam, box, scale);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(),
                                  "mixup::fused_mix_backward", [&] { launch_backward<scalar_t>(plan); });
  return plan.grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CUDA, m) {
  m.impl("fused_mix", &fused_mix_cuda);
  m.impl("fused_mix_backward", &fused_mix_backward_cuda);
}

}  // namespace mixup

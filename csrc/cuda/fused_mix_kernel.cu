// CUDA kernels of mixup::fused_mix and mixup::_fused_mix_backward.
//
// One launch does the whole forward: the first blocks mix the targets, the
// blocks after them mix x (targets first, so that they run beside the x
// blocks rather than as a tail after them). Each x block covers chunks of
// one row, and the row index varies fastest across blocks, so the blocks
// resident at one time read the same column chunks of every row: a
// partner's chunk is then usually still in L2 (50 MB on an H100), and a
// random pairing costs about one read of x instead of two. A block mixes a
// few consecutive chunks of its row, so the row's prologue is paid once for
// them. Rows are read in packs of 16 bytes or more: several in flight a
// thread on a big launch (the wide tile), one on a small launch so that it
// has more blocks (the small tile), and one element a step for misaligned
// views. The output is written with streaming (evict-first) stores so that
// it does not push the partners' chunks out of L2.
//
// Boxed (CutMix) rows never load what they do not use: a pack wholly inside
// the box skips its own row, a pack wholly outside skips the partner's.
//
// The backward runs the same block shape over grad, gathering each row's
// readers through a CSR list that one small kernel builds (a stable counting
// sort), so it needs neither atomics on the data nor a library sort.
//
// Nothing here synchronises with the host: lam, index and box are read on the
// device, and their value checks are device-side asserts (MIXUP_DEVICE_ASSERT).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/detail/IntegerDivider.cuh>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>
#include <type_traits>

#include "../dtypes.h"
#include "../fused_mix.h"
#include "../row_tile.h"
#include "launch.h"

#include "fused_mix_device.cuh"

namespace mixup {
namespace {

using namespace fused_mix_device;  // NOLINT: the kernels below are written in its words

// One column chunk of one row: this thread's UNROLL packs from `first` on.
template <int VEC, int UNROLL, bool kConvert, bool kNarrow, typename in_t, typename out_t, typename Values>
__device__ inline void mix_chunk(const ForwardArgs<in_t, out_t>& args, const in_t* own, const in_t* partner, out_t* dst,
                                 const Box& box, acc_type_t<in_t, out_t> lam, const Values& channel_values,
                                 int64_t first) {
  using acc_t = acc_type_t<in_t, out_t>;
  using in_pack = Pack<in_t, VEC>;
  using out_pack = Pack<out_t, VEC>;
  const RowGeometry& g = args.geometry;
  const bool blends = box.blends();

  // Load: a blend reads both rows; a paste (CutMix) reads each row only
  // where a pack takes something from it (mask bit k set <=> partner).
  uint32_t mask[UNROLL];
  in_pack a[UNROLL] = {}, b[UNROLL] = {};
  if (blends) {
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      const int64_t e = pack_offset<VEC>(first, u);
      if (e < g.numel) {
        a[u] = *reinterpret_cast<const in_pack*>(own + e);
        b[u] = *reinterpret_cast<const in_pack*>(partner + e);
      }
    }
  } else {
    box_masks<VEC, kNarrow>(mask, box, g, args.lines, first);
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      const int64_t e = pack_offset<VEC>(first, u);
      if (e >= g.numel) continue;
      if (mask[u] != kFullMask<VEC>) a[u] = *reinterpret_cast<const in_pack*>(own + e);
      if (mask[u] != 0u) b[u] = *reinterpret_cast<const in_pack*>(partner + e);
    }
  }

  // The blend-or-paste choice is the row's, so it is taken once per pack,
  // outside the per-element loops: each loop then carries one formula.
#pragma unroll
  for (int u = 0; u < UNROLL; ++u) {
    const int64_t e = pack_offset<VEC>(first, u);
    if (e >= g.numel) continue;
    out_pack o;
    if constexpr (!kConvert) {
      // A paste without conversion is a select of the stored values, so
      // every element is bit-exact (NaN payloads too).
      if (blends) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          o.v[k] = static_cast<in_t>(blend(lam, static_cast<acc_t>(a[u].v[k]), static_cast<acc_t>(b[u].v[k])));
        }
      } else {
#pragma unroll
        for (int k = 0; k < VEC; ++k) o.v[k] = (mask[u] >> k) & 1u ? b[u].v[k] : a[u].v[k];
      }
    } else {
      acc_t v[VEC];
      if (blends) {
#pragma unroll
        for (int k = 0; k < VEC; ++k) v[k] = blend(lam, pack_value<acc_t>(a[u], k), pack_value<acc_t>(b[u], k));
      } else {
#pragma unroll
        for (int k = 0; k < VEC; ++k) {
          v[k] = (mask[u] >> k) & 1u ? pack_value<acc_t>(b[u], k) : pack_value<acc_t>(a[u], k);
        }
      }
      if (args.norm.active()) normalize_pack<VEC, kNarrow>(v, channel_values, args.channels, e);
#pragma unroll
      for (int k = 0; k < VEC; ++k) o.v[k] = static_cast<out_t>(v[k]);
    }
    store_streaming(reinterpret_cast<out_pack*>(dst + e), o);
  }
}

// kConvert: the output is normalised or of another dtype than x. Without it
// (in_t == out_t, no mean/std) a paste is a select of stored values and none
// of the conversion code is compiled in: the plain mix keeps its registers.
// The converting kernels are issue-bound (ncu: SM 65-78%), so they are asked
// to fit kConvertBlocksPerSM blocks per SM (48 or 64 registers at 128 threads).
// kNarrow: 32-bit index math (a row of fewer than 2^31 elements; see
// Divider). VEC x UNROLL: the tile (with_kernel_shape). A block mixes
// args.chunks column chunks of its row.
template <typename in_t, typename out_t, int VEC, int UNROLL, bool kConvert, bool kNarrow>
__global__ void __launch_bounds__(kThreads, kConvert ? kConvertBlocksPerSM<VEC> : 1)
    fused_mix_kernel(const ForwardArgs<in_t, out_t> args) {
  using acc_t = acc_type_t<in_t, out_t>;
  static_assert(kConvert || std::is_same_v<in_t, out_t>, "a plain mix keeps x's dtype");

  const uint32_t first_row_block = kTargetsFirst ? args.target_blocks : 0;
  if (blockIdx.x < first_row_block || blockIdx.x - first_row_block >= args.row_blocks) {
    mix_target_row(args, kTargetsFirst ? blockIdx.x : blockIdx.x - args.row_blocks);
    return;
  }
  __shared__ StagedChannels<acc_t> staged;
  ChannelValues<acc_t, std::is_same_v<in_t, uint8_t>> channel_values{nullptr, nullptr, nullptr};
  if constexpr (kConvert) {
    channel_values = stage_channels<std::is_same_v<in_t, uint8_t>>(args.norm, args.channels.channels.divisor, staged);
  }

  const RowGeometry& g = args.geometry;
  int64_t row, first;
  locate_block<VEC, UNROLL>(args, blockIdx.x - first_row_block, args.chunks, row, first);
  const in_t* own = args.x + row * args.batch_stride;
  const in_t* partner = args.x + args.pairing.partner(row) * args.batch_stride;
  out_t* dst = args.out + row * g.numel;
  const Box box = args.pairing.box_of(row, g);
  const acc_t lam = args.pairing.weight(row);
  for (int chunk = 0; chunk < args.chunks && first < g.numel; ++chunk, first += chunk_elements(VEC, UNROLL)) {
    mix_chunk<VEC, UNROLL, kConvert, kNarrow>(args, own, partner, dst, box, lam, channel_values, first);
  }
}

// Adds one row's term to acc for this thread's packs: `weight * src` for a
// blended row, and for a boxed one src where it lies inside the box
// (take_inside, the partner's term) or outside it (the row's own term), and 0
// elsewhere. Packs whose term is all zero are not loaded.
template <typename scalar_t, int VEC, bool kNarrow, int UNROLL, typename acc_t>
__device__ inline void accumulate_row(acc_t (&acc)[UNROLL][VEC], const scalar_t* src, const RowGeometry& g,
                                      const LineMap& lines, int64_t first, const Box& box, acc_t weight,
                                      bool take_inside, bool overwrite) {
  using pack_t = Pack<scalar_t, VEC>;
  pack_t p[UNROLL] = {};
  if (box.blends()) {
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
      const int64_t e = pack_offset<VEC>(first, u);
      if (e < g.numel) p[u] = *reinterpret_cast<const pack_t*>(src + e);
    }
#pragma unroll
    for (int u = 0; u < UNROLL; ++u) {
#pragma unroll
      for (int k = 0; k < VEC; ++k) {
        const acc_t term = weight * static_cast<acc_t>(p[u].v[k]);
        acc[u][k] = overwrite ? term : acc[u][k] + term;
      }
    }
    return;
  }
  uint32_t mask[UNROLL];
  box_masks<VEC, kNarrow>(mask, box, g, lines, first);
#pragma unroll
  for (int u = 0; u < UNROLL; ++u) {
    if (!take_inside) mask[u] = ~mask[u] & kFullMask<VEC>;  // now: bit set <=> term is src
    const int64_t e = pack_offset<VEC>(first, u);
    if (e < g.numel && mask[u] != 0u) p[u] = *reinterpret_cast<const pack_t*>(src + e);
  }
#pragma unroll
  for (int u = 0; u < UNROLL; ++u) {
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      const acc_t term = (mask[u] >> k) & 1u ? static_cast<acc_t>(p[u].v[k]) : acc_t(0);
      acc[u][k] = overwrite ? term : acc[u][k] + term;
    }
  }
}

// grad_input[j] = scale * (own_j * grad[j] + sum over readers i of j of partner_i * grad[i]).
// The readers come in increasing order, so the sum has a fixed order and the
// result is bitwise reproducible.
template <typename scalar_t, int VEC, int UNROLL, bool kNarrow>
__global__ void __launch_bounds__(kThreads) fused_mix_backward_kernel(const BackwardArgs<scalar_t> args) {
  using acc_t = acc_type_t<scalar_t, scalar_t>;
  using pack_t = Pack<scalar_t, VEC>;

  const RowGeometry& g = args.geometry;
  int64_t row, first;
  locate_block<VEC, UNROLL>(args, blockIdx.x, /*chunks=*/1, row, first);
  // Asserts index[row] is in range, as the forward does. The readers lists
  // of big batches come from a library sort, which would silently drop it.
  (void)args.pairing.partner(row);

  acc_t acc[UNROLL][VEC];
  accumulate_row<scalar_t, VEC, kNarrow>(acc, args.grad + row * args.batch_stride, g, args.lines, first,
                                         args.pairing.box_of(row, g), args.pairing.weight(row),
                                         /*take_inside=*/false, /*overwrite=*/true);
  const int64_t end = args.offsets[row + 1];
  for (int64_t t = args.offsets[row]; t < end; ++t) {
    const int64_t reader = args.order[t];
    accumulate_row<scalar_t, VEC, kNarrow>(acc, args.grad + reader * args.batch_stride, g, args.lines, first,
                                           args.pairing.box_of(reader, g), acc_t(1) - args.pairing.weight(reader),
                                           /*take_inside=*/true, /*overwrite=*/false);
  }

  scalar_t* dst = args.out + row * g.numel;
#pragma unroll
  for (int u = 0; u < UNROLL; ++u) {
    const int64_t e = pack_offset<VEC>(first, u);
    if (e >= g.numel) continue;
    acc_t v[VEC];
#pragma unroll
    for (int k = 0; k < VEC; ++k) v[k] = args.scale * acc[u][k];
    if (args.norm.active()) {
      // The backward's rare std: divide, from global memory.
      normalize_pack<VEC, kNarrow>(v, ChannelValues<acc_t>{args.norm.mean, args.norm.std, nullptr}, args.channels, e);
    }
    pack_t o;
#pragma unroll
    for (int k = 0; k < VEC; ++k) o.v[k] = static_cast<scalar_t>(v[k]);
    store_streaming(reinterpret_cast<pack_t*>(dst + e), o);
  }
}

// The readers lists of the backward (see BackwardPlan), by a stable counting
// sort in one block: count the readers of every row (shared-memory atomics;
// counts do not depend on their order), prefix-sum the counts into offsets,
// then place the rows 32 at a time in increasing order. Within a warp, lanes
// with the same partner find each other with __match_any_sync and take
// consecutive slots by rank, so the placement is deterministic.
__global__ void __launch_bounds__(kReaderThreads)
    build_readers_kernel(const int64_t* index, int64_t index_stride, int64_t batch, int64_t* order, int64_t* offsets) {
  __shared__ int cursor[kMaxSharedReaders];
  __shared__ int64_t warp_sums[kReaderWarps];
  const int lane = threadIdx.x % 32;
  const int warp = threadIdx.x / 32;

  for (int64_t j = threadIdx.x; j < batch; j += kReaderThreads) cursor[j] = 0;
  __syncthreads();
  for (int64_t i = threadIdx.x; i < batch; i += kReaderThreads) {
    const int64_t p = index[i * index_stride];
    MIXUP_DEVICE_ASSERT(p >= 0 && p < batch);  // index out of [0, B)
    atomicAdd(&cursor[p], 1);
  }
  __syncthreads();

  // Exclusive prefix sum, kReaderThreads counts per round.
  int64_t carry = 0;
  for (int64_t base = 0; base < batch; base += kReaderThreads) {
    const int64_t j = base + threadIdx.x;
    const int64_t count = j < batch ? cursor[j] : 0;
    int64_t sum = count;  // inclusive scan within the warp
#pragma unroll
    for (int d = 1; d < 32; d <<= 1) {
      const int64_t below = __shfl_up_sync(0xffffffffu, sum, d);
      if (lane >= d) sum += below;
    }
    if (lane == 31) warp_sums[warp] = sum;
    __syncthreads();
    if (warp == 0) {
      int64_t w = lane < kReaderWarps ? warp_sums[lane] : 0;
#pragma unroll
      for (int d = 1; d < 32; d <<= 1) {
        const int64_t below = __shfl_up_sync(0xffffffffu, w, d);
        if (lane >= d) w += below;
      }
      if (lane < kReaderWarps) warp_sums[lane] = w;
    }
    __syncthreads();
    const int64_t start = carry + (warp > 0 ? warp_sums[warp - 1] : 0) + sum - count;
    if (j < batch) {
      offsets[j] = start;
      cursor[j] = static_cast<int>(start);
    }
    carry += warp_sums[kReaderWarps - 1];
    __syncthreads();  // warp_sums is rewritten next round
  }
  if (threadIdx.x == 0) offsets[batch] = carry;
  __syncthreads();

  if (warp != 0) return;
  for (int64_t base = 0; base < batch; base += 32) {
    const int64_t i = base + lane;
    const bool valid = i < batch;
    const int64_t p = valid ? index[i * index_stride] : -1;
    const unsigned peers = __match_any_sync(0xffffffffu, static_cast<unsigned long long>(p));
    const int rank = __popc(peers & ((1u << lane) - 1u));
    if (valid) order[cursor[p] + rank] = i;
    __syncwarp();
    if (valid && rank == 0) cursor[p] += __popc(peers);
    __syncwarp();
  }
}

using cuda::ceil_div;

// Elements per wide pack: 16 bytes of the wider side, so that every access
// is one instruction and a warp's loads and stores both cover consecutive
// memory. A uint8 input converted to a wider type is the exception: its packs
// hold 32 bytes of output (uint8 to bfloat16: 16-byte loads and two 16-byte
// stores; to float32: 8-byte loads and two stores), which spreads each pack's
// fixed work (bounds test, box mask, channel lookup) over twice the elements.
// On the H200 that took uint8 to float32 from 1.11 to ~0.8 of an fp32 clone
// and uint8 to bfloat16 from 0.78 to ~0.70 (DEVLOG.md, v7); each store
// instruction then half-fills its sectors, and the next one fills the rest.
template <typename in_t, typename out_t>
constexpr int kWideVec = !std::is_same_v<in_t, uint8_t> || std::is_same_v<out_t, uint8_t>
                             ? 16 / (sizeof(in_t) > sizeof(out_t) ? sizeof(in_t) : sizeof(out_t))
                         : kUint8Vec > 0 ? kUint8Vec
                                         : 32 / static_cast<int>(sizeof(out_t));

// The small tile's pack: 16 bytes of the wider side, never wider than the
// wide tile's (so that whatever fits one fits the other).
template <typename in_t, typename out_t>
constexpr int kSmallVec = std::min(kWideVec<in_t, out_t>, 16 / static_cast<int>(std::max(sizeof(in_t), sizeof(out_t))));

// Wide packs need every row start 16-byte aligned and whole packs per row;
// otherwise (odd widths, offset views) the kernels run one element per step.
template <typename in_t, typename out_t>
bool packs_fit(const void* in, const void* out, int64_t batch_stride, int64_t numel) {
  constexpr int64_t vec = kWideVec<in_t, out_t>;
  static_assert(kWideVec<in_t, out_t> % kSmallVec<in_t, out_t> == 0, "a small pack divides a wide one");
  return reinterpret_cast<uintptr_t>(in) % 16 == 0 && reinterpret_cast<uintptr_t>(out) % 16 == 0 &&
         batch_stride % vec == 0 && numel % vec == 0;
}

// Blocks over the rows of a launch, `chunks` column chunks of `vec` x
// `unroll`-element tiles per block.
int64_t row_blocks_for(int64_t batch, int64_t numel, int vec, int unroll, int chunks) {
  return numel == 0 ? 0 : batch * ceil_div(numel, chunk_elements(vec, unroll) * chunks);
}

// How many 128-thread blocks the current GPU holds at once at full
// occupancy. Cheap driver queries, no sync; a launch-time fact about the
// device, never about the data.
int64_t resident_block_slots() {
  const int device = c10::cuda::current_device();
  int sms = 0, threads_per_sm = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&threads_per_sm, cudaDevAttrMaxThreadsPerMultiProcessor, device));
  return int64_t(sms) * (threads_per_sm / kThreads);
}

// Calls launch(VEC, UNROLL, kNarrow), as std::integral_constants, for the
// launch's tile:
// - the wide tile: kUnroll packs a thread, the widest usable (kWideVec), so
//   that a thread keeps enough bytes in flight on a big launch;
// - the small tile: one 16-byte pack a thread (kSmallVec), for a launch
//   whose wide row blocks would fill less than kSmallTilePercent of the
//   GPU's resident block slots: 128x3x32x32 uint8 -> bf16 then runs 384
//   blocks on an H200's 132 SMs instead of 128 (the dev log, v10);
// - one element a thread where packs do not fit (odd widths, offset views),
//   with 64-bit index math where a row has 2^31 elements or more (8 GiB per
//   fp32 sample): four kernel shapes compiled per dtype pair, not six.
template <typename in_t, typename out_t, typename Launch>
void with_kernel_shape(bool wide, const RowMixPlan& mix, const Launch& launch) {
  using std::integral_constant;
  constexpr int kWide = kWideVec<in_t, out_t>;
  constexpr int kSmall = kSmallVec<in_t, out_t>;
  if (!narrow_rows(mix.geometry)) {
    launch(integral_constant<int, 1>{}, integral_constant<int, kUnroll>{}, integral_constant<bool, false>{});
  } else if (!wide) {
    launch(integral_constant<int, 1>{}, integral_constant<int, kUnroll>{}, integral_constant<bool, true>{});
  } else {
    const RowTile pinned = row_tile();  // row_tile.h: the tests pin either tile
    const bool small = pinned == RowTile::kBySize
                           ? row_blocks_for(mix.batch, mix.geometry.numel, kWide, kUnroll, 1) * 100 <
                                 resident_block_slots() * kSmallTilePercent
                           : pinned == RowTile::kSmall;
    if (small) {
      launch(integral_constant<int, kSmall>{}, integral_constant<int, 1>{}, integral_constant<bool, true>{});
    } else {
      launch(integral_constant<int, kWide>{}, integral_constant<int, kUnroll>{}, integral_constant<bool, true>{});
    }
  }
}

// The column chunks that one forward block mixes: up to kMaxForwardChunks,
// while the launch still fills the GPU twice over with resident blocks, so a
// small batch keeps one chunk a block and every SM busy.
int forward_chunks(int64_t batch, int64_t numel, int vec, int unroll) {
  const int64_t chunks = batch * ceil_div(numel, chunk_elements(vec, unroll));
  return static_cast<int>(std::clamp<int64_t>(chunks / (2 * resident_block_slots()), 1, kMaxForwardChunks));
}

template <typename in_t, typename out_t>
void launch_forward(const ForwardPlan& plan) {
  const RowMixPlan& mix = plan.mix;
  ForwardArgs<in_t, out_t> args{RowMixArgs<acc_type_t<in_t, out_t>>::from(mix)};
  args.x = plan.x_rows.const_data_ptr<in_t>();
  args.out = plan.out.mutable_data_ptr<out_t>();
  args.targets = plan.target_args;
  args.target_blocks = args.targets.empty() ? 0 : ceil_div<int64_t>(mix.batch, kWarpsPerBlock);

  const bool wide = packs_fit<in_t, out_t>(args.x, args.out, args.batch_stride, mix.geometry.numel);
  with_kernel_shape<in_t, out_t>(wide, mix, [&](auto vec, auto unroll, auto narrow) {
    constexpr int VEC = decltype(vec)::value;
    constexpr int UNROLL = decltype(unroll)::value;
    constexpr bool kNarrow = decltype(narrow)::value;
    args.chunks = forward_chunks(mix.batch, mix.geometry.numel, VEC, UNROLL);
    args.row_blocks = row_blocks_for(mix.batch, mix.geometry.numel, VEC, UNROLL, args.chunks);
    const int64_t blocks = args.row_blocks + args.target_blocks;
    if constexpr (std::is_same_v<in_t, out_t>) {
      if (!mix.mean.defined()) {
        cuda::launch("mixup::fused_mix", fused_mix_kernel<in_t, out_t, VEC, UNROLL, false, kNarrow>, blocks, kThreads,
                     args);
        return;
      }
    }
    cuda::launch("mixup::fused_mix", fused_mix_kernel<in_t, out_t, VEC, UNROLL, true, kNarrow>, blocks, kThreads, args);
  });
}

void fill_readers(const BackwardPlan& plan) {
  const RowMixPlan& mix = plan.mix;
  if (mix.batch > kMaxSharedReaders) {
    fill_readers_by_sort(plan);
    return;
  }
  cuda::launch("mixup::_fused_mix_backward", build_readers_kernel, mix.batch == 0 ? 0 : 1, kReaderThreads,
               mix.index.const_data_ptr<int64_t>(), mix.index.stride(0), mix.batch,
               plan.order.mutable_data_ptr<int64_t>(), plan.offsets.mutable_data_ptr<int64_t>());
}

template <typename scalar_t>
void launch_backward(const BackwardPlan& plan) {
  const RowMixPlan& mix = plan.mix;
  BackwardArgs<scalar_t> args{RowMixArgs<acc_type_t<scalar_t, scalar_t>>::from(mix)};
  args.grad = plan.grad_rows.const_data_ptr<scalar_t>();
  args.out = plan.grad_input.mutable_data_ptr<scalar_t>();
  args.order = plan.order.const_data_ptr<int64_t>();
  args.offsets = plan.offsets.const_data_ptr<int64_t>();
  args.scale = static_cast<acc_type_t<scalar_t, scalar_t>>(plan.scale);

  const bool wide = packs_fit<scalar_t, scalar_t>(args.grad, args.out, args.batch_stride, mix.geometry.numel);
  with_kernel_shape<scalar_t, scalar_t>(wide, mix, [&](auto vec, auto unroll, auto narrow) {
    constexpr int VEC = decltype(vec)::value;
    constexpr int UNROLL = decltype(unroll)::value;
    constexpr bool kNarrow = decltype(narrow)::value;
    cuda::launch("mixup::_fused_mix_backward", fused_mix_backward_kernel<scalar_t, VEC, UNROLL, kNarrow>,
                 row_blocks_for(mix.batch, mix.geometry.numel, VEC, UNROLL, 1), kThreads, args);
  });
}

std::tuple<at::Tensor, at::Tensor> fused_mix_cuda(const at::Tensor& x, const std::optional<at::Tensor>& target,
                                                  const at::Tensor& index, const at::Tensor& lam,
                                                  const std::optional<at::Tensor>& box, int64_t num_classes,
                                                  double smoothing, const std::optional<at::Tensor>& mean,
                                                  const std::optional<at::Tensor>& std,
                                                  std::optional<at::ScalarType> out_dtype) {
  const c10::cuda::CUDAGuard guard(x.device());
  const ForwardPlan plan = plan_forward(x, target, index, lam, box, num_classes, smoothing, mean, std, out_dtype);
  dispatch_in_out(x.scalar_type(), plan.out.scalar_type(),
                  [&](auto in, auto out) { launch_forward<decltype(in), decltype(out)>(plan); });
  return {plan.out, plan.out_target};
}

at::Tensor fused_mix_backward_cuda(const at::Tensor& grad, const at::Tensor& index, const at::Tensor& lam,
                                   const std::optional<at::Tensor>& box, double scale,
                                   const std::optional<at::Tensor>& std) {
  const c10::cuda::CUDAGuard guard(grad.device());
  const BackwardPlan plan = plan_backward(grad, index, lam, box, scale, std);
  fill_readers(plan);
  dispatch_data_float(grad.scalar_type(), "mixup::_fused_mix_backward", [&](auto type) {
    using scalar_t = decltype(type);
    launch_backward<scalar_t>(plan);
  });
  return plan.grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CUDA, m) {
  m.impl("fused_mix", &fused_mix_cuda);
  m.impl("_fused_mix_backward", &fused_mix_backward_cuda);
}

}  // namespace mixup

// The device side of mixup::fused_mix's CUDA kernels (cuda/fused_mix_kernel.cu
// has the kernels and their launchers): the block shape, 16-byte packs and
// streaming stores, the box geometry, per-channel normalisation with exact
// division, and the target rows. One file with one job, so that the kernels'
// file reads as the kernels.
#pragma once

#include <ATen/cuda/detail/IntegerDivider.cuh>

#include <climits>
#include <cstdint>
#include <type_traits>

#include "../fused_mix.h"
#include "fused_mix_tuning.h"

namespace mixup::fused_mix_device {

constexpr int kThreads = fused_mix_tuning::kThreads;
constexpr int kUnroll = fused_mix_tuning::kUnroll;  // packs in flight a thread, wide tile
constexpr int kMaxForwardChunks = fused_mix_tuning::kChunks;
constexpr int kUint8Vec = fused_mix_tuning::kUint8Vec;
constexpr int kSmallTilePercent = fused_mix_tuning::kSmallTilePercent;
constexpr bool kTargetsFirst = fused_mix_tuning::kTargetsFirst;
// Blocks per SM that a converting kernel of VEC-element packs is compiled for.
template <int VEC>
constexpr int kConvertBlocksPerSM =
    (VEC >= 16 ? fused_mix_tuning::kWideConvertThreadsPerSm : fused_mix_tuning::kConvertThreadsPerSm) / kThreads;
constexpr int kWarpsPerBlock = kThreads / 32;  // target rows per block
// Readers lists are built by one block with the per-row cursors in shared
// memory up to this batch size; bigger batches use a library sort.
constexpr int kReaderThreads = 512;
constexpr int kReaderWarps = kReaderThreads / 32;
constexpr int64_t kMaxSharedReaders = 8192;

// N elements that one thread moves as a unit. A pack of more than 16 bytes
// (the widest access) is moved as several 16-byte accesses, so it asks for
// 16-byte alignment only.
template <typename T, int N>
struct alignas(sizeof(T) * N < 16 ? sizeof(T) * N : 16) Pack {
  T v[N];
};

// Evict-first stores where the tuning asks for them (fused_mix_tuning.h).
template <typename pack_t>
__device__ inline void store_streaming(pack_t* dst, const pack_t& value) {
  if constexpr (fused_mix_tuning::kStreamingStores && sizeof(pack_t) % 16 == 0) {
#pragma unroll
    for (int i = 0; i < int(sizeof(pack_t) / 16); ++i) {
      __stcs(reinterpret_cast<int4*>(dst) + i, reinterpret_cast<const int4*>(&value)[i]);
    }
  } else {
    *dst = value;
  }
}

// A sample element in the math type. uint8 to float32 by the exponent trick:
// 2^23 + v holds v in its low mantissa bits, so an OR and a subtract (the
// integer and FMA pipes) replace an I2F conversion, which runs on the
// narrower pipe that the division's reciprocal also needs. Exact for 0..255.
template <typename acc_t, typename in_t>
__device__ inline acc_t to_acc(in_t v) {
  if constexpr (std::is_same_v<in_t, uint8_t> && std::is_same_v<acc_t, float>) {
    return __uint_as_float(0x4B000000u | static_cast<uint32_t>(v)) - 8388608.0f;
  } else {
    return static_cast<acc_t>(v);
  }
}

// Element k of a pack in the math type. For uint8 packs of whole words, one
// byte permute builds 2^23 + v straight from the loaded word (byte k % 4,
// two zero bytes, then 0x4B), so each element costs a PRMT and a subtract.
template <typename acc_t, int VEC, typename in_t>
__device__ inline acc_t pack_value(const Pack<in_t, VEC>& p, int k) {
  if constexpr (std::is_same_v<in_t, uint8_t> && std::is_same_v<acc_t, float> && VEC % 4 == 0) {
    const uint32_t word = reinterpret_cast<const uint32_t*>(p.v)[k / 4];
    return __uint_as_float(__byte_perm(word, 0x4B000000u, 0x7440u | static_cast<uint32_t>(k % 4))) - 8388608.0f;
  } else {
    return to_acc<acc_t>(p.v[k]);
  }
}

// i -> (i / d, i % d) for the index arithmetic of the kernels. kNarrow: every
// dividend of the launch is below 2^31 (the launcher checks this once: a row
// of at most 2^31 - 1 elements), and a divide is a multiply-high and a shift.
// Otherwise it is 64-bit division. The width is a template argument, not a
// run-time branch: with the 64-bit routine merely present (behind a branch
// never taken) ptxas gave the uint8 kernels a stack frame and spills, and ncu
// counted 678k local-memory requests per 256x3x224x224 call (DEVLOG.md).
struct Divider {
  at::cuda::detail::IntDivider<uint32_t> narrow;  // used by narrow launches only
  int64_t divisor;

  Divider() = default;
  Divider(int64_t d, bool narrow_launch)
      // d is 0 only for empty rows, where no block ever divides.
      : narrow(narrow_launch && d >= 1 && d <= INT32_MAX ? static_cast<uint32_t>(d) : 1u), divisor(d) {}

  template <bool kNarrow>
  __device__ void divmod(int64_t i, int64_t& q, int64_t& r) const {
    if constexpr (kNarrow) {
      const auto qr = narrow.divmod(static_cast<uint32_t>(i));
      q = qr.div;
      r = qr.mod;
    } else {
      q = i / divisor;
      r = i - q * divisor;
    }
  }
};

// Whether a launch over rows of this geometry may use kNarrow index math:
// every offset in a row, and every quotient of one, is below 2^31.
inline bool narrow_rows(const RowGeometry& g) { return g.numel <= INT32_MAX; }

// Where element e of a row sits in the (line, offset-in-line) grid of
// RowGeometry: h = (e / line) % H and r = e % line.
struct LineMap {
  Divider line, height;
  int64_t line_length;

  LineMap() = default;
  explicit LineMap(const RowGeometry& g)
      : line(g.line(), narrow_rows(g)), height(g.height, narrow_rows(g)), line_length(g.line()) {}

  template <bool kNarrow>
  __device__ void locate(int64_t e, int64_t& h, int64_t& r) const {
    int64_t q, unused;
    line.divmod<kNarrow>(e, q, r);
    height.divmod<kNarrow>(q, unused, h);
  }
};

// A box in (line, offset-in-line) form: lines [y0, y1), offsets [lo, hi).
struct BoxSpan {
  int64_t y0, y1, lo, hi;
  __device__ BoxSpan(const Box& b, const RowGeometry& g)
      : y0(b.y0), y1(b.y1), lo(b.x0 * g.w_stride), hi(b.x1 * g.w_stride) {}
};

// Bit k set <=> element e + k lies inside the box, for the VEC elements of the
// pack starting at row offset e. One division per pack; the per-element walk
// is only needed where a pack straddles two lines (line % VEC != 0).
template <int VEC, bool kNarrow>
__device__ inline uint32_t inside_mask(const LineMap& lines, const BoxSpan& box, int64_t e) {
  int64_t h, r;
  lines.locate<kNarrow>(e, h, r);
  if (r + VEC <= lines.line_length) {
    if (h < box.y0 || h >= box.y1) return 0;
    const int64_t from = min(max(box.lo - r, int64_t(0)), int64_t(VEC));
    const int64_t to = min(max(box.hi - r, int64_t(0)), int64_t(VEC));
    return ((1u << to) - 1u) & ~((1u << from) - 1u);
  }
  const int64_t height = lines.height.divisor;
  uint32_t mask = 0;
#pragma unroll
  for (int k = 0; k < VEC; ++k) {
    if (h >= box.y0 && h < box.y1 && r >= box.lo && r < box.hi) mask |= 1u << k;
    if (++r == lines.line_length) {
      r = 0;
      if (++h == height) h = 0;
    }
  }
  return mask;
}

template <int VEC>
constexpr uint32_t kFullMask = (1u << VEC) - 1u;

// The channel of element e of a row: (e / stride) % channels (ChannelGeometry).
struct ChannelMap {
  Divider stride, channels;

  ChannelMap() = default;
  ChannelMap(const ChannelGeometry& c, const RowGeometry& g)
      : stride(c.stride, narrow_rows(g)), channels(c.channels, narrow_rows(g)) {}
};

// a / s rounded to nearest, from inv = RN(1 / s): q = RN(a * inv) is within
// an ulp of the quotient, and one FMA residual plus one FMA correction make it
// the correctly rounded quotient (Markstein's theorem): three instructions in
// place of the division routine (a reciprocal on the narrow MUFU pipe, its
// refinement, and a slow-path check), which bounded the uint8 kernel. An
// infinite or NaN q (from an infinite or NaN a) is the quotient already.
template <bool kFinite, typename acc_t>
__device__ inline acc_t divide_rn(acc_t a, acc_t s, acc_t inv) {
  const acc_t q = a * inv;
  const acc_t corrected = fma(fma(-q, s, a), inv, q);
  if constexpr (kFinite) return corrected;  // uint8 samples: a is always finite
  return isfinite(q) ? corrected : q;
}

// One channel's normalisation, staged together so that a thread reads it in
// one 16-byte (float) or two (double) shared-memory loads.
template <typename acc_t>
struct alignas(4 * sizeof(acc_t)) ChannelEntry {
  acc_t mean, std, inv_std, unused;
};

// Per-channel values of the normalisation as a kernel reads them: entries the
// block staged in shared memory (see stage_channels), or, past
// kSharedChannels channels or in the backward, mean and std in global memory
// (divide). kFinite: the samples are uint8, so every value is finite.
template <typename acc_t, bool kFinite = false>
struct ChannelValues {
  const acc_t* mean;
  const acc_t* std;
  const ChannelEntry<acc_t>* staged;

  // One channel's values, loaded once for a run of elements. kStaged: from
  // the block's staged entries, divided by Markstein's correction; else from
  // global memory, with the division itself. A compile-time choice, so that
  // the per-element loops carry one kind of division (normalize_pack).
  template <bool kStaged>
  struct One {
    acc_t mean, std, inv_std;
    __device__ acc_t apply(acc_t v) const {
      if constexpr (kStaged) return divide_rn<kFinite>(v - mean, std, inv_std);
      return Normalize<acc_t>::normalized(v, mean, std);
    }
  };
  template <bool kStaged>
  __device__ One<kStaged> channel(int c) const {
    if constexpr (kStaged) {
      const ChannelEntry<acc_t> entry = staged[c];
      return One<kStaged>{entry.mean, entry.std, entry.inv_std};
    } else {
      MIXUP_DEVICE_ASSERT(std[c] != acc_t(0));  // std must be non-zero
      return One<kStaged>{mean[c], std[c], acc_t(0)};
    }
  }
};

// Up to this many channels a block stages mean, std and 1 / std in shared
// memory once (and checks std != 0 there, not per element); more (wide
// feature rows) read them from global memory and divide.
constexpr int kSharedChannels = 64;

template <typename acc_t>
using StagedChannels = ChannelEntry<acc_t>[kSharedChannels];

// Call from every thread of a block (it synchronises the block).
template <bool kFinite, typename acc_t>
__device__ inline ChannelValues<acc_t, kFinite> stage_channels(const Normalize<acc_t>& norm, int64_t channels,
                                                               StagedChannels<acc_t>& staged) {
  if (!norm.active()) return ChannelValues<acc_t, kFinite>{nullptr, nullptr, nullptr};
  if (channels > kSharedChannels) return ChannelValues<acc_t, kFinite>{norm.mean, norm.std, nullptr};
  for (int64_t c = threadIdx.x; c < channels; c += blockDim.x) {
    const acc_t std = norm.std[c];
    MIXUP_DEVICE_ASSERT(std != acc_t(0));  // std must be non-zero
    staged[c] = ChannelEntry<acc_t>{norm.mean[c], std, acc_t(1) / std, acc_t(0)};
  }
  __syncthreads();
  return ChannelValues<acc_t, kFinite>{nullptr, nullptr, staged};
}

// v = (v - mean[c]) / std[c] for the VEC elements of the pack at row offset e.
// One division finds the first element's channel; a pack inside one channel
// plane (NCHW) uses its values throughout; with the channel innermost
// (channels_last: stride 1) it cycles every element; otherwise the walk steps
// the channel where the pack crosses a plane.
template <bool kStaged, int VEC, bool kNarrow, typename acc_t, bool kFinite>
__device__ inline void normalize_pack_from(acc_t (&v)[VEC], const ChannelValues<acc_t, kFinite>& values,
                                           const ChannelMap& map, int64_t e) {
  int64_t plane, r, unused, c;
  map.stride.divmod<kNarrow>(e, plane, r);
  map.channels.divmod<kNarrow>(plane, unused, c);
  const int64_t stride = map.stride.divisor;
  if (r + VEC <= stride) {
    const auto one = values.template channel<kStaged>(static_cast<int>(c));
#pragma unroll
    for (int k = 0; k < VEC; ++k) v[k] = one.apply(v[k]);
    return;
  }
  // Channels fit in int32 (they are a tensor dim), so the walk is 32-bit.
  const int channels = static_cast<int>(map.channels.divisor);
  int channel = static_cast<int>(c);
  if (stride == 1) {
#pragma unroll
    for (int k = 0; k < VEC; ++k) {
      v[k] = values.template channel<kStaged>(channel).apply(v[k]);
      channel = channel + 1 == channels ? 0 : channel + 1;
    }
    return;
  }
#pragma unroll
  for (int k = 0; k < VEC; ++k) {
    v[k] = values.template channel<kStaged>(channel).apply(v[k]);
    if (++r == stride) {
      r = 0;
      channel = channel + 1 == channels ? 0 : channel + 1;
    }
  }
}

// The same, with the staged-or-global choice made once per pack (it is the
// same for the whole launch) rather than once per element.
template <int VEC, bool kNarrow, typename acc_t, bool kFinite>
__device__ inline void normalize_pack(acc_t (&v)[VEC], const ChannelValues<acc_t, kFinite>& values,
                                      const ChannelMap& map, int64_t e) {
  if (values.staged != nullptr) {
    normalize_pack_from<true, VEC, kNarrow>(v, values, map, e);
  } else {
    normalize_pack_from<false, VEC, kNarrow>(v, values, map, e);
  }
}

// What the forward and the backward kernels read a mix of rows by: the
// shared base of their arguments (as causal-conv1d's ConvParamsBwd extends
// ConvParamsBase), filled from the plan's RowMixPlan in one place.
template <typename acc_t>
struct RowMixArgs {
  using acc_type = acc_t;
  int64_t batch_stride;
  RowGeometry geometry;
  LineMap lines;
  Pairing<acc_t> pairing;
  Normalize<acc_t> norm;  // the backward divides by the forward's std (mean 0)
  ChannelMap channels;
  // block id -> (column chunk, row): a launch has at most INT_MAX blocks, so
  // 32 bits always do (cuda::launch refuses more).
  at::cuda::detail::IntDivider<uint32_t> rows;

  static RowMixArgs from(const RowMixPlan& mix) {
    const uint32_t batch = mix.batch >= 1 && mix.batch <= INT32_MAX ? static_cast<uint32_t>(mix.batch) : 1u;
    return {mix.batch_stride,
            mix.geometry,
            LineMap(mix.geometry),
            mix.pairing<acc_t>(),
            mix.normalize<acc_t>(),
            ChannelMap(mix.channels, mix.geometry),
            at::cuda::detail::IntDivider<uint32_t>(batch)};
  }
};

template <typename in_t, typename out_t>
struct ForwardArgs : RowMixArgs<acc_type_t<in_t, out_t>> {
  const in_t* x;
  out_t* out;
  int64_t row_blocks;     // blocks that mix x
  int64_t target_blocks;  // blocks that mix the targets (before or after them: kTargetsFirst)
  int chunks;             // column chunks per x block
  TargetArgs targets;
};

template <typename scalar_t>
struct BackwardArgs : RowMixArgs<acc_type_t<scalar_t, scalar_t>> {
  const scalar_t* grad;
  scalar_t* out;
  const int64_t* order;  // the readers of row j: order[offsets[j] : offsets[j + 1]]
  const int64_t* offsets;
  typename RowMixArgs<acc_type_t<scalar_t, scalar_t>>::acc_type scale;
};

// Elements of one column chunk: UNROLL packs of VEC per thread.
constexpr int64_t chunk_elements(int vec, int unroll) { return int64_t(kThreads) * vec * unroll; }

// Splits a row block's id into (row, first element of this thread's first
// pack), for blocks of `chunks` column chunks each. Rows vary fastest across
// blocks (see fused_mix_kernel.cu).
template <int VEC, int UNROLL, typename acc_t>
__device__ inline void locate_block(const RowMixArgs<acc_t>& args, uint32_t block, int chunks, int64_t& row,
                                    int64_t& first) {
  const auto chunk_row = args.rows.divmod(block);
  row = chunk_row.mod;
  first = int64_t(chunk_row.div) * chunk_elements(VEC, UNROLL) * chunks + int64_t(threadIdx.x) * VEC;
}

template <int VEC>
__device__ inline int64_t pack_offset(int64_t first, int u) {
  return first + int64_t(u) * kThreads * VEC;
}

// The per-pack box masks of this thread (all zero for an unboxed row).
template <int VEC, bool kNarrow, int UNROLL>
__device__ inline void box_masks(uint32_t (&mask)[UNROLL], const Box& box, const RowGeometry& g, const LineMap& lines,
                                 int64_t first) {
  const BoxSpan span(box, g);
#pragma unroll
  for (int u = 0; u < UNROLL; ++u) {
    const int64_t e = pack_offset<VEC>(first, u);
    mask[u] = e < g.numel ? inside_mask<VEC, kNarrow>(lines, span, e) : 0u;
  }
}

// The targets: one warp per row, so the row's partner, weight and labels are
// loaded once and the lanes write consecutive classes. With class ids every
// class but (at most) two has the same value; those three values come from
// the shared per-element formula, so the bits equal the CPU's.
template <typename Args>
__device__ inline void mix_target_row(const Args& args, int64_t block) {
  const TargetArgs& t = args.targets;
  const int64_t row = block * kWarpsPerBlock + threadIdx.x / 32;
  if (row >= args.pairing.batch) return;
  const int lane = threadIdx.x % 32;
  const int64_t classes = t.num_classes;
  const int64_t base = row * classes;
  if (t.labels == nullptr) {
    for (int64_t c = lane; c < classes; c += 32) mix_target_element(t, args.pairing, row, c, base + c);
    return;
  }
  const int64_t partner = args.pairing.partner(row);
  const float lam = static_cast<float>(args.pairing.weight(row));  // class ids mix into float32
  const int64_t label = t.labels[row * t.label_stride];
  const int64_t partner_label = t.labels[partner * t.label_stride];
  const float elsewhere = mixed_target_value<float>(t, lam, row, partner, -1);
  const float at_label = mixed_target_value<float>(t, lam, row, partner, label);
  const float at_partner_label = mixed_target_value<float>(t, lam, row, partner, partner_label);
  float* out = static_cast<float*>(t.out) + base;
  for (int64_t c = lane; c < classes; c += 32) {
    out[c] = c == label ? at_label : (c == partner_label ? at_partner_label : elsewhere);
  }
}

}  // namespace mixup::fused_mix_device

// CPU kernels of mixup::fused_mix and mixup::_fused_mix_backward.
//
// Work is split into (row, chunk) items for at::parallel_for. Inside an item a
// CutMix box cuts the chunk into a few contiguous runs (inside or outside the
// box), so the inner loops are plain streams the compiler vectorises: a blend,
// or a copy, never a per-element coordinate computation.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "../dtypes.h"
#include "../fused_mix.h"

namespace mixup {
namespace {

// Elements one work item covers: large enough to amortise the item's set-up,
// small enough to balance rows of different cost (boxed rows only copy).
constexpr int64_t kChunk = 16384;
// Below this many elements in total a parallel region costs more than it saves.
constexpr int64_t kElementsPerTask = 65536;

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Calls f(begin, end, inside) for consecutive runs of [begin, end) of one row,
// each run wholly inside or wholly outside `box` (see RowGeometry).
template <typename F>
void for_each_box_run(const RowGeometry& g, const Box& box, int64_t begin, int64_t end, F&& f) {
  if (box.empty()) {
    f(begin, end, false);
    return;
  }
  const int64_t line = g.line();
  const int64_t in_lo = box.x0 * g.w_stride;
  const int64_t in_hi = box.x1 * g.w_stride;
  for (int64_t pos = begin; pos < end;) {
    const int64_t line_index = pos / line;
    const int64_t line_start = line_index * line;
    const int64_t line_end = std::min(end, line_start + line);
    const int64_t h = line_index % g.height;
    if (h < box.y0 || h >= box.y1) {
      f(pos, line_end, false);
    } else {
      const int64_t a = std::clamp(line_start + in_lo, pos, line_end);
      const int64_t b = std::clamp(line_start + in_hi, pos, line_end);
      if (pos < a) f(pos, a, false);
      if (a < b) f(a, b, true);
      if (b < line_end) f(b, line_end, false);
    }
    pos = line_end;
  }
}

// Runs body(row, begin, end) over every (row, chunk) item of `batch` rows of
// `numel` elements, in parallel. Items are chunk-major (the row varies
// fastest), as on the GPU: one chunk column of a batch is a few MB, so when a
// row reads its partner's chunk, that chunk was read as someone's own chunk
// moments ago and comes from cache, not memory.
template <typename Body>
void parallel_over_row_chunks(int64_t batch, int64_t numel, const Body& body) {
  if (batch == 0 || numel == 0) return;
  const int64_t chunk = std::min(numel, kChunk);
  const int64_t chunks_per_row = ceil_div(numel, chunk);
  const int64_t grain = std::max<int64_t>(1, kElementsPerTask / chunk);
  at::parallel_for(0, batch * chunks_per_row, grain, [&](int64_t first, int64_t last) {
    for (int64_t item = first; item < last; ++item) {
      const int64_t row = item % batch;
      const int64_t begin = (item / batch) * chunk;
      body(row, begin, std::min(numel, begin + chunk));
    }
  });
}

template <typename scalar_t, typename acc_t>
void blend_run(scalar_t* __restrict__ out, const scalar_t* __restrict__ own, const scalar_t* __restrict__ partner,
               acc_t lam, int64_t begin, int64_t end) {
  for (int64_t k = begin; k < end; ++k) {
    out[k] = static_cast<scalar_t>(blend(lam, static_cast<acc_t>(own[k]), static_cast<acc_t>(partner[k])));
  }
}

// A value rounded to the output type. bfloat16 rounds as c10::BFloat16 does
// (to nearest even, NaN to 0x7FC0) but without its branch, so that the loops
// around it vectorise.
template <typename out_t, typename acc_t>
inline out_t round_to(acc_t v) {
  if constexpr (std::is_same_v<out_t, c10::BFloat16> && std::is_same_v<acc_t, float>) {
    uint32_t u;
    std::memcpy(&u, &v, sizeof(u));
    const uint32_t nearest_even = (u + 0x7FFFu + ((u >> 16) & 1u)) >> 16;
    const uint16_t bits = (u & 0x7FFFFFFFu) > 0x7F800000u ? uint16_t{0x7FC0} : static_cast<uint16_t>(nearest_even);
    return c10::BFloat16(bits, c10::BFloat16::from_bits());
  } else {
    return static_cast<out_t>(v);
  }
}

// dst[k] = round((value(k) - mean[k]) / std[k]) for k in [lo, hi): one stream,
// no scratch row. kPerElement: mean and std are tables indexed like dst;
// otherwise mean[0] and std[0] hold the run's one channel. The __restrict__
// on dst matters: uint8 sources may alias anything, and without it the
// compiler would not vectorise the loop.
template <bool kPerElement, typename out_t, typename acc_t, typename Value>
inline void normalize_run(out_t* __restrict__ dst, const acc_t* __restrict__ mean, const acc_t* __restrict__ std,
                          int64_t lo, int64_t hi, const Value& value) {
  const acc_t run_mean = mean[kPerElement ? lo : 0];
  const acc_t run_std = std[kPerElement ? lo : 0];
  for (int64_t k = lo; k < hi; ++k) {
    const acc_t m = kPerElement ? mean[k] : run_mean;
    const acc_t s = kPerElement ? std[k] : run_std;
    dst[k] = round_to<out_t>(Normalize<acc_t>::normalized(value(k), m, s));
  }
}

template <typename out_t, typename Value>
inline void convert_run(out_t* __restrict__ dst, int64_t lo, int64_t hi, const Value& value) {
  for (int64_t k = lo; k < hi; ++k) dst[k] = round_to<out_t>(value(k));
}

// Writes a run of the output, normalised per channel: (v - mean[c]) / std[c].
// Where the channel is the outermost dim of a row (NCHW: a channel is a run
// of H * W elements) a run splits into a few runs of one channel each.
// Where it is the innermost (channels_last, (B, C) rows) the channel changes
// every element, so the loop reads mean and std from tables that repeat them
// along a whole chunk, starting at the chunk's phase.
template <typename acc_t>
class ChannelNormalizer {
 public:
  ChannelNormalizer(const Normalize<acc_t>& norm, const ChannelGeometry& channels, int64_t chunk)
      : norm_(norm), channels_(channels) {
    if (!norm.active() || channels.stride != 1) return;
    const int64_t length = chunk + channels.channels;
    mean_table_.resize(static_cast<size_t>(length));
    std_table_.resize(static_cast<size_t>(length));
    for (int64_t k = 0; k < length; ++k) {
      mean_table_[k] = norm.mean[k % channels.channels];
      std_table_[k] = norm.std[k % channels.channels];
    }
  }

  // dst[k] = round((value(k) - mean[c]) / std[c]) for k in [lo, hi), a run of
  // the chunk that starts at `chunk_begin` (the tables' phase).
  template <typename out_t, typename Value>
  void store(out_t* dst, int64_t chunk_begin, int64_t lo, int64_t hi, const Value& value) const {
    if (!norm_.active()) {
      convert_run(dst, lo, hi, value);
      return;
    }
    if (channels_.stride == 1) {
      // table slot of element k: k + phase
      const int64_t phase = chunk_begin % channels_.channels - chunk_begin;
      normalize_run<true>(dst, mean_table_.data() + phase, std_table_.data() + phase, lo, hi, value);
      return;
    }
    while (lo < hi) {
      const int64_t plane = lo / channels_.stride;
      const int64_t plane_end = std::min(hi, (plane + 1) * channels_.stride);
      const int64_t c = plane % channels_.channels;
      normalize_run<false>(dst, norm_.mean + c, norm_.std + c, lo, plane_end, value);
      lo = plane_end;
    }
  }

 private:
  Normalize<acc_t> norm_;
  ChannelGeometry channels_;
  std::vector<acc_t> mean_table_, std_table_;
};

// A per-thread scratch row of the accumulation type, indexed like the rows.
template <typename acc_t>
acc_t* scratch(int64_t begin, int64_t end) {
  thread_local std::vector<acc_t> buffer;
  buffer.resize(static_cast<size_t>(end - begin));
  return buffer.data() - begin;
}

// Every row chunk of a forward, in parallel, cut into what each output
// element reads: a blended row calls blend_chunk(dst, own, partner, lam,
// begin, end); a boxed row calls copy_run(dst, src, begin, lo, hi) for each
// run, src being the partner's row inside the box and the row's own outside.
template <typename in_t, typename out_t, typename acc_t, typename BlendChunk, typename CopyRun>
void for_each_mixed_run(const ForwardPlan& plan, const Pairing<acc_t>& pairing, const BlendChunk& blend_chunk,
                        const CopyRun& copy_run) {
  const RowMixPlan& mix = plan.mix;
  const RowGeometry g = mix.geometry;
  const in_t* x = plan.x_rows.const_data_ptr<in_t>();
  out_t* out = plan.out.mutable_data_ptr<out_t>();
  parallel_over_row_chunks(mix.batch, g.numel, [&](int64_t row, int64_t begin, int64_t end) {
    const in_t* own = x + row * mix.batch_stride;
    const in_t* partner = x + pairing.partner(row) * mix.batch_stride;
    out_t* dst = out + row * g.numel;
    const Box box = pairing.box_of(row, g);
    if (box.blends()) {
      blend_chunk(dst, own, partner, pairing.weight(row), begin, end);
      return;
    }
    for_each_box_run(g, box, begin, end, [&](int64_t lo, int64_t hi, bool inside) {
      copy_run(dst, inside ? partner : own, begin, lo, hi);
    });
  });
}

// Same dtype in and out, no normalisation: blends, and pastes by plain copies,
// so every pasted element is bit-exact (NaN included).
template <typename scalar_t>
void mix_rows_same_dtype(const ForwardPlan& plan) {
  using acc_t = acc_type_t<scalar_t, scalar_t>;
  for_each_mixed_run<scalar_t, scalar_t>(
      plan, plan.mix.pairing<acc_t>(),
      [](scalar_t* dst, const scalar_t* own, const scalar_t* partner, acc_t lam, int64_t begin, int64_t end) {
        blend_run(dst, own, partner, lam, begin, end);
      },
      [](scalar_t* dst, const scalar_t* src, int64_t, int64_t lo, int64_t hi) {
        std::copy(src + lo, src + hi, dst + lo);
      });
}

// Any other pair (uint8 in, a different float out, or a normalised output):
// each run is mixed in float32 (float64), normalised and rounded once, in
// one loop.
template <typename in_t, typename out_t>
void mix_rows_converting(const ForwardPlan& plan) {
  using acc_t = acc_type_t<in_t, out_t>;
  const RowMixPlan& mix = plan.mix;
  const ChannelNormalizer<acc_t> normalizer(mix.normalize<acc_t>(), mix.channels, std::min(mix.geometry.numel, kChunk));
  for_each_mixed_run<in_t, out_t>(
      plan, mix.pairing<acc_t>(),
      [&](out_t* dst, const in_t* own, const in_t* partner, acc_t lam, int64_t begin, int64_t end) {
        normalizer.store(dst, begin, begin, end, [own, partner, lam](int64_t k) {
          return blend(lam, static_cast<acc_t>(own[k]), static_cast<acc_t>(partner[k]));
        });
      },
      [&](out_t* dst, const in_t* src, int64_t begin, int64_t lo, int64_t hi) {
        normalizer.store(dst, begin, lo, hi, [src](int64_t k) { return static_cast<acc_t>(src[k]); });
      });
}

template <typename in_t, typename out_t>
void mix_rows(const ForwardPlan& plan) {
  if constexpr (std::is_same_v<in_t, out_t>) {
    if (!plan.mix.mean.defined()) {
      mix_rows_same_dtype<in_t>(plan);
      return;
    }
  }
  mix_rows_converting<in_t, out_t>(plan);
}

// One row of the mixed target. With class ids every class but (at most) two
// has the same value, so it is computed once and filled -- the same formula
// as every other element, hence the same bits as the per-element CUDA path.
template <typename acc_t>
void mix_target_row(const TargetArgs& t, acc_t lam, int64_t row, int64_t partner) {
  const int64_t classes = t.num_classes;
  const int64_t base = row * classes;
  if (t.labels != nullptr) {
    float* out = static_cast<float*>(t.out) + base;  // class ids mix into float32
    std::fill(out, out + classes, static_cast<float>(mixed_target_value<acc_t>(t, lam, row, partner, -1)));
    for (const int64_t c : {t.labels[row * t.label_stride], t.labels[partner * t.label_stride]}) {
      out[c] = static_cast<float>(mixed_target_value<acc_t>(t, lam, row, partner, c));
    }
    return;
  }
  for (int64_t c = 0; c < classes; ++c) {
    store_as<acc_t>(t.out, t.out_dtype, base + c, mixed_target_value<acc_t>(t, lam, row, partner, c));
  }
}

template <typename lam_t>
void mix_targets(const ForwardPlan& plan) {
  const TargetArgs t = plan.target_args;
  if (t.empty()) return;
  const Pairing<lam_t> pairing = plan.mix.pairing<lam_t>();
  const int64_t grain = std::max<int64_t>(1, kElementsPerTask / t.num_classes);
  at::parallel_for(0, pairing.batch, grain, [&](int64_t first, int64_t last) {
    for (int64_t row = first; row < last; ++row) {
      const int64_t partner = pairing.partner(row);
      if (t.out_dtype == at::kDouble) {
        mix_target_row<double>(t, static_cast<double>(pairing.weight(row)), row, partner);
      } else {
        mix_target_row<float>(t, static_cast<float>(pairing.weight(row)), row, partner);
      }
    }
  });
}

// grad_input[j] = scale * (own_j * grad[j] + sum over i with index[i] == j of partner_i * grad[i]),
// where (own, partner) = (lam, 1 - lam) for a blended row, and (outside box, inside box) as
// 0/1 masks for a boxed row.
template <typename scalar_t>
void unmix_rows(const BackwardPlan& plan) {
  using acc_t = acc_type_t<scalar_t, scalar_t>;
  const RowMixPlan& mix = plan.mix;
  const RowGeometry g = mix.geometry;
  const Pairing<acc_t> pairing = mix.pairing<acc_t>();
  const scalar_t* grad = plan.grad_rows.const_data_ptr<scalar_t>();
  scalar_t* out = plan.grad_input.mutable_data_ptr<scalar_t>();
  const int64_t* order = plan.order.const_data_ptr<int64_t>();
  const int64_t* offsets = plan.offsets.const_data_ptr<int64_t>();
  const acc_t scale = static_cast<acc_t>(plan.scale);

  // grad / std[c]: the adjoint of a normalised output (mean 0 in the backward's plan).
  const ChannelNormalizer<acc_t> normalizer(mix.normalize<acc_t>(), mix.channels, std::min(g.numel, kChunk));

  parallel_over_row_chunks(mix.batch, g.numel, [&](int64_t row, int64_t begin, int64_t end) {
    acc_t* acc = scratch<acc_t>(begin, end);

    const scalar_t* own = grad + row * mix.batch_stride;
    const Box own_box = pairing.box_of(row, g);
    if (own_box.blends()) {
      const acc_t lam = pairing.weight(row);
      for (int64_t k = begin; k < end; ++k) acc[k] = lam * static_cast<acc_t>(own[k]);
    } else {
      for_each_box_run(g, own_box, begin, end, [&](int64_t lo, int64_t hi, bool inside) {
        for (int64_t k = lo; k < hi; ++k) acc[k] = inside ? acc_t(0) : static_cast<acc_t>(own[k]);
      });
    }

    for (int64_t t = offsets[row]; t < offsets[row + 1]; ++t) {
      const int64_t reader = order[t];
      const scalar_t* src = grad + reader * mix.batch_stride;
      const Box box = pairing.box_of(reader, g);
      if (box.blends()) {
        const acc_t w = acc_t(1) - pairing.weight(reader);
        for (int64_t k = begin; k < end; ++k) acc[k] += w * static_cast<acc_t>(src[k]);
      } else {
        for_each_box_run(g, box, begin, end, [&](int64_t lo, int64_t hi, bool inside) {
          if (!inside) return;
          for (int64_t k = lo; k < hi; ++k) acc[k] += static_cast<acc_t>(src[k]);
        });
      }
    }

    normalizer.store(out + row * g.numel, begin, begin, end, [acc, scale](int64_t k) { return scale * acc[k]; });
  });
}

// The readers of every row (see BackwardPlan) by a stable counting sort:
// count, prefix-sum, then place the rows in increasing order. O(B), and the
// values were checked on the host first, so every index is in range.
void fill_readers(const BackwardPlan& plan) {
  const int64_t batch = plan.mix.batch;
  const auto index = plan.mix.index.accessor<int64_t, 1>();
  int64_t* order = plan.order.mutable_data_ptr<int64_t>();
  int64_t* offsets = plan.offsets.mutable_data_ptr<int64_t>();
  std::fill(offsets, offsets + batch + 1, 0);
  for (int64_t i = 0; i < batch; ++i) ++offsets[index[i] + 1];
  for (int64_t j = 0; j < batch; ++j) offsets[j + 1] += offsets[j];
  std::vector<int64_t> cursor(offsets, offsets + batch);
  for (int64_t i = 0; i < batch; ++i) order[cursor[index[i]]++] = i;
}

std::tuple<at::Tensor, at::Tensor> fused_mix_cpu(const at::Tensor& x, const std::optional<at::Tensor>& target,
                                                 const at::Tensor& index, const at::Tensor& lam,
                                                 const std::optional<at::Tensor>& box, int64_t num_classes,
                                                 double smoothing, const std::optional<at::Tensor>& mean,
                                                 const std::optional<at::Tensor>& std,
                                                 std::optional<at::ScalarType> out_dtype) {
  const ForwardPlan plan = plan_forward(x, target, index, lam, box, num_classes, smoothing, mean, std, out_dtype);
  dispatch_in_out(x.scalar_type(), plan.out.scalar_type(), [&](auto in, auto out) {
    using in_t = decltype(in);
    using out_t = decltype(out);
    mix_rows<in_t, out_t>(plan);
    mix_targets<acc_type_t<in_t, out_t>>(plan);
  });
  return {plan.out, plan.out_target};
}

at::Tensor fused_mix_backward_cpu(const at::Tensor& grad, const at::Tensor& index, const at::Tensor& lam,
                                  const std::optional<at::Tensor>& box, double scale,
                                  const std::optional<at::Tensor>& std) {
  const BackwardPlan plan = plan_backward(grad, index, lam, box, scale, std);
  fill_readers(plan);
  dispatch_data_float(grad.scalar_type(), "mixup::_fused_mix_backward", [&](auto type) {
    using scalar_t = decltype(type);
    unmix_rows<scalar_t>(plan);
  });
  return plan.grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CPU, m) {
  m.impl("fused_mix", &fused_mix_cpu);
  m.impl("_fused_mix_backward", &fused_mix_backward_cpu);
}

}  // namespace mixup

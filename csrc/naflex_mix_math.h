// Per-row semantics of mixup::naflex_mix, shared by the CPU and CUDA kernels:
// which row of which image a work unit is, and what each element of it
// becomes. Everything here is C10_HOST_DEVICE, so that both backends compute
// the same function; they differ only in how they spread the units (a
// parallel loop of units on the CPU, a warp per unit on the GPU).
#pragma once

#include <c10/macros/Macros.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "fused_mix_math.h"  // MIXUP_DEVICE_ASSERT, Box::kNoBox

namespace mixup {

// One image of the list as the kernels read and write it, (C, H, W) with any
// strides, and the rows of it that its pair's central overlap covers
// (overlap_height 0 for an image in no pair).
struct NaFlexImage {
  const void* in;
  void* out;  // == in for the in-place op
  int64_t channels, height, width;
  int64_t in_stride[3];  // channel, row, column
  int64_t out_stride[3];
  int64_t overlap_top, overlap_height, overlap_left, overlap_width;

  // Rows of one channel that no overlap covers: the copy units of this image.
  C10_HOST_DEVICE int64_t copy_rows() const { return height - overlap_height; }
  // The copy unit u in [0, channels * copy_rows()) as (channel, row).
  C10_HOST_DEVICE void copy_row(int64_t u, int64_t& c, int64_t& h) const {
    const int64_t rows = copy_rows();
    c = u / rows;
    const int64_t r = u - c * rows;
    h = r < overlap_top ? r : r + overlap_height;
  }
};

// One pair (i, j): the central overlap of the two images (each image's
// NaFlexImage holds where it sits in that image), and what happens in it: a
// blend with weight lam, or a paste. A paste is a box of box_height x
// box_width in overlap coordinates, with one corner per side: side 0 is where
// out_i takes x_j, side 1 where out_j takes x_i. box_height == Box::kNoBox
// marks a blend.
struct NaFlexPair {
  int64_t image[2];
  int64_t height, width;  // of the overlap
  int64_t box_height, box_width;
  int64_t box_top[2], box_left[2];
  double lam;

  C10_HOST_DEVICE bool blends() const { return box_height == Box::kNoBox; }
  // Whether side s takes its partner's element at overlap row r, column q.
  C10_HOST_DEVICE bool pasted(int s, int64_t r, int64_t q) const {
    return r >= box_top[s] && r < box_top[s] + box_height && q >= box_left[s] && q < box_left[s] + box_width;
  }
};

// The work units of a call, one row of one channel each: first every pair's
// overlap rows (both images' row r, channel c, in one unit), then every
// image's rows outside its overlap (copies; none in place). starts has one
// entry per pair, then one per image, then the total:
// unit u belongs to the last entry k with starts[k] <= u.
C10_HOST_DEVICE inline int64_t owner_of_unit(const int64_t* starts, int64_t entries, int64_t u) {
  int64_t lo = 0, hi = entries;  // starts[lo] <= u < starts[hi]
  while (hi - lo > 1) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (starts[mid] <= u) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return lo;
}

// The math type of a pair's arithmetic: the mix's (dtypes.h).
template <typename scalar_t>
using naflex_acc_t = acc_type_t<scalar_t>;

// The blend weights in the math type: lam, and 1 - lam taken in double
// first, as timm's `mul(lam).add_(other, alpha=1 - lam)` takes its Python
// floats.
template <typename acc_t>
struct NaFlexWeights {
  acc_t own, partner;
  C10_HOST_DEVICE explicit NaFlexWeights(double lam)
      : own(static_cast<acc_t>(lam)), partner(static_cast<acc_t>(1.0 - lam)) {}
};

// a * b and a + b, each rounded, never contracted into one fused
// multiply-add: nvcc fuses a * b + c by default and the host build does
// not (and a library fma on a CPU without one costs a call per element), so
// the two backends and the reference would drift by an ulp otherwise.
template <typename acc_t>
C10_HOST_DEVICE inline acc_t mul_rn(acc_t a, acc_t b) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<acc_t, double>)
    return __dmul_rn(a, b);
  else
    return __fmul_rn(a, b);
#else
  return a * b;
#endif
}
template <typename acc_t>
C10_HOST_DEVICE inline acc_t add_rn(acc_t a, acc_t b) {
#if defined(__CUDA_ARCH__)
  if constexpr (std::is_same_v<acc_t, double>)
    return __dadd_rn(a, b);
  else
    return __fadd_rn(a, b);
#else
  return a + b;
#endif
}

// own * lam + partner * (1 - lam), each product and the sum rounded in the
// math type, then rounded to the image dtype. uint8 rounds to nearest, ties
// to even (timm truncates): adding and subtracting 1.5 * 2^23 leaves the
// integer nearest a float32 below 2^22, in two additions rather than a
// library call on CPUs without a rounding instruction.
template <typename scalar_t>
C10_HOST_DEVICE inline scalar_t naflex_blend(const NaFlexWeights<naflex_acc_t<scalar_t>>& weights, scalar_t own,
                                             scalar_t partner) {
  using acc_t = naflex_acc_t<scalar_t>;
  const acc_t v =
      add_rn(mul_rn(static_cast<acc_t>(own), weights.own), mul_rn(static_cast<acc_t>(partner), weights.partner));
  if constexpr (std::is_same_v<scalar_t, uint8_t>) {
    constexpr float kRound = 12582912.0f;  // 1.5 * 2^23
    // A convex combination of two bytes: within [0, 255] before rounding.
    return static_cast<uint8_t>(add_rn(add_rn(v, kRound), -kRound));
  } else {
    return static_cast<scalar_t>(v);
  }
}

// What a kernel reads of a plan: its arrays, in host or device memory.
struct NaFlexUnits {
  const NaFlexImage* images;
  const NaFlexPair* pairs;
  const int64_t* starts;  // see owner_of_unit
  int64_t pair_count;
  int64_t entries;  // pairs + images
  bool in_place;
};

// Element q (of a run walked as first, first + step, ...) of a row, and the
// row itself: channel c, line h of an image, in and out. kDense: every
// image's column stride is 1 (the common case), so the CPU loops vectorise.
template <typename scalar_t, bool kDense>
struct NaFlexRow {
  const scalar_t* in;
  scalar_t* out;
  int64_t in_step, out_step;

  C10_HOST_DEVICE NaFlexRow(const NaFlexImage& img, int64_t c, int64_t h, int64_t column)
      : in(static_cast<const scalar_t*>(img.in) + c * img.in_stride[0] + h * img.in_stride[1] +
           column * img.in_stride[2]),
        out(static_cast<scalar_t*>(img.out) + c * img.out_stride[0] + h * img.out_stride[1] +
            column * img.out_stride[2]),
        in_step(kDense ? 1 : img.in_stride[2]),
        out_step(kDense ? 1 : img.out_stride[2]) {}
  C10_HOST_DEVICE scalar_t load(int64_t q) const { return in[q * (kDense ? 1 : in_step)]; }
  C10_HOST_DEVICE void store(int64_t q, scalar_t v) const { out[q * (kDense ? 1 : out_step)] = v; }
};

// Copies columns [from, to) of a row from in to out.
template <typename scalar_t, bool kDense>
C10_HOST_DEVICE inline void copy_columns(const NaFlexImage& img, int64_t c, int64_t h, int64_t from, int64_t to,
                                         int64_t first, int64_t step) {
  const NaFlexRow<scalar_t, kDense> row(img, c, h, from);
  for (int64_t q = first; q < to - from; q += step) row.store(q, row.load(q));
}

// Copies a row's columns left and right of its overlap.
template <typename scalar_t, bool kDense>
C10_HOST_DEVICE inline void copy_outside_overlap(const NaFlexImage& img, int64_t c, int64_t h, int64_t first,
                                                 int64_t step) {
  copy_columns<scalar_t, kDense>(img, c, h, 0, img.overlap_left, first, step);
  copy_columns<scalar_t, kDense>(img, c, h, img.overlap_left + img.overlap_width, img.width, first, step);
}

// One pair unit: row r of the overlap, channel c, of both images, both
// outputs written from one read of each input element (so the in-place op
// is safe: an element is read before either output is written). Outside the
// overlap's columns the rows are copied, unless in place.
template <typename scalar_t, bool kDense>
C10_HOST_DEVICE inline void mix_pair_row(const NaFlexUnits& units, const NaFlexPair& pair, int64_t c, int64_t r,
                                         int64_t first, int64_t step) {
  const NaFlexImage& image_i = units.images[pair.image[0]];
  const NaFlexImage& image_j = units.images[pair.image[1]];
  const int64_t h_i = image_i.overlap_top + r, h_j = image_j.overlap_top + r;
  const NaFlexRow<scalar_t, kDense> row_i(image_i, c, h_i, image_i.overlap_left);
  const NaFlexRow<scalar_t, kDense> row_j(image_j, c, h_j, image_j.overlap_left);
  if (pair.blends()) {
    const NaFlexWeights<naflex_acc_t<scalar_t>> weights(pair.lam);
    for (int64_t q = first; q < pair.width; q += step) {
      const scalar_t x_i = row_i.load(q), x_j = row_j.load(q);
      row_i.store(q, naflex_blend(weights, x_i, x_j));
      row_j.store(q, naflex_blend(weights, x_j, x_i));
    }
  } else {
    // The box's columns on this row, per side (empty off the box's rows).
    int64_t lo[2], hi[2];
    for (int s = 0; s < 2; ++s) {
      const bool on_row = r >= pair.box_top[s] && r < pair.box_top[s] + pair.box_height;
      lo[s] = pair.box_left[s];
      hi[s] = on_row ? pair.box_left[s] + pair.box_width : pair.box_left[s];
    }
    for (int64_t q = first; q < pair.width; q += step) {
      const scalar_t x_i = row_i.load(q), x_j = row_j.load(q);
      const bool into_i = q >= lo[0] && q < hi[0], into_j = q >= lo[1] && q < hi[1];
      if (!units.in_place || into_i) row_i.store(q, into_i ? x_j : x_i);
      if (!units.in_place || into_j) row_j.store(q, into_j ? x_i : x_j);
    }
  }
  if (units.in_place) return;
  copy_outside_overlap<scalar_t, kDense>(image_i, c, h_i, first, step);
  copy_outside_overlap<scalar_t, kDense>(image_j, c, h_j, first, step);
}

// Work unit u, its columns first, first + step, ...: the CPU walks a unit
// with (0, 1), a CUDA warp with (lane, 32).
template <typename scalar_t, bool kDense>
C10_HOST_DEVICE inline void run_naflex_unit(const NaFlexUnits& units, int64_t u, int64_t first, int64_t step) {
  const int64_t k = owner_of_unit(units.starts, units.entries, u);
  const int64_t local = u - units.starts[k];
  if (k < units.pair_count) {
    const NaFlexPair& pair = units.pairs[k];
    const int64_t c = local / pair.height;
    mix_pair_row<scalar_t, kDense>(units, pair, c, local - c * pair.height, first, step);
    return;
  }
  const NaFlexImage& img = units.images[k - units.pair_count];
  int64_t c, h;
  img.copy_row(local, c, h);
  copy_columns<scalar_t, kDense>(img, c, h, 0, img.width, first, step);
}

}  // namespace mixup

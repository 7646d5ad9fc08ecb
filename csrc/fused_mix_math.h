// Per-element semantics of mixup::fused_mix, shared by the CPU and CUDA kernels.
//
// Everything here is C10_HOST_DEVICE so that both backends compute exactly the
// same function; the backends differ only in how they walk memory (runs of
// contiguous elements on the CPU, 16-byte vectors on the GPU).
#pragma once

#include <c10/core/ScalarType.h>
#include <c10/macros/Macros.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>
#include <type_traits>

#include "dtypes.h"  // acc_type_t: the math type of a mix

// Value checks that would need a host sync on the GPU become device-side
// asserts there, as in PyTorch's own index ops. The host path validates the
// values before any kernel runs, so on the host this expands to nothing.
#if defined(__CUDA_ARCH__)
#define MIXUP_DEVICE_ASSERT(cond) CUDA_KERNEL_ASSERT(cond)
#else
#define MIXUP_DEVICE_ASSERT(cond) ((void)0)
#endif

namespace mixup {

// A CutMix box: rows [y0, y1) and columns [x0, x1) of the last two dims, or
// the row [-1, -1, -1, -1] (kNoBox): no box, the sample is blended.
//
// A box is always a paste, never a blend: an empty box pastes nothing and the
// sample is copied whole. Blend rows must say so with kNoBox rather than with
// an empty box, because a CutMix draw can be empty too (a side that rounds to
// zero), and timm then keeps the image and weights the labels by the
// uncorrected lam -- a blend with that lam would leak the partner into x.
struct Box {
  static constexpr int64_t kNoBox = -1;
  int64_t y0, y1, x0, x1;

  C10_HOST_DEVICE bool blends() const { return y0 == kNoBox; }
  C10_HOST_DEVICE bool empty() const { return y0 >= y1 || x0 >= x1; }
  C10_HOST_DEVICE bool contains(int64_t h, int64_t w) const { return h >= y0 && h < y1 && w >= x0 && w < x1; }
};

// Where a sample's elements sit in memory. Every layout we produce
// (contiguous, channels_last, channels_last_3d) stores one sample densely with
// W elements of stride `w_stride`, and H "lines" of W * w_stride elements, so
// element e of a row has
//   h = (e / line) % H,   w = (e % line) / w_stride,   line = W * w_stride.
struct RowGeometry {
  int64_t numel;     // elements per sample
  int64_t height;    // size of dim -2 (1 when x has fewer than 3 dims)
  int64_t width;     // size of dim -1 (1 when x has fewer than 3 dims)
  int64_t w_stride;  // distance between neighbours along dim -1

  C10_HOST_DEVICE int64_t line() const { return width * w_stride; }
};

// Who mixes with whom, and by how much. `lam_stride` is 0 for one weight per
// batch; `box_stride` is 0 for one box per batch; `box` is null for no box.
template <typename lam_t>
struct Pairing {
  const int64_t* index;
  int64_t index_stride;
  const lam_t* lam;
  int64_t lam_stride;
  const int64_t* box;
  int64_t box_stride;
  int64_t batch;

  C10_HOST_DEVICE int64_t partner(int64_t row) const {
    const int64_t p = index[row * index_stride];
    MIXUP_DEVICE_ASSERT(p >= 0 && p < batch);  // index out of [0, B)
    return p;
  }
  C10_HOST_DEVICE lam_t weight(int64_t row) const { return lam[row * lam_stride]; }
  C10_HOST_DEVICE Box box_of(int64_t row, const RowGeometry& g) const {
    constexpr int64_t kNo = Box::kNoBox;
    if (box == nullptr) return Box{kNo, kNo, kNo, kNo};
    const int64_t* p = box + row * box_stride;
    const Box b{p[0], p[1], p[2], p[3]};
    if (b.blends()) {
      MIXUP_DEVICE_ASSERT(b.y1 == kNo && b.x0 == kNo && b.x1 == kNo);  // a half-marked no-box row
      return b;
    }
    MIXUP_DEVICE_ASSERT(b.y0 >= 0 && b.y1 >= 0 && b.x0 >= 0 && b.x1 >= 0);
    MIXUP_DEVICE_ASSERT(b.y0 <= g.height && b.y1 <= g.height);  // box past the image
    MIXUP_DEVICE_ASSERT(b.x0 <= g.width && b.x1 <= g.width);
    return b;
  }
};

// The per-channel normalisation of the output, (v - mean[c]) / std[c], with
// c the channel (dim 1) of the element. Null pointers: no normalisation (the
// plan fills in 0 or 1 when only one of mean and std is given). The values
// are in the accumulation type, so the result is rounded once, on the store.
template <typename acc_t>
struct Normalize {
  const acc_t* mean;
  const acc_t* std;

  C10_HOST_DEVICE bool active() const { return mean != nullptr; }
  // The formula, for callers that hold one channel's mean and std already.
  C10_HOST_DEVICE static acc_t normalized(acc_t v, acc_t mean, acc_t std) { return (v - mean) / std; }
  C10_HOST_DEVICE acc_t apply(acc_t v, int64_t c) const {
    MIXUP_DEVICE_ASSERT(std[c] != acc_t(0));  // std must be non-zero
    return normalized(v, mean[c], std[c]);
  }
};

// Where dim 1 (the channel) of a row's element sits. In every layout we
// produce, element e of a row has channel (e / stride) % channels: stride is
// H * W (contiguous), 1 (channels_last, or (B, C) rows).
struct ChannelGeometry {
  int64_t stride;
  int64_t channels;
};

// The blend, in the accumulation type (float32, or float64 for float64 data).
// Written exactly as the reference writes it.
template <typename acc_t>
C10_HOST_DEVICE inline acc_t blend(acc_t lam, acc_t own, acc_t partner) {
  return lam * own + (acc_t(1) - lam) * partner;
}

// Loads and stores of the target tensors, whose dtype is a run-time value:
// targets are small (B x C), so a uniform switch costs nothing and saves
// instantiating every kernel once per target dtype.
template <typename acc_t>
C10_HOST_DEVICE inline acc_t load_as(const void* p, c10::ScalarType t, int64_t offset) {
  switch (t) {
    case c10::ScalarType::Double:
      return static_cast<acc_t>(static_cast<const double*>(p)[offset]);
    case c10::ScalarType::Float:
      return static_cast<acc_t>(static_cast<const float*>(p)[offset]);
    case c10::ScalarType::Half:
      return static_cast<acc_t>(static_cast<float>(static_cast<const c10::Half*>(p)[offset]));
    case c10::ScalarType::BFloat16:
      return static_cast<acc_t>(static_cast<float>(static_cast<const c10::BFloat16*>(p)[offset]));
    default:
      return acc_t(0);  // unreachable: dtypes are validated on the host
  }
}

template <typename acc_t>
C10_HOST_DEVICE inline void store_as(void* p, c10::ScalarType t, int64_t offset, acc_t v) {
  switch (t) {
    case c10::ScalarType::Double:
      static_cast<double*>(p)[offset] = static_cast<double>(v);
      break;
    case c10::ScalarType::Float:
      static_cast<float*>(p)[offset] = static_cast<float>(v);
      break;
    case c10::ScalarType::Half:
      static_cast<c10::Half*>(p)[offset] = c10::Half(static_cast<float>(v));
      break;
    case c10::ScalarType::BFloat16:
      static_cast<c10::BFloat16*>(p)[offset] = c10::BFloat16(static_cast<float>(v));
      break;
    default:
      break;  // unreachable: dtypes are validated on the host
  }
}

// The targets: either int64 class ids (`labels`) or soft rows (`soft`), mixed
// into a contiguous (B, C) output of dtype `out_dtype`; or none at all
// (num_classes == 0), when the loss mixes class ids itself.
struct TargetArgs {
  const int64_t* labels;  // (B,) class ids, or null for soft targets
  int64_t label_stride;
  const void* soft;  // (B, C) soft targets, or null for class ids
  c10::ScalarType soft_dtype;
  int64_t soft_stride0, soft_stride1;
  void* out;  // contiguous (B, C)
  c10::ScalarType out_dtype;
  int64_t num_classes;
  double smoothing;

  C10_HOST_DEVICE bool empty() const { return num_classes == 0; }
};

// s(t) = (1 - eps) * t + eps / C, for a one-hot or a soft target row.
template <typename acc_t>
C10_HOST_DEVICE inline acc_t smoothed_target(const TargetArgs& t, int64_t row, int64_t c) {
  const acc_t keep = static_cast<acc_t>(1.0 - t.smoothing);
  const acc_t spread = static_cast<acc_t>(t.smoothing / static_cast<double>(t.num_classes));
  acc_t value;
  if (t.labels != nullptr) {
    const int64_t label = t.labels[row * t.label_stride];
    MIXUP_DEVICE_ASSERT(label >= 0 && label < t.num_classes);  // label out of [0, num_classes)
    value = label == c ? acc_t(1) : acc_t(0);
  } else {
    value = load_as<acc_t>(t.soft, t.soft_dtype, row * t.soft_stride0 + c * t.soft_stride1);
  }
  return keep * value + spread;
}

// One element of the mixed target: lam * s(t_row)[c] + (1 - lam) * s(t_partner)[c].
template <typename acc_t>
C10_HOST_DEVICE inline acc_t mixed_target_value(const TargetArgs& t, acc_t lam, int64_t row, int64_t partner,
                                                int64_t c) {
  return blend(lam, smoothed_target<acc_t>(t, row, c), smoothed_target<acc_t>(t, partner, c));
}

// Writes element (row, c) of the mixed target, which sits at `flat` = row * C + c
// of the contiguous output, computed in float64 for float64 targets and
// float32 otherwise, and rounded once. The caller splits `flat`, so that a
// backend can use whatever division is cheap on its hardware.
template <typename lam_t>
C10_HOST_DEVICE inline void mix_target_element(const TargetArgs& t, const Pairing<lam_t>& pairing, int64_t row,
                                               int64_t c, int64_t flat) {
  const int64_t partner = pairing.partner(row);
  if (t.out_dtype == c10::ScalarType::Double) {
    const double lam = static_cast<double>(pairing.weight(row));
    store_as<double>(t.out, t.out_dtype, flat, mixed_target_value<double>(t, lam, row, partner, c));
  } else {
    const float lam = static_cast<float>(pairing.weight(row));
    store_as<float>(t.out, t.out_dtype, flat, mixed_target_value<float>(t, lam, row, partner, c));
  }
}

}  // namespace mixup

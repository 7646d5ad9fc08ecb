// Host-side planning for mixup::naflex_mix and mixup::naflex_mix_: the
// arguments validated, the outputs allocated, and every pair's overlap and
// every work unit laid out (naflex_mix_math.h), so that the CPU and CUDA
// kernels only walk the units.
//
// The pairing arguments live on the host, whatever device the images are on:
// which images pair up and where their overlaps sit depends on the images'
// sizes, which only the host holds, so the plan reads them without a sync.
#pragma once

#include <ATen/core/Tensor.h>

#include <vector>

#include "dtypes.h"
#include "naflex_mix_math.h"

namespace mixup {

struct NaFlexPlan {
  std::vector<at::Tensor> outputs;  // one per image; empty in place
  std::vector<NaFlexImage> images;
  std::vector<NaFlexPair> pairs;
  // pairs.size() + images.size() + 1 entries (see owner_of_unit); the last
  // is the number of units.
  std::vector<int64_t> unit_starts;
  at::ScalarType dtype = at::kFloat;
  at::Device device = at::kCPU;
  bool in_place = false;
  bool dense_columns = true;  // every image's column stride is 1, in and out

  int64_t units() const { return unit_starts.back(); }
  int64_t entries() const { return static_cast<int64_t>(unit_starts.size()) - 1; }
  // The arrays as a kernel reads them, here in host memory.
  NaFlexUnits host_units() const {
    return NaFlexUnits{images.data(), pairs.data(), unit_starts.data(), static_cast<int64_t>(pairs.size()),
                       entries(),     in_place};
  }
};

// Validates the images (a list of (C, H, W) tensors of one dtype, device and
// channel count), pairs ((P, 2) int64, each image in at most one pair), lam
// ((P,) floating, in [0, 1]) and box ((P, 6) int64: a row of -1 for a blend,
// or [h, w, y_i, x_i, y_j, x_j], a paste inside the overlap); allocates the
// outputs unless in_place, and lays out the units.
NaFlexPlan plan_naflex_mix(const char* op, at::TensorList images, const at::Tensor& pairs, const at::Tensor& lam,
                           const at::Tensor& box, bool in_place);

}  // namespace mixup

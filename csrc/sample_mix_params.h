// Host-side planning for mixup::sample_mix_params, shared by both backends.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>

#include "sample_mix_params_math.h"

namespace mixup {

struct SamplePlan {
  SampleConfig config{};
  at::Tensor uniforms;    // (n, kUniforms) float64, contiguous
  at::Tensor gammas;      // (kGammas, n) float64, contiguous
  at::Tensor pair_index;  // (n,) int64, or undefined
  at::Tensor lam;         // out: (n,) float32
  at::Tensor box;         // out: (n, 4) int64
  int64_t draws = 0;
};

SamplePlan plan_sample(const at::Tensor& uniforms, const at::Tensor& gammas,
                       const std::optional<at::Tensor>& pair_index, int64_t height, int64_t width, double mix_prob,
                       double switch_prob, bool mixup_on, bool cutmix_on, std::optional<at::ArrayRef<double>> minmax,
                       bool correct_lam, bool full_side);

}  // namespace mixup

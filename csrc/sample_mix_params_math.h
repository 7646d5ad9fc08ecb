// Per-sample Mixup/CutMix parameters from random numbers: the arithmetic
// (timm's rules), written once for four kernels. mixup::draw_mix_params (CPU
// and CUDA) feeds it its own Philox draws; mixup::sample_mix_params (CPU and
// CUDA) feeds it given uniforms and Gamma draws, which is how the tests hold
// this arithmetic to mixup_ext/reference.py's torch-op version bit for bit.
#pragma once

#include <c10/macros/Macros.h>

#include "fused_mix_math.h"

#include <cmath>
#include <cstdint>

namespace mixup {

struct SampleConfig {
  int64_t height, width;
  double mix_prob, switch_prob;
  bool mixup_on, cutmix_on;
  bool use_minmax;
  double minmax_lo, minmax_hi;
  bool correct_lam;
  bool full_side;  // timm >= 1.0.2x: a side of exactly int(H * sqrt(1 - lam))
};

// The uniforms and Gamma draws of one draw, by slot (sample_mix_params_slots.def);
// kUniforms and kGammas count them.
#define MIXUP_UNIFORM_SLOT(name) name,
#define MIXUP_GAMMA_SLOT(name)
enum UniformSlot : int {
#include "sample_mix_params_slots.def"
  kUniforms
};
#undef MIXUP_UNIFORM_SLOT
#undef MIXUP_GAMMA_SLOT
#define MIXUP_UNIFORM_SLOT(name)
#define MIXUP_GAMMA_SLOT(name) name,
enum GammaSlot : int {
#include "sample_mix_params_slots.def"
  kGammas
};
#undef MIXUP_UNIFORM_SLOT
#undef MIXUP_GAMMA_SLOT

C10_HOST_DEVICE inline double beta_from_gammas(double g1, double g2) {
  const double total = g1 + g2;
  return total > 0 ? g1 / total : 0.5;  // both underflowed (tiny alpha): the mean
}

// The Beta of the given Gamma draws: Gammas `first` and `first + 1` of a
// pre-drawn table (what mixup::sample_mix_params is given).
template <typename GammaAt>
C10_HOST_DEVICE inline double beta_of_gammas(const GammaAt& gamma, int first) {
  return beta_from_gammas(gamma(first), gamma(first + 1));
}

C10_HOST_DEVICE inline int64_t clamp64(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : (v > hi ? hi : v); }

// One draw: `u(slot)` is the uniform of a UniformSlot and `beta(first)` the
// Beta weight of the Mixup (first = kMixupG1) or the CutMix (kCutmixG1). Each
// is asked for only when this draw needs it, in the order of the code below
// (apply, switch, the Beta, then the box's slots), so a sequential random
// source may draw them lazily. Writes the weight and the box row that
// mixup::fused_mix reads: [y0, y1, x0, x1) for a CutMix draw (a paste even
// when empty), Box::kNoBox for a Mixup draw (a blend), and the empty box
// [0, 0, 0, 0] for a sample left unmixed, which the kernel copies exactly.
template <typename UniformAt, typename BetaAt>
C10_HOST_DEVICE inline void sample_one(const SampleConfig& c, const UniformAt& u, const BetaAt& beta, float* lam_out,
                                       int64_t* box_out) {
  const bool apply = u(kApply) < c.mix_prob;
  const bool use_cutmix = c.mixup_on && c.cutmix_on ? u(kSwitch) < c.switch_prob : c.cutmix_on;
  double lam = use_cutmix ? beta(kCutmixG1) : beta(kMixupG1);
  constexpr int64_t kNo = Box::kNoBox;
  int64_t box[4] = {kNo, kNo, kNo, kNo};
  if (!apply) {
    for (int k = 0; k < 4; ++k) box[k] = 0;
  } else if (c.cutmix_on && use_cutmix) {
    const int64_t h = c.height, w = c.width;
    if (c.use_minmax) {  // timm's rand_bbox_minmax
      const int64_t lo_h = static_cast<int64_t>(h * c.minmax_lo), hi_h = static_cast<int64_t>(h * c.minmax_hi);
      const int64_t lo_w = static_cast<int64_t>(w * c.minmax_lo), hi_w = static_cast<int64_t>(w * c.minmax_hi);
      const int64_t cut_h = lo_h + static_cast<int64_t>(std::floor(u(kMinmaxH) * (hi_h - lo_h)));
      const int64_t cut_w = lo_w + static_cast<int64_t>(std::floor(u(kMinmaxW) * (hi_w - lo_w)));
      box[0] = static_cast<int64_t>(std::floor(u(kMinmaxY) * (h - cut_h + 1)));
      box[1] = box[0] + cut_h;
      box[2] = static_cast<int64_t>(std::floor(u(kMinmaxX) * (w - cut_w + 1)));
      box[3] = box[2] + cut_w;
    } else {  // timm's rand_bbox
      const double ratio = std::sqrt(lam < 1 ? 1 - lam : 0.0);
      const int64_t cut_h = static_cast<int64_t>(std::floor(h * ratio));
      const int64_t cut_w = static_cast<int64_t>(std::floor(w * ratio));
      const int64_t cy = static_cast<int64_t>(std::floor(u(kCentreY) * h));
      const int64_t cx = static_cast<int64_t>(std::floor(u(kCentreX) * w));
      const int64_t extra = c.full_side ? 1 : 0;
      box[0] = clamp64(cy - cut_h / 2, 0, h);
      box[1] = clamp64(cy + (cut_h + extra) / 2, 0, h);
      box[2] = clamp64(cx - cut_w / 2, 0, w);
      box[3] = clamp64(cx + (cut_w + extra) / 2, 0, w);
    }
    if ((c.correct_lam || c.use_minmax) && h * w > 0) {  // an empty image has nothing to correct by
      const int64_t area = (box[1] > box[0] ? box[1] - box[0] : 0) * (box[3] > box[2] ? box[3] - box[2] : 0);
      lam = 1.0 - static_cast<double>(area) / static_cast<double>(h * w);
    }
  }
  *lam_out = apply ? static_cast<float>(lam) : 1.0f;
  for (int k = 0; k < 4; ++k) box_out[k] = box[k];
}

// Output row i of a call: in pair mode it takes the draw of its pair's
// leader (the smaller of i and its partner), so partners agree; with one
// draw (batch mode) every output is that draw.
C10_HOST_DEVICE inline int64_t draw_of(int64_t i, int64_t draws, const int64_t* pair_index) {
  if (draws == 1) return 0;
  if (pair_index == nullptr) return i;
  const int64_t partner = pair_index[i];
  return partner < i ? partner : i;
}

}  // namespace mixup

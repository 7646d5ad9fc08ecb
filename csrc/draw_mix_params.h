// mixup::draw_mix_params: everything random about one Mixup/CutMix call, in
// one launch. Shared by the CPU and CUDA kernels: the host-side plan, and the
// host/device math that turns a Philox stream into partners, weights and
// boxes (the arithmetic after the draws is sample_math.h's, which
// mixup::sample_mix_params exposes for testing against the reference).
//
// Random streams. Every draw d reads Philox subsequence d from block
// `offset + 1` on, and the permutation key of row i is the first value of
// subsequence i at `offset`. Streams never depend on the thread that reads
// them, so the CPU and CUDA kernels draw the same values for one
// (seed, offset), and a draw's value does not depend on the batch's other
// draws. The generator advances by kValuesPerCall per call.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/PhiloxRNGEngine.h>
#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/string_view.h>

#include <cmath>
#include <cstdint>
#include <optional>

#include "sample_math.h"

namespace mixup {

enum class MixMode : int { kBatch, kPair, kElem };
enum class PartnerRule : int { kFlip, kRoll, kRandom };

// 128-bit Philox blocks each draw may read before it runs into the next
// call's stream: at most 8 uniforms (4 blocks), and per Gamma draw ~1.1
// Marsaglia-Tsang rounds of 1.5 blocks (plus half a block below alpha 1). Running past it (odds far below 1e-9) only reuses
// numbers of another call, as torch's own Gamma sampler accepts.
constexpr uint64_t kBlocksPerDraw = 16;
constexpr uint64_t kValuesPerCall = 4 * kBlocksPerDraw;  // 32-bit values, as torch's generators count

struct DrawConfig {
  SampleConfig sample;
  double mixup_alpha, cutmix_alpha;
  int64_t batch;
  MixMode mode;
  PartnerRule partners;

  // Draws written: one for the whole batch, else one per row.
  C10_HOST_DEVICE int64_t outputs() const { return mode == MixMode::kBatch ? 1 : batch; }
  C10_HOST_DEVICE bool symmetric() const { return mode == MixMode::kPair; }
};

// A Philox subsequence read as doubles: uniforms, normals and Gamma draws.
class DrawStream {
 public:
  C10_HOST_DEVICE DrawStream(uint64_t seed, uint64_t subsequence, uint64_t offset_blocks)
      : engine_(seed, subsequence, offset_blocks) {}

  // [0, 1), with all 53 bits of a double random.
  C10_HOST_DEVICE double uniform() {
    const uint64_t hi = engine_() >> 5, lo = engine_() >> 6;
    return (static_cast<double>(hi) * 67108864.0 + static_cast<double>(lo)) * (1.0 / 9007199254740992.0);
  }

  // Box-Muller; 1 - u is in (0, 1], so the log is finite.
  C10_HOST_DEVICE double normal() {
    const double radius = std::sqrt(-2.0 * std::log(1.0 - uniform()));
    return radius * std::cos(6.283185307179586 * uniform());
  }

  // Gamma(alpha, 1) by Marsaglia and Tsang (2000), with the usual boost
  // Gamma(a) = Gamma(a + 1) * U^(1 / a) for a < 1, as torch's sampler does.
  // For tiny alpha the boost underflows to 0; beta_from_gammas handles 0 / 0.
  C10_HOST_DEVICE double gamma(double alpha) {
    double boost = 1.0;
    if (alpha < 1.0) {
      boost = std::pow(1.0 - uniform(), 1.0 / alpha);
      alpha += 1.0;
    }
    const double d = alpha - 1.0 / 3.0;
    const double c = 1.0 / std::sqrt(9.0 * d);
    for (;;) {
      double x, v;
      do {
        x = normal();
        v = 1.0 + c * x;
      } while (v <= 0.0);
      v = v * v * v;
      const double u = 1.0 - uniform();
      const double x2 = x * x;
      if (u < 1.0 - 0.0331 * x2 * x2) return d * v * boost;
      if (std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v))) return d * v * boost;
    }
  }

 private:
  at::Philox4_32 engine_;
};

// Row i's key for the random permutation: 32 random bits above the row
// itself, so keys are distinct and sorting them shuffles the rows uniformly
// (ties of the random part, odds B^2 / 2^33, fall back to row order).
C10_HOST_DEVICE inline uint64_t permutation_key(uint64_t seed, uint64_t offset, int64_t row) {
  at::Philox4_32 engine(seed, static_cast<uint64_t>(row), offset);
  return (static_cast<uint64_t>(engine()) << 32) | static_cast<uint64_t>(row);
}

C10_HOST_DEVICE inline int64_t row_of_key(uint64_t key) { return static_cast<int64_t>(key & 0xffffffffu); }

// flip: B - 1 - i (timm); roll: i - 1 (torchvision).
C10_HOST_DEVICE inline int64_t fixed_partner(PartnerRule rule, int64_t i, int64_t batch) {
  return rule == PartnerRule::kFlip ? batch - 1 - i : (i == 0 ? batch - 1 : i - 1);
}

// Position k of a random order `perm` (perm(k) is a row): a permutation
// (index[k] = perm(k), as torch.randperm), or with `symmetric` a perfect
// matching of consecutive positions, 2j <-> 2j + 1 (the odd one out of an
// odd batch is its own partner).
template <typename Perm>
C10_HOST_DEVICE inline void place_partner(const Perm& perm, int64_t k, int64_t batch, bool symmetric,
                                          int64_t* index) {
  if (!symmetric) {
    index[k] = perm(k);
    return;
  }
  const int64_t mate = k % 2 == 0 ? (k + 1 < batch ? k + 1 : k) : k - 1;
  index[perm(k)] = perm(mate);
}

// Output i's weight and box from draw d (see draw_of) of the call.
C10_HOST_DEVICE inline void draw_one(const DrawConfig& c, uint64_t seed, uint64_t offset, int64_t d,
                                     float* lam_out, int64_t* box_out) {
  DrawStream stream(seed, static_cast<uint64_t>(d), offset + 1);
  // Both on demand, in sample_one's order: a draw reads only what it uses
  // (four uniforms and one Beta, typically).
  const auto uniform = [&](int /*slot*/) { return stream.uniform(); };
  const auto gamma = [&](int k) { return stream.gamma(k < kCutmixG1 ? c.mixup_alpha : c.cutmix_alpha); };
  sample_one(c.sample, uniform, gamma, lam_out, box_out);
}

struct DrawPlan {
  DrawConfig config{};
  at::Tensor index;  // out: (B,) int64
  at::Tensor lam;    // out: (B,) float32, or () in batch mode
  at::Tensor box;    // out: (B, 4) int64, or (4,) in batch mode
};

// Validates the arguments (ValueError naming each) and allocates the outputs.
DrawPlan plan_draw(const at::Tensor& x, c10::string_view mode, c10::string_view pairing, double mixup_alpha,
                   double cutmix_alpha, double mix_prob, double switch_prob,
                   std::optional<c10::ArrayRef<double>> minmax, bool correct_lam, bool full_side,
                   const std::optional<at::Generator>& generator);

}  // namespace mixup

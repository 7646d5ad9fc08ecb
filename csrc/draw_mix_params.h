// mixup::draw_mix_params: everything random about one Mixup/CutMix call, in
// one launch. Shared by the CPU and CUDA kernels: the host-side plan, and the
// host/device math that turns a Philox stream into partners, weights and
// boxes (the arithmetic after the draws is sample_mix_params_math.h's, which
// mixup::_sample_mix_params exposes for testing against the reference).
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

#include "sample_mix_params_math.h"

namespace mixup {

enum class MixMode : int { kBatch, kPair, kElem };
enum class PartnerRule : int { kFlip, kRoll, kRandom };

// 128-bit Philox blocks each draw may read before it runs into the next
// call's stream: at most 8 uniforms (2 blocks), and per Gamma draw ~1.05
// Marsaglia-Tsang rounds of 3 values (plus one below alpha 1). Running past it (odds far below 1e-9) only reuses
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

// A Philox subsequence read as single-precision uniforms, normals and
// Beta draws. Single precision on purpose: the weights are float32 anyway,
// and a draw is a chain of logs, a cosine and a power that one thread runs
// alone, so its length in double-precision latency was the sampler's whole
// GPU time. Gammas are kept as logarithms, so the Beta never divides two
// underflowed Gammas, however small alpha is.
class DrawStream {
 public:
  C10_HOST_DEVICE DrawStream(uint64_t seed, uint64_t subsequence, uint64_t offset_blocks)
      : engine_(seed, subsequence, offset_blocks) {}

  // [0, 1) on a grid of 2^-24: every float of that grid equally likely.
  C10_HOST_DEVICE float uniform() { return static_cast<float>(engine_() >> 8) * (1.0f / 16777216.0f); }

  // Box-Muller; 1 - u is in (0, 1], so the log is finite.
  C10_HOST_DEVICE float normal() {
    const float radius = std::sqrt(-2.0f * std::log(1.0f - uniform()));
    return radius * std::cos(6.2831853f * uniform());
  }

  // log Gamma(alpha, 1) by Marsaglia and Tsang (2000), with the boost
  // Gamma(a) = Gamma(a + 1) * U^(1 / a) for a < 1 (as torch's sampler) taken
  // in the log domain.
  C10_HOST_DEVICE float log_gamma(float alpha) {
    float log_boost = 0.0f;
    if (alpha < 1.0f) {
      log_boost = std::log(1.0f - uniform()) / alpha;
      alpha += 1.0f;
    }
    const float d = alpha - 1.0f / 3.0f;
    const float c = 1.0f / std::sqrt(9.0f * d);
    for (;;) {
      float x, v;
      do {
        x = normal();
        v = 1.0f + c * x;
      } while (v <= 0.0f);
      v = v * v * v;
      const float u = 1.0f - uniform();
      const float x2 = x * x;
      if (u < 1.0f - 0.0331f * x2 * x2 || std::log(u) < 0.5f * x2 + d * (1.0f - v + std::log(v))) {
        return std::log(d * v) + log_boost;
      }
    }
  }

  // Beta(alpha, alpha) = G1 / (G1 + G2) = 1 / (1 + exp(log G2 - log G1)).
  C10_HOST_DEVICE double beta(float alpha) {
    const float first = log_gamma(alpha);
    const float second = log_gamma(alpha);
    return 1.0 / (1.0 + std::exp(static_cast<double>(second) - static_cast<double>(first)));
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
C10_HOST_DEVICE inline void place_partner(const Perm& perm, int64_t k, int64_t batch, bool symmetric, int64_t* index) {
  if (!symmetric) {
    index[k] = perm(k);
    return;
  }
  const int64_t mate = k % 2 == 0 ? (k + 1 < batch ? k + 1 : k) : k - 1;
  index[perm(k)] = perm(mate);
}

// Output i's weight and box from draw d (see draw_of) of the call.
C10_HOST_DEVICE inline void draw_one(const DrawConfig& c, uint64_t seed, uint64_t offset, int64_t d, float* lam_out,
                                     int64_t* box_out) {
  DrawStream stream(seed, static_cast<uint64_t>(d), offset + 1);
  // Both on demand, in sample_one's order: a draw reads only what it uses
  // (four uniforms and one Beta, typically).
  const auto uniform = [&](int /*slot*/) { return static_cast<double>(stream.uniform()); };
  const auto beta = [&](int first) {
    return stream.beta(static_cast<float>(first == kMixupG1 ? c.mixup_alpha : c.cutmix_alpha));
  };
  sample_one(c.sample, uniform, beta, lam_out, box_out);
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

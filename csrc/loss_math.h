// Per-element and per-row math of the loss family (mixup::mixup_cross_entropy
// and mixup::mixup_binary_cross_entropy), shared by the CPU and CUDA kernels;
// cpu/isa/loss_rows_impl.h has the vector forms of the same formulas.
//
// Cross-entropy. With z the logits of one row, lse = log(sum(exp(z))), and
// s(y) = (1 - eps) * onehot(y) + eps / C, cross-entropy is linear in the
// target, so the mixed loss needs no B x C target at all:
//   lam * CE(z, s(a)) + (1 - lam) * CE(z, s(b))
//     = lse - (1 - eps) * (lam * z[a] + (1 - lam) * z[b]) - eps / C * sum(z)
// and its gradient is softmax(z) - (lam * s(a) + (1 - lam) * s(b)).
//
// Everything is computed relative to the row's first logit r = z[0], which is
// known before the pass: with shifted logits z - r, a large common offset
// (logits near 1e4, say) cancels exactly instead of being subtracted from the
// loss at the end, where float32 would keep only a few digits. The backward
// reuses the *shifted* log-sum-exp, lse - r, for the same reason.
#pragma once

#include <c10/macros/Macros.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace mixup {

// A running (max, sum of exp(z - max)) pair: one pass over a row, and pairs
// from different threads merge exactly.
template <typename acc_t>
struct OnlineLogSumExp {
  acc_t max = -INFINITY;
  acc_t sum = 0;

  C10_HOST_DEVICE void add(acc_t z) {
    if (z > max) {
      sum = sum * std::exp(max - z) + acc_t(1);
      max = z;
    } else {
      sum += std::exp(z - max);
    }
  }
  C10_HOST_DEVICE void merge(const OnlineLogSumExp& o) {
    if (o.max == -INFINITY) return;
    if (max == -INFINITY) {
      *this = o;
      return;
    }
    const acc_t m = max > o.max ? max : o.max;
    sum = sum * std::exp(max - m) + o.sum * std::exp(o.max - m);
    max = m;
  }
  C10_HOST_DEVICE acc_t value() const { return max + std::log(sum); }
};

// All arguments shifted by the row's first logit: lse - r, z[a] - r,
// z[b] - r, and sum(z - r). The shift cancels in the result.
template <typename acc_t>
C10_HOST_DEVICE inline acc_t mixed_ce_loss(acc_t shifted_lse, acc_t shifted_a, acc_t shifted_b, acc_t shifted_sum,
                                           acc_t lam, double smoothing, int64_t classes) {
  const acc_t keep = static_cast<acc_t>(1.0 - smoothing);
  const acc_t spread = static_cast<acc_t>(smoothing / static_cast<double>(classes));
  return shifted_lse - keep * (lam * shifted_a + (acc_t(1) - lam) * shifted_b) - spread * shifted_sum;
}

// d loss / d z[c] for one element of a row, from z[c] - r and lse - r.
template <typename acc_t>
C10_HOST_DEVICE inline acc_t mixed_ce_grad(acc_t shifted_z, acc_t shifted_lse, int64_t c, int64_t a, int64_t b,
                                           acc_t lam, double smoothing, int64_t classes) {
  const acc_t keep = static_cast<acc_t>(1.0 - smoothing);
  const acc_t spread = static_cast<acc_t>(smoothing / static_cast<double>(classes));
  const acc_t target = keep * ((c == a ? lam : acc_t(0)) + (c == b ? acc_t(1) - lam : acc_t(0))) + spread;
  return std::exp(shifted_z - shifted_lse) - target;
}

// Binary cross-entropy. timm's BinaryCrossEntropy on Mixup's dense target
// t = lam * s(y_a) + (1 - lam) * s(y_b), with s(y) = `on` at class y and
// `off` elsewhere, optionally binarised to (t > threshold), takes only four
// values in a row: the target of a class is decided by the two labels alone.
template <typename acc_t>
struct BinaryTargets {
  acc_t rest;    // neither label
  acc_t a_only;  // y_a, not y_b
  acc_t b_only;  // y_b, not y_a
  acc_t both;    // y_a == y_b

  C10_HOST_DEVICE acc_t of(int64_t c, int64_t a, int64_t b) const {
    return c == a ? (c == b ? both : a_only) : (c == b ? b_only : rest);
  }
};

// s(y)'s two values as timm's Mixup computes them: off = eps / C and
// on = 1 - eps + off, in double, each rounded once to acc_t.
struct SmoothedOneHot {
  double on, off;
};

inline SmoothedOneHot smoothed_one_hot(double smoothing, int64_t classes) {
  const double off = smoothing / static_cast<double>(classes);
  return {1.0 - smoothing + off, off};
}

template <typename acc_t>
C10_HOST_DEVICE inline BinaryTargets<acc_t> binary_targets(acc_t lam, acc_t on, acc_t off, bool thresholded,
                                                           acc_t threshold) {
  const acc_t rest = lam * off + (acc_t(1) - lam) * off;
  const acc_t a_only = lam * on + (acc_t(1) - lam) * off;
  const acc_t b_only = lam * off + (acc_t(1) - lam) * on;
  const acc_t both = lam * on + (acc_t(1) - lam) * on;
  if (!thresholded) return {rest, a_only, b_only, both};
  auto binary = [&](acc_t t) { return t > threshold ? acc_t(1) : acc_t(0); };
  return {binary(rest), binary(a_only), binary(b_only), binary(both)};
}

// log1p(x) for x in [0, 1], the log term of BCE (x = exp(-|z|)). On the CPU,
// for float: 2 atanh(s) with s = x / (2 + x) in [0, 1/3], as the odd series
// 2 (s + s^3/3 + ... + s^13/13). What it leaves out is under 1.4e-8 of the
// result, inside float's 6e-8, for one division and six FMAs, where libm's
// and Sleef's log1p keep extra-precision intermediates over their whole
// range (Sleef's was ~70% of the CPU forward's time). cpu/isa/loss_rows_impl.h
// has the vector form. On the GPU, CUDA's log1pf is the cheaper of the two
// (an IEEE division alone costs a dozen instructions there: the series made
// the H100's BCE 12% slower, bench/NOTES.md); double keeps the library's.
template <typename acc_t>
C10_HOST_DEVICE inline acc_t log1p_unit(acc_t x) {
#ifdef __CUDA_ARCH__
  return std::log1p(x);
#else
  if constexpr (std::is_same_v<acc_t, float>) {
    const float s = x / (2.0f + x);
    const float s2 = s * s;
    float series = 1.0f / 13.0f;
    series = series * s2 + 1.0f / 11.0f;
    series = series * s2 + 1.0f / 9.0f;
    series = series * s2 + 1.0f / 7.0f;
    series = series * s2 + 1.0f / 5.0f;
    series = series * s2 + 1.0f / 3.0f;
    const float two_s = s + s;
    return (two_s * s2) * series + two_s;
  } else {
    return std::log1p(x);
  }
#endif
}

// F.binary_cross_entropy_with_logits(z, t, pos_weight=p) for one element,
// as (1 - t) * softplus(z) + t * p * softplus(-z): with l = log1p(exp(-|z|)),
// softplus(z) = max(z, 0) + l and softplus(-z) = max(-z, 0) + l, finite for
// any finite z.
template <typename acc_t>
C10_HOST_DEVICE inline acc_t binary_ce_loss(acc_t z, acc_t t, acc_t p) {
  const acc_t log_term = log1p_unit(std::exp(-std::abs(z)));
  const acc_t positive = z > acc_t(0) ? z : acc_t(0), negative = z < acc_t(0) ? -z : acc_t(0);
  return (acc_t(1) - t) * (positive + log_term) + (t * p) * (negative + log_term);
}

// d binary_ce_loss / dz = (1 - t) * sigmoid(z) - t * p * sigmoid(-z), both
// sigmoids from one exp(-|z|) (neither computed as 1 - the other).
template <typename acc_t>
C10_HOST_DEVICE inline acc_t binary_ce_grad(acc_t z, acc_t t, acc_t p) {
  const acc_t e = std::exp(-std::abs(z));
  const acc_t r = acc_t(1) / (acc_t(1) + e);
  const bool non_negative = z >= acc_t(0);
  const acc_t sigmoid = non_negative ? r : e * r;
  const acc_t sigmoid_neg = non_negative ? e * r : r;
  return (acc_t(1) - t) * sigmoid - (t * p) * sigmoid_neg;
}

}  // namespace mixup

// Per-element math of mixup::mixup_binary_cross_entropy, shared by the CPU
// and CUDA kernels; cpu/isa/mixup_loss_rows_impl.h has the vector forms of the
// same formulas.
#pragma once

#include <c10/macros/Macros.h>

#include <cmath>
#include <cstdint>
#include <type_traits>

namespace mixup {

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
// range (Sleef's was ~70% of the CPU forward's time). cpu/isa/mixup_loss_rows_impl.h
// has the vector form. On the GPU, CUDA's log1pf is the cheaper of the two
// (an IEEE division alone costs a dozen instructions there: the series made
// the H100's BCE 12% slower, DEVLOG.md); double keeps the library's.
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
// any finite z. `e` is exp(-|z|), which the gradient shares when a forward
// writes both.
template <typename acc_t>
C10_HOST_DEVICE inline acc_t binary_ce_loss_of(acc_t z, acc_t e, acc_t t, acc_t p) {
  const acc_t log_term = log1p_unit(e);
  const acc_t positive = z > acc_t(0) ? z : acc_t(0), negative = z < acc_t(0) ? -z : acc_t(0);
  return (acc_t(1) - t) * (positive + log_term) + (t * p) * (negative + log_term);
}

template <typename acc_t>
C10_HOST_DEVICE inline acc_t binary_ce_loss(acc_t z, acc_t t, acc_t p) {
  return binary_ce_loss_of(z, std::exp(-std::abs(z)), t, p);
}

// d binary_ce_loss / dz = (1 - t) * sigmoid(z) - t * p * sigmoid(-z), both
// sigmoids from one e = exp(-|z|) (neither computed as 1 - the other).
// 1 / x, correctly rounded: on the GPU, for float, __frcp_rn, the same
// bits as the IEEE division for a third of its instructions (the division
// routine is built for any numerator).
template <typename acc_t>
C10_HOST_DEVICE inline acc_t reciprocal(acc_t x) {
#ifdef __CUDA_ARCH__
  if constexpr (std::is_same_v<acc_t, float>) return __frcp_rn(x);
#endif
  return acc_t(1) / x;
}

template <typename acc_t>
C10_HOST_DEVICE inline acc_t binary_ce_grad_of(acc_t z, acc_t e, acc_t t, acc_t p) {
  const acc_t r = reciprocal(acc_t(1) + e);
  const bool non_negative = z >= acc_t(0);
  const acc_t sigmoid = non_negative ? r : e * r;
  const acc_t sigmoid_neg = non_negative ? e * r : r;
  return (acc_t(1) - t) * sigmoid - (t * p) * sigmoid_neg;
}

template <typename acc_t>
C10_HOST_DEVICE inline acc_t binary_ce_grad(acc_t z, acc_t t, acc_t p) {
  return binary_ce_grad_of(z, std::exp(-std::abs(z)), t, p);
}

}  // namespace mixup

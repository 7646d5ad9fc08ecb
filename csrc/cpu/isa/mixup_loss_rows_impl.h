// The loss rows of cpu/mixup_loss_rows.h, written once against at::vec::Vectorized
// and compiled per instruction set by mixup_loss_rows_{default,avx2,avx512}.cpp,
// each after target.h. Every formula here is the vector form of a scalar one
// in mixup_cross_entropy_math.h or mixup_binary_cross_entropy_math.h, in the
// same order of operations; the kernels compute the labelled elements of a
// row with the scalar form, so the two must agree.
#pragma once

#if MIXUP_ISA_UNIT_ENABLED

#include <ATen/cpu/vec/functional.h>
#include <ATen/cpu/vec/vec.h>

#include <cstdint>
#include <limits>
#include <type_traits>

#include "../mixup_loss_rows.h"

namespace mixup::cpu::MIXUP_ISA_NAMESPACE {
namespace {

using at::vec::Vectorized;

template <typename scalar_t>
using Vec = Vectorized<acc_type_t<scalar_t>>;

// n (< one vector) elements from p as acc_t; the lanes past n are zero.
template <typename scalar_t, typename acc_t = acc_type_t<scalar_t>>
Vectorized<acc_t> load_part(const scalar_t* p, int64_t n) {
  if constexpr (std::is_same_v<scalar_t, acc_t>) {
    return Vectorized<acc_t>::loadu(p, n);
  } else {
    acc_t buf[Vectorized<acc_t>::size()] = {};
    for (int64_t i = 0; i < n; ++i) buf[i] = static_cast<acc_t>(p[i]);
    return Vectorized<acc_t>::loadu(buf);
  }
}

template <typename scalar_t, typename acc_t = acc_type_t<scalar_t>>
Vectorized<acc_t> load(const scalar_t* p, int64_t n) {
  if (n < Vectorized<acc_t>::size()) return load_part(p, n);
  if constexpr (std::is_same_v<scalar_t, acc_t>) {
    return Vectorized<acc_t>::loadu(p);
  } else {
    Vectorized<float> v;
    at::vec::load_to_float(p, v);
    return v;
  }
}

// The first n lanes of v to p, rounded once to scalar_t.
template <typename scalar_t, typename acc_t>
void store(scalar_t* p, const Vectorized<acc_t>& v, int64_t n) {
  if constexpr (std::is_same_v<scalar_t, acc_t>) {
    v.store(p, n);
  } else {
    acc_t buf[Vectorized<acc_t>::size()];
    v.store(buf);
    at::vec::convert(buf, p, n);
  }
}

// v with the lanes past n set to `fill`: a tail's padding made neutral.
template <typename acc_t>
Vectorized<acc_t> keep_first(const Vectorized<acc_t>& v, int64_t n, acc_t fill) {
  return n < Vectorized<acc_t>::size() ? Vectorized<acc_t>::set(Vectorized<acc_t>(fill), v, n) : v;
}

// body(v, c, n) for the vectors of z[first, last): v holds z[c, c + n) as
// acc_t; n is one vector's width except on the last.
template <typename scalar_t, typename Body>
void for_each_vector(const scalar_t* z, int64_t first, int64_t last, const Body& body) {
  constexpr int64_t width = Vec<scalar_t>::size();
  int64_t c = first;
  for (; c + width <= last; c += width) body(load(z + c, width), c, width);
  if (c < last) body(load_part(z + c, last - c), c, last - c);
}

template <typename acc_t>
acc_t sum_lanes(const Vectorized<acc_t>& v) {
  return at::vec::vec_reduce_all<acc_t>([](const Vectorized<acc_t>& a, const Vectorized<acc_t>& b) { return a + b; },
                                        v);
}

template <typename acc_t>
acc_t max_lanes(const Vectorized<acc_t>& v) {
  return at::vec::vec_reduce_all<acc_t>(
      [](const Vectorized<acc_t>& a, const Vectorized<acc_t>& b) { return at::vec::maximum(a, b); }, v);
}

// ---- cross-entropy (mixup_cross_entropy_math.h: mixed_ce_loss, mixed_ce_grad) ----------

template <typename scalar_t, typename acc_t = acc_type_t<scalar_t>>
acc_t ce_stats(const scalar_t* z, int64_t classes, acc_t* shifted_sum) {
  using V = Vectorized<acc_t>;
  const V ref(static_cast<acc_t>(z[0]));
  constexpr acc_t kMinusInf = -std::numeric_limits<acc_t>::infinity();
  V max(kMinusInf), sum(0);
  for_each_vector(z, 0, classes, [&](const V& v, int64_t, int64_t n) {
    const V shifted = v - ref;
    max = at::vec::maximum(max, keep_first(shifted, n, kMinusInf));
    sum += keep_first(shifted, n, acc_t(0));
  });
  const acc_t row_max = max_lanes(max);
  const V row_max_v(row_max);
  V exp_sum(0);
  for_each_vector(z, 0, classes, [&](const V& v, int64_t, int64_t n) {
    exp_sum += keep_first(((v - ref) - row_max_v).exp(), n, acc_t(0));
  });
  *shifted_sum = sum_lanes(sum);
  return row_max + std::log(sum_lanes(exp_sum));
}

template <typename scalar_t, typename acc_t = acc_type_t<scalar_t>>
void ce_grad(const scalar_t* z, int64_t classes, acc_t shifted_lse, acc_t scale, acc_t spread, scalar_t* out) {
  using V = Vectorized<acc_t>;
  const V ref(static_cast<acc_t>(z[0])), lse(shifted_lse), g(scale), target(spread);
  for_each_vector(z, 0, classes,
                  [&](const V& v, int64_t c, int64_t n) { store(out + c, g * (((v - ref) - lse).exp() - target), n); });
}

// ---- binary cross-entropy (mixup_binary_cross_entropy_math.h: binary_ce_loss, binary_ce_grad) ----

// mixup_binary_cross_entropy_math.h's log1p_unit, the same series in the same order.
template <typename acc_t>
Vectorized<acc_t> log1p_unit(const Vectorized<acc_t>& x) {
  if constexpr (std::is_same_v<acc_t, float>) {
    using V = Vectorized<float>;
    const V s = x / (V(2.0f) + x);
    const V s2 = s * s;
    V series(1.0f / 13.0f);
    series = at::vec::fmadd(series, s2, V(1.0f / 11.0f));
    series = at::vec::fmadd(series, s2, V(1.0f / 9.0f));
    series = at::vec::fmadd(series, s2, V(1.0f / 7.0f));
    series = at::vec::fmadd(series, s2, V(1.0f / 5.0f));
    series = at::vec::fmadd(series, s2, V(1.0f / 3.0f));
    const V two_s = s + s;
    return at::vec::fmadd(two_s * s2, series, two_s);
  } else {
    return x.log1p();
  }
}

// t * pos_weight[c .. c + n) as a vector, for each of the three kinds of
// pos_weight; the per-class one reads no further than the row's last class.
template <typename acc_t, typename Body>
void with_weighted_target(acc_t t, PosWeight<acc_t> pos_weight, const Body& body) {
  using V = Vectorized<acc_t>;
  if (pos_weight.data == nullptr) {
    const V tp(t);
    body([&](int64_t, int64_t) { return tp; });
  } else if (pos_weight.stride == 0) {
    const V tp(t * pos_weight.data[0]);
    body([&](int64_t, int64_t) { return tp; });
  } else {
    const V tv(t);
    body([&](int64_t c, int64_t n) { return tv * load(pos_weight.data + c, n); });
  }
}

template <typename scalar_t, typename acc_t = acc_type_t<scalar_t>>
acc_t bce_sum(const scalar_t* z, int64_t first, int64_t last, acc_t t, PosWeight<acc_t> pos_weight) {
  using V = Vectorized<acc_t>;
  const V keep(acc_t(1) - t), zero(0);
  V sum(0);
  with_weighted_target(t, pos_weight, [&](const auto& weighted_target) {
    for_each_vector(z, first, last, [&](const V& v, int64_t c, int64_t n) {
      const V log_term = log1p_unit(v.abs().neg().exp());  // log(1 + exp(-|z|))
      const V loss = keep * (at::vec::maximum(v, zero) + log_term) +
                     weighted_target(c, n) * (at::vec::maximum(v.neg(), zero) + log_term);
      sum += keep_first(loss, n, acc_t(0));
    });
  });
  return sum_lanes(sum);
}

template <typename scalar_t, typename acc_t = acc_type_t<scalar_t>>
void bce_grad(const scalar_t* z, int64_t first, int64_t last, acc_t t, PosWeight<acc_t> pos_weight, acc_t scale,
              scalar_t* out) {
  using V = Vectorized<acc_t>;
  const V keep(acc_t(1) - t), zero(0), one(1), g(scale);
  with_weighted_target(t, pos_weight, [&](const auto& weighted_target) {
    for_each_vector(z, first, last, [&](const V& v, int64_t c, int64_t n) {
      // sigmoid(z) and sigmoid(-z) from one exp(-|z|), neither by 1 - the other
      const V e = v.abs().neg().exp();
      const V r = one / (one + e);
      const V non_negative = v >= zero;
      const V sigmoid = V::blendv(e * r, r, non_negative);
      const V sigmoid_neg = V::blendv(r, e * r, non_negative);
      store(out + c, g * (keep * sigmoid - weighted_target(c, n) * sigmoid_neg), n);
    });
  });
}

template <typename scalar_t>
constexpr LossRowKernels<scalar_t> kernels() {
  return {&ce_stats<scalar_t>, &ce_grad<scalar_t>, &bce_sum<scalar_t>, &bce_grad<scalar_t>};
}

}  // namespace

constexpr LossRowTable kLossRowTable{kernels<double>(), kernels<float>(), kernels<c10::Half>(),
                                     kernels<c10::BFloat16>()};

}  // namespace mixup::cpu::MIXUP_ISA_NAMESPACE

#endif  // MIXUP_ISA_UNIT_ENABLED

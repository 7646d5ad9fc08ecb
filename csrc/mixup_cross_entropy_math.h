// Per-element and per-row math of mixup::mixup_cross_entropy, shared by the
// CPU and CUDA kernels; cpu/isa/mixup_loss_rows_impl.h has the vector forms of the
// same formulas.
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

}  // namespace mixup

// The vectorised row loops of the CPU loss kernels (cpu/mixup_cross_entropy_kernel.cpp,
// cpu/mixup_binary_cross_entropy_kernel.cpp), one table per instruction set (cpu/isa.h).
// They see raw rows only: planning, parallelism and the few elements that
// carry a label stay in the kernels, in scalar code shared with CUDA
// (mixup_*cross_entropy_math.h). Math is in acc_t: float, or double for double logits.
#pragma once

#include "../dtypes.h"
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>
#include <type_traits>

namespace mixup::cpu {

// pos_weight of the binary loss: none (every weight 1), one for all classes
// (stride 0), or one per class (stride 1), in acc_t.
template <typename acc_t>
struct PosWeight {
  const acc_t* data = nullptr;
  int64_t stride = 0;
};

template <typename scalar_t>
struct LossRowKernels {
  using acc_t = acc_type_t<scalar_t>;

  // Softmax statistics of one row of `classes` logits z, relative to its
  // first logit r = z[0] (mixup_cross_entropy_math.h says why): returns the shifted
  // log-sum-exp log(sum(exp(z - r))) and sets *shifted_sum = sum(z - r).
  acc_t (*ce_stats)(const scalar_t* z, int64_t classes, acc_t* shifted_sum);

  // out[c] = scale * (exp(z[c] - r - shifted_lse) - spread) for every c: the
  // cross-entropy gradient of a class that is neither label.
  void (*ce_grad)(const scalar_t* z, int64_t classes, acc_t shifted_lse, acc_t scale, acc_t spread, scalar_t* out);

  // sum over c in [first, last) of the binary cross-entropy of logit z[c]
  // against one target value t (mixup_binary_cross_entropy_math.h: binary_ce_loss).
  acc_t (*bce_sum)(const scalar_t* z, int64_t first, int64_t last, acc_t t, PosWeight<acc_t> pos_weight);

  // out[c] = scale * d/dz binary_ce_loss(z[c], t) for c in [first, last).
  void (*bce_grad)(const scalar_t* z, int64_t first, int64_t last, acc_t t, PosWeight<acc_t> pos_weight, acc_t scale,
                   scalar_t* out);
};

struct LossRowTable {
  LossRowKernels<double> f64;
  LossRowKernels<float> f32;
  LossRowKernels<c10::Half> f16;
  LossRowKernels<c10::BFloat16> bf16;

  template <typename scalar_t>
  const LossRowKernels<scalar_t>& get() const {
    if constexpr (std::is_same_v<scalar_t, double>)
      return f64;
    else if constexpr (std::is_same_v<scalar_t, float>)
      return f32;
    else if constexpr (std::is_same_v<scalar_t, c10::Half>)
      return f16;
    else
      return bf16;
  }
};

// Each instruction set's table (cpu/isa/mixup_loss_rows_*.cpp), constant-initialised:
// choosing one runs no code of the others. The AVX ones exist where
// MIXUP_BUILD_X86_ISAS.
namespace isa_default {
extern const LossRowTable kLossRowTable;
}
namespace isa_avx2 {
extern const LossRowTable kLossRowTable;
}
namespace isa_avx512 {
extern const LossRowTable kLossRowTable;
}

// The table of this process's instruction set.
const LossRowTable& loss_row_table();

}  // namespace mixup::cpu

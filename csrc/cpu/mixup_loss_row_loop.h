// The row loop of the CPU loss kernels: rows in parallel, each with its
// labels and weight.
#pragma once

#include <ATen/Parallel.h>

#include <algorithm>

#include "../mixup_loss.h"

namespace mixup::cpu {

// Enough elements per task that a thread's share outweighs waking it.
constexpr int64_t kLossElementsPerTask = 32768;

template <typename scalar_t, typename acc_t>
struct LossRow {
  int64_t index;      // the row's position in the batch
  const scalar_t* z;  // its logits
  int64_t a, b;       // its labels
  acc_t lam;          // the weight of a
};

// body(row) for every row of the plan, rows in parallel.
template <typename scalar_t, typename acc_t, typename Body>
void for_each_row(const LossInputs& p, const Body& body) {
  const scalar_t* z = p.logits.const_data_ptr<scalar_t>();
  const int64_t row_stride = p.logits.stride(0);
  const auto a = p.y_a.accessor<int64_t, 1>();
  const auto b = p.y_b.accessor<int64_t, 1>();
  const acc_t* lam = p.lam.const_data_ptr<acc_t>();
  const int64_t grain = std::max<int64_t>(1, kLossElementsPerTask / std::max<int64_t>(p.classes, 1));
  at::parallel_for(0, p.batch, grain, [&](int64_t first, int64_t last) {
    for (int64_t i = first; i < last; ++i) {
      body(LossRow<scalar_t, acc_t>{i, z + i * row_stride, a[i], b[i], lam[i * p.lam_stride]});
    }
  });
}

}  // namespace mixup::cpu

// CPU kernels of mixup::mixup_cross_entropy and its backward: rows in
// parallel; per row one pass for max and sum(z), one for sum(exp(z - max))
// (two plain loops the compiler vectorises, rather than an online update).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>

#include "../loss.h"

namespace mixup {
namespace {

constexpr int64_t kElementsPerTask = 32768;

// One row of the logits and what the loss needs about it. `ref` is the row's
// first logit, which everything is taken relative to (see loss_math.h).
template <typename scalar_t, typename acc_t>
struct LossRow {
  const scalar_t* z;
  acc_t ref;
  int64_t a, b;
  acc_t lam;

  acc_t shifted(int64_t c) const { return static_cast<acc_t>(z[c]) - ref; }
};

// Runs body(i, row) over every row of the plan, rows in parallel.
template <typename scalar_t, typename acc_t, typename Body>
void for_each_row(const LossPlan& p, const Body& body) {
  const scalar_t* z = p.logits.const_data_ptr<scalar_t>();
  const int64_t row_stride = p.logits.stride(0);
  const auto a = p.y_a.accessor<int64_t, 1>();
  const auto b = p.y_b.accessor<int64_t, 1>();
  const acc_t* lam = p.lam.const_data_ptr<acc_t>();
  const int64_t grain = std::max<int64_t>(1, kElementsPerTask / p.classes);
  at::parallel_for(0, p.batch, grain, [&](int64_t first, int64_t last) {
    for (int64_t i = first; i < last; ++i) {
      const scalar_t* row = z + i * row_stride;
      body(i, LossRow<scalar_t, acc_t>{row, static_cast<acc_t>(row[0]), a[i], b[i], lam[i * p.lam_stride]});
    }
  });
}

std::tuple<at::Tensor, at::Tensor> mixup_cross_entropy_cpu(const at::Tensor& logits, const at::Tensor& y_a,
                                                           const at::Tensor& y_b, const at::Tensor& lam,
                                                           double smoothing) {
  const LossForwardPlan f = plan_loss_forward(logits, y_a, y_b, lam, smoothing, /*check_values=*/true);
  const LossPlan& p = f.in;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(), "mixup::mixup_cross_entropy", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    acc_t* loss_out = f.loss.mutable_data_ptr<acc_t>();
    acc_t* lse_out = f.lse.mutable_data_ptr<acc_t>();
    for_each_row<scalar_t, acc_t>(p, [&](int64_t i, const LossRow<scalar_t, acc_t>& row) {
      acc_t max = -INFINITY, sum_z = 0;
      for (int64_t c = 0; c < p.classes; ++c) {
        const acc_t v = row.shifted(c);
        max = std::max(max, v);
        sum_z += v;
      }
      acc_t sum_exp = 0;
      for (int64_t c = 0; c < p.classes; ++c) sum_exp += std::exp(row.shifted(c) - max);
      const acc_t shifted_lse = max + std::log(sum_exp);
      lse_out[i] = shifted_lse;
      loss_out[i] = mixed_ce_loss<acc_t>(shifted_lse, row.shifted(row.a), row.shifted(row.b), sum_z, row.lam,
                                         p.smoothing, p.classes);
    });
  });
  return {f.loss, f.lse};
}

at::Tensor mixup_cross_entropy_backward_cpu(const at::Tensor& grad_loss, const at::Tensor& logits, const at::Tensor& y_a,
                                            const at::Tensor& y_b, const at::Tensor& lam, const at::Tensor& lse,
                                            double smoothing) {
  const LossBackwardPlan bp = plan_loss_backward(grad_loss, logits, y_a, y_b, lam, lse, smoothing);
  const LossPlan& p = bp.in;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(), "mixup::mixup_cross_entropy_backward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const acc_t* grad_loss_in = bp.grad_loss.const_data_ptr<acc_t>();
    const acc_t* shifted_lse = bp.lse.const_data_ptr<acc_t>();
    scalar_t* out = bp.grad.mutable_data_ptr<scalar_t>();
    for_each_row<scalar_t, acc_t>(p, [&](int64_t i, const LossRow<scalar_t, acc_t>& row) {
      scalar_t* dst = out + i * p.classes;
      for (int64_t c = 0; c < p.classes; ++c) {
        dst[c] = static_cast<scalar_t>(grad_loss_in[i] * mixed_ce_grad<acc_t>(row.shifted(c), shifted_lse[i], c, row.a,
                                                                              row.b, row.lam, p.smoothing, p.classes));
      }
    });
  });
  return bp.grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CPU, m) {
  m.impl("mixup_cross_entropy", &mixup_cross_entropy_cpu);
  m.impl("mixup_cross_entropy_backward", &mixup_cross_entropy_backward_cpu);
}

}  // namespace mixup

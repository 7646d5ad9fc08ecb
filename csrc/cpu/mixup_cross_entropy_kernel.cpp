// CPU kernels of mixup::mixup_cross_entropy and its backward: rows in
// parallel, each row's passes in the vector loops of cpu/mixup_loss_rows.h; the
// two labelled elements of a gradient row in scalar code (mixup_cross_entropy_math.h).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include "../mixup_cross_entropy.h"
#include "mixup_loss_row_loop.h"
#include "mixup_loss_rows.h"

namespace mixup {
namespace {

using cpu::for_each_row;
using cpu::LossRow;

std::tuple<at::Tensor, at::Tensor> mixup_cross_entropy_cpu(const at::Tensor& logits, const at::Tensor& y_a,
                                                           const at::Tensor& y_b, const at::Tensor& lam,
                                                           double smoothing) {
  const CrossEntropyForwardPlan f = plan_cross_entropy_forward(logits, y_a, y_b, lam, smoothing, /*check_values=*/true);
  const LossInputs& p = f.in;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(), "mixup::mixup_cross_entropy", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto& rows = cpu::loss_row_table().get<scalar_t>();
    acc_t* loss_out = f.loss.mutable_data_ptr<acc_t>();
    acc_t* lse_out = f.lse.mutable_data_ptr<acc_t>();
    for_each_row<scalar_t, acc_t>(p, [&](const LossRow<scalar_t, acc_t>& row) {
      acc_t shifted_sum = 0;
      const acc_t shifted_lse = rows.ce_stats(row.z, p.classes, &shifted_sum);
      const acc_t ref = static_cast<acc_t>(row.z[0]);
      lse_out[row.index] = shifted_lse;
      loss_out[row.index] =
          mixed_ce_loss<acc_t>(shifted_lse, static_cast<acc_t>(row.z[row.a]) - ref,
                               static_cast<acc_t>(row.z[row.b]) - ref, shifted_sum, row.lam, p.smoothing, p.classes);
    });
  });
  return {f.loss, f.lse};
}

at::Tensor mixup_cross_entropy_backward_cpu(const at::Tensor& grad_loss, const at::Tensor& logits, const at::Tensor& y_a,
                                            const at::Tensor& y_b, const at::Tensor& lam, const at::Tensor& lse,
                                            double smoothing) {
  const CrossEntropyBackwardPlan bp = plan_cross_entropy_backward(grad_loss, logits, y_a, y_b, lam, lse, smoothing);
  const LossInputs& p = bp.in;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(), "mixup::_mixup_cross_entropy_backward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto& rows = cpu::loss_row_table().get<scalar_t>();
    const acc_t* grad_loss_in = bp.grad_loss.const_data_ptr<acc_t>();
    const acc_t* shifted_lse = bp.lse.const_data_ptr<acc_t>();
    const acc_t spread = static_cast<acc_t>(p.smoothing / static_cast<double>(p.classes));
    scalar_t* out = bp.grad.mutable_data_ptr<scalar_t>();
    for_each_row<scalar_t, acc_t>(p, [&](const LossRow<scalar_t, acc_t>& row) {
      const acc_t g = grad_loss_in[row.index], lse_i = shifted_lse[row.index];
      scalar_t* dst = out + row.index * p.classes;
      // Every class as if unlabelled, then the labels' classes exactly.
      rows.ce_grad(row.z, p.classes, lse_i, g, spread, dst);
      const acc_t ref = static_cast<acc_t>(row.z[0]);
      for (const int64_t c : {row.a, row.b}) {
        dst[c] = static_cast<scalar_t>(
            g * mixed_ce_grad<acc_t>(static_cast<acc_t>(row.z[c]) - ref, lse_i, c, row.a, row.b, row.lam, p.smoothing,
                                     p.classes));
      }
    });
  });
  return bp.grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CPU, m) {
  m.impl("mixup_cross_entropy", &mixup_cross_entropy_cpu);
  m.impl("_mixup_cross_entropy_backward", &mixup_cross_entropy_backward_cpu);
}

}  // namespace mixup

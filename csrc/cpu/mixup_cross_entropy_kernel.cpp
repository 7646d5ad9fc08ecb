// CPU kernels of mixup::mixup_cross_entropy, the forward that also writes
// its gradient, and the backwards: rows in parallel, each row's passes in
// the vector loops of cpu/mixup_loss_rows.h; the two labelled elements of a
// gradient row in scalar code (mixup_cross_entropy_math.h). The CPU keeps
// two passes where CUDA makes one (a row of logits stays in the core's
// caches between them), so the forward with a gradient is the forward's
// rows, then the backward's for grad_output 1.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include "../dtypes.h"
#include "../mixup_cross_entropy.h"
#include "mixup_loss_row_loop.h"
#include "mixup_loss_rows.h"

namespace mixup {
namespace {

using cpu::for_each_row;
using cpu::LossRow;

template <typename scalar_t, typename acc_t>
void forward_rows(const LossInputs& p, acc_t* loss_out, acc_t* lse_out) {
  const auto& rows = cpu::loss_row_table().get<scalar_t>();
  for_each_row<scalar_t, acc_t>(p, [&](const LossRow<scalar_t, acc_t>& row) {
    acc_t shifted_sum = 0;
    const acc_t shifted_lse = rows.ce_stats(row.z, p.classes, &shifted_sum);
    const acc_t ref = static_cast<acc_t>(row.z[0]);
    lse_out[row.index] = shifted_lse;
    loss_out[row.index] =
        mixed_ce_loss<acc_t>(shifted_lse, static_cast<acc_t>(row.z[row.a]) - ref,
                             static_cast<acc_t>(row.z[row.b]) - ref, shifted_sum, row.lam, p.smoothing, p.classes);
  });
}

// skip_unit: leave the rows whose grad_output is 1 as they are.
template <typename scalar_t, typename acc_t>
void gradient_rows(const LossInputs& p, const UpstreamRows<acc_t>& upstream, bool skip_unit, const acc_t* shifted_lse,
                   scalar_t* out) {
  const auto& rows = cpu::loss_row_table().get<scalar_t>();
  const acc_t spread = static_cast<acc_t>(p.smoothing / static_cast<double>(p.classes));
  for_each_row<scalar_t, acc_t>(p, [&](const LossRow<scalar_t, acc_t>& row) {
    if (skip_unit && upstream.grad_output(row.index) == acc_t(1)) return;
    const acc_t g = upstream.of(row.index), lse_i = shifted_lse[row.index];
    scalar_t* dst = out + row.index * p.classes;
    // Every class as if unlabelled, then the labels' classes exactly.
    rows.ce_grad(row.z, p.classes, lse_i, g, spread, dst);
    const acc_t ref = static_cast<acc_t>(row.z[0]);
    for (const int64_t c : {row.a, row.b}) {
      dst[c] = static_cast<scalar_t>(g * mixed_ce_grad<acc_t>(static_cast<acc_t>(row.z[c]) - ref, lse_i, c, row.a,
                                                              row.b, row.lam, p.smoothing, p.classes));
    }
  });
}

void run_forward(const CrossEntropyForwardPlan& f) {
  dispatch_data_float(f.in.logits.scalar_type(), "mixup::mixup_cross_entropy", [&](auto type) {
    using scalar_t = decltype(type);
    using acc_t = acc_type_t<scalar_t>;
    acc_t* lse = f.lse.mutable_data_ptr<acc_t>();
    forward_rows<scalar_t, acc_t>(f.in, f.loss.mutable_data_ptr<acc_t>(), lse);
    if (f.grad.defined()) {
      gradient_rows<scalar_t, acc_t>(f.in, upstream_rows<acc_t>(f.upstream), /*skip_unit=*/false, lse,
                                     f.grad.mutable_data_ptr<scalar_t>());
    }
  });
}

void run_backward(const CrossEntropyBackwardPlan& b, bool skip_unit) {
  dispatch_data_float(b.in.logits.scalar_type(), "mixup::mixup_cross_entropy", [&](auto type) {
    using scalar_t = decltype(type);
    using acc_t = acc_type_t<scalar_t>;
    gradient_rows<scalar_t, acc_t>(b.in, upstream_rows<acc_t>(b.upstream), skip_unit, b.lse.const_data_ptr<acc_t>(),
                                   b.grad.mutable_data_ptr<scalar_t>());
  });
}

std::tuple<at::Tensor, at::Tensor> mixup_cross_entropy_cpu(const at::Tensor& logits, const at::Tensor& y_a,
                                                           const at::Tensor& y_b, const at::Tensor& lam,
                                                           double smoothing, c10::string_view reduction) {
  constexpr const char* op = "mixup::mixup_cross_entropy";
  const CrossEntropyForwardPlan f = plan_cross_entropy_forward(op, logits, y_a, y_b, lam, smoothing, reduction,
                                                               /*with_grad=*/false);
  run_forward(f);
  return {reduce_rows(f.loss, f.reduction), f.lse};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> mixup_cross_entropy_with_grad_cpu(
    const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
    c10::string_view reduction) {
  constexpr const char* op = "mixup::_mixup_cross_entropy_with_grad";
  const CrossEntropyForwardPlan f = plan_cross_entropy_forward(op, logits, y_a, y_b, lam, smoothing, reduction,
                                                               /*with_grad=*/true);
  run_forward(f);
  return {reduce_rows(f.loss, f.reduction), f.lse, f.grad};
}

at::Tensor mixup_cross_entropy_backward_cpu(const at::Tensor& grad_loss, const at::Tensor& logits,
                                            const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
                                            const at::Tensor& lse, double smoothing, c10::string_view reduction) {
  const CrossEntropyBackwardPlan b =
      plan_cross_entropy_backward(grad_loss, logits, y_a, y_b, lam, lse, smoothing, reduction);
  run_backward(b, /*skip_unit=*/false);
  return b.grad;
}

void mixup_cross_entropy_apply_grad_output_cpu(const at::Tensor& grad, const at::Tensor& grad_loss,
                                               const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                               const at::Tensor& lam, const at::Tensor& lse, double smoothing,
                                               c10::string_view reduction) {
  const CrossEntropyBackwardPlan b =
      plan_cross_entropy_apply_grad_output(grad, grad_loss, logits, y_a, y_b, lam, lse, smoothing, reduction);
  run_backward(b, /*skip_unit=*/true);
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CPU, m) {
  m.impl("mixup_cross_entropy", &mixup_cross_entropy_cpu);
  m.impl("_mixup_cross_entropy_with_grad", &mixup_cross_entropy_with_grad_cpu);
  m.impl("_mixup_cross_entropy_backward", &mixup_cross_entropy_backward_cpu);
  m.impl("_mixup_cross_entropy_apply_grad_output", &mixup_cross_entropy_apply_grad_output_cpu);
}

}  // namespace mixup

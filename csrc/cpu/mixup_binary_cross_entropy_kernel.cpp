// CPU kernels of mixup::mixup_binary_cross_entropy, the forward that also
// writes its gradient (two passes here, as cpu/mixup_cross_entropy_kernel.cpp
// says why), and the backwards. A row's
// target takes one value on every class but the (at most two) labelled
// ones (mixup_binary_cross_entropy_math.h: BinaryTargets), so a row is up to three unlabelled runs
// for the vector loops of cpu/mixup_loss_rows.h, and its labelled elements in
// scalar code shared with CUDA.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <algorithm>

#include "../dtypes.h"
#include "../mixup_binary_cross_entropy.h"
#include "mixup_loss_row_loop.h"
#include "mixup_loss_rows.h"

namespace mixup {
namespace {

using cpu::for_each_row;
using cpu::LossRow;
using cpu::PosWeight;

template <typename acc_t>
PosWeight<acc_t> pos_weight_of(const BinaryCrossEntropyOptions& p) {
  if (!p.pos_weight.defined()) return {};
  return {p.pos_weight.const_data_ptr<acc_t>(), p.pos_weight_stride};
}

template <typename acc_t>
acc_t weight_at(PosWeight<acc_t> w, int64_t c) {
  return w.data == nullptr ? acc_t(1) : w.data[c * w.stride];
}

// run(first, last) over the unlabelled classes of a row, in order: the runs
// before, between and after the labels.
template <typename Run>
void for_each_unlabelled_run(int64_t a, int64_t b, int64_t classes, const Run& run) {
  const int64_t low = std::min(a, b), high = std::max(a, b);
  run(int64_t(0), low);
  if (high > low + 1) run(low + 1, high);
  run(high + 1, classes);
}

// label(c) for each labelled class of a row, once even when y_a == y_b.
template <typename Label>
void for_each_label(int64_t a, int64_t b, const Label& label) {
  label(a);
  if (b != a) label(b);
}

template <typename scalar_t, typename acc_t>
BinaryTargets<acc_t> targets_of(const BinaryCrossEntropyOptions& p, const LossRow<scalar_t, acc_t>& row) {
  return binary_targets<acc_t>(row.lam, static_cast<acc_t>(p.smoothed.on), static_cast<acc_t>(p.smoothed.off),
                               p.thresholded, static_cast<acc_t>(p.threshold));
}

template <typename scalar_t, typename acc_t>
void loss_rows(const BinaryCrossEntropyOptions& p, acc_t* loss_out) {
  const auto& rows = cpu::loss_row_table().get<scalar_t>();
  const PosWeight<acc_t> w = pos_weight_of<acc_t>(p);
  const acc_t scale = static_cast<acc_t>(p.scale);
  for_each_row<scalar_t, acc_t>(p.in, [&](const LossRow<scalar_t, acc_t>& row) {
    const BinaryTargets<acc_t> t = targets_of(p, row);
    acc_t sum = 0;
    for_each_unlabelled_run(row.a, row.b, p.in.classes, [&](int64_t first, int64_t last) {
      if (first < last) sum += rows.bce_sum(row.z, first, last, t.rest, w);
    });
    for_each_label(row.a, row.b, [&](int64_t c) {
      sum += binary_ce_loss<acc_t>(static_cast<acc_t>(row.z[c]), t.of(c, row.a, row.b), weight_at(w, c));
    });
    loss_out[row.index] = sum * scale;
  });
}

// skip_unit: leave the rows whose grad_output is 1 as they are.
template <typename scalar_t, typename acc_t>
void gradient_rows(const BinaryCrossEntropyOptions& p, const UpstreamRows<acc_t>& upstream, bool skip_unit,
                   scalar_t* out) {
  const auto& rows = cpu::loss_row_table().get<scalar_t>();
  const PosWeight<acc_t> w = pos_weight_of<acc_t>(p);
  for_each_row<scalar_t, acc_t>(p.in, [&](const LossRow<scalar_t, acc_t>& row) {
    if (skip_unit && upstream.grad_output(row.index) == acc_t(1)) return;
    const BinaryTargets<acc_t> t = targets_of(p, row);
    const acc_t g = upstream.of(row.index) * static_cast<acc_t>(p.scale);
    scalar_t* dst = out + row.index * p.in.classes;
    for_each_unlabelled_run(row.a, row.b, p.in.classes, [&](int64_t first, int64_t last) {
      if (first < last) rows.bce_grad(row.z, first, last, t.rest, w, g, dst);
    });
    for_each_label(row.a, row.b, [&](int64_t c) {
      dst[c] = static_cast<scalar_t>(
          g * binary_ce_grad<acc_t>(static_cast<acc_t>(row.z[c]), t.of(c, row.a, row.b), weight_at(w, c)));
    });
  });
}

void run_forward(const BinaryCrossEntropyForwardPlan& f) {
  dispatch_data_float(f.in.in.logits.scalar_type(), "mixup::mixup_binary_cross_entropy", [&](auto type) {
    using scalar_t = decltype(type);
    using acc_t = acc_type_t<scalar_t>;
    loss_rows<scalar_t, acc_t>(f.in, f.loss.mutable_data_ptr<acc_t>());
    if (f.grad.defined()) {
      gradient_rows<scalar_t, acc_t>(f.in, upstream_rows<acc_t>(f.upstream), /*skip_unit=*/false,
                                     f.grad.mutable_data_ptr<scalar_t>());
    }
  });
}

void run_backward(const BinaryCrossEntropyBackwardPlan& b, bool skip_unit) {
  dispatch_data_float(b.in.in.logits.scalar_type(), "mixup::mixup_binary_cross_entropy", [&](auto type) {
    using scalar_t = decltype(type);
    using acc_t = acc_type_t<scalar_t>;
    gradient_rows<scalar_t, acc_t>(b.in, upstream_rows<acc_t>(b.upstream), skip_unit,
                                   b.grad.mutable_data_ptr<scalar_t>());
  });
}

at::Tensor mixup_binary_cross_entropy_cpu(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                          const at::Tensor& lam, double smoothing, std::optional<double> threshold,
                                          const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                          c10::string_view reduction) {
  constexpr const char* op = "mixup::mixup_binary_cross_entropy";
  const BinaryCrossEntropyForwardPlan f = plan_binary_cross_entropy_forward(
      op, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction, /*with_grad=*/false);
  run_forward(f);
  return reduce_rows(f.loss, f.reduction);
}

std::tuple<at::Tensor, at::Tensor> mixup_binary_cross_entropy_with_grad_cpu(
    const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
    std::optional<double> threshold, const std::optional<at::Tensor>& pos_weight, bool sum_classes,
    c10::string_view reduction) {
  constexpr const char* op = "mixup::_mixup_binary_cross_entropy_with_grad";
  const BinaryCrossEntropyForwardPlan f = plan_binary_cross_entropy_forward(
      op, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction, /*with_grad=*/true);
  run_forward(f);
  return {reduce_rows(f.loss, f.reduction), f.grad};
}

at::Tensor mixup_binary_cross_entropy_backward_cpu(const at::Tensor& grad_loss, const at::Tensor& logits,
                                                   const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
                                                   double smoothing, std::optional<double> threshold,
                                                   const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                                   c10::string_view reduction) {
  const BinaryCrossEntropyBackwardPlan b = plan_binary_cross_entropy_backward(
      std::nullopt, grad_loss, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction);
  run_backward(b, /*skip_unit=*/false);
  return b.grad;
}

void mixup_binary_cross_entropy_apply_grad_output_cpu(const at::Tensor& grad, const at::Tensor& grad_loss,
                                                      const at::Tensor& logits, const at::Tensor& y_a,
                                                      const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
                                                      std::optional<double> threshold,
                                                      const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                                      c10::string_view reduction) {
  const BinaryCrossEntropyBackwardPlan b = plan_binary_cross_entropy_backward(
      grad, grad_loss, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction);
  run_backward(b, /*skip_unit=*/true);
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CPU, m) {
  m.impl("mixup_binary_cross_entropy", &mixup_binary_cross_entropy_cpu);
  m.impl("_mixup_binary_cross_entropy_with_grad", &mixup_binary_cross_entropy_with_grad_cpu);
  m.impl("_mixup_binary_cross_entropy_backward", &mixup_binary_cross_entropy_backward_cpu);
  m.impl("_mixup_binary_cross_entropy_apply_grad_output", &mixup_binary_cross_entropy_apply_grad_output_cpu);
}

}  // namespace mixup

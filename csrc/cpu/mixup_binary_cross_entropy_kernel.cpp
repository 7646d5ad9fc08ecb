// CPU kernels of mixup::mixup_binary_cross_entropy and its backward. A row's
// target takes one value on every class but the (at most two) labelled
// ones (mixup_binary_cross_entropy_math.h: BinaryTargets), so a row is up to three unlabelled runs
// for the vector loops of cpu/mixup_loss_rows.h, and its labelled elements in
// scalar code shared with CUDA.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <algorithm>

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

at::Tensor mixup_binary_cross_entropy_cpu(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                          const at::Tensor& lam, double smoothing, std::optional<double> threshold,
                                          const std::optional<at::Tensor>& pos_weight, bool sum_classes) {
  const BinaryCrossEntropyForwardPlan f = plan_binary_cross_entropy_forward(logits, y_a, y_b, lam, smoothing, threshold, pos_weight,
                                                           sum_classes, /*check_values=*/true);
  const BinaryCrossEntropyOptions& p = f.in;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(), "mixup::mixup_binary_cross_entropy", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto& rows = cpu::loss_row_table().get<scalar_t>();
    const PosWeight<acc_t> w = pos_weight_of<acc_t>(p);
    const acc_t scale = static_cast<acc_t>(p.scale);
    acc_t* loss_out = f.loss.mutable_data_ptr<acc_t>();
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
  });
  return f.loss;
}

at::Tensor mixup_binary_cross_entropy_backward_cpu(const at::Tensor& grad_loss, const at::Tensor& logits,
                                                   const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
                                                   double smoothing, std::optional<double> threshold,
                                                   const std::optional<at::Tensor>& pos_weight, bool sum_classes) {
  const BinaryCrossEntropyBackwardPlan bp = plan_binary_cross_entropy_backward(grad_loss, logits, y_a, y_b, lam, smoothing, threshold,
                                                              pos_weight, sum_classes);
  const BinaryCrossEntropyOptions& p = bp.in;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, logits.scalar_type(),
                                  "mixup::_mixup_binary_cross_entropy_backward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto& rows = cpu::loss_row_table().get<scalar_t>();
    const PosWeight<acc_t> w = pos_weight_of<acc_t>(p);
    const acc_t* grad_loss_in = bp.grad_loss.const_data_ptr<acc_t>();
    scalar_t* out = bp.grad.mutable_data_ptr<scalar_t>();
    for_each_row<scalar_t, acc_t>(p.in, [&](const LossRow<scalar_t, acc_t>& row) {
      const BinaryTargets<acc_t> t = targets_of(p, row);
      const acc_t g = grad_loss_in[row.index] * static_cast<acc_t>(p.scale);
      scalar_t* dst = out + row.index * p.in.classes;
      for_each_unlabelled_run(row.a, row.b, p.in.classes, [&](int64_t first, int64_t last) {
        if (first < last) rows.bce_grad(row.z, first, last, t.rest, w, g, dst);
      });
      for_each_label(row.a, row.b, [&](int64_t c) {
        dst[c] = static_cast<scalar_t>(
            g * binary_ce_grad<acc_t>(static_cast<acc_t>(row.z[c]), t.of(c, row.a, row.b), weight_at(w, c)));
      });
    });
  });
  return bp.grad;
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, CPU, m) {
  m.impl("mixup_binary_cross_entropy", &mixup_binary_cross_entropy_cpu);
  m.impl("_mixup_binary_cross_entropy_backward", &mixup_binary_cross_entropy_backward_cpu);
}

}  // namespace mixup

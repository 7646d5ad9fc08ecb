// What the loss family (mixup::mixup_cross_entropy and
// mixup::mixup_binary_cross_entropy) shares on the host: the validated logits,
// the two label vectors and the weights that every loss of a mixed pair takes.
// Each op's own plan (mixup_cross_entropy.h, mixup_binary_cross_entropy.h)
// builds on this one.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/macros/Macros.h>
#include <c10/util/string_view.h>

namespace mixup {

// How the per-row losses become the op's output, as in F.cross_entropy.
// The reduction lives in the op (not in Python after it) so that the
// forward, which writes the gradient while it holds a row, can fold the
// mean's 1 / B into that gradient.
enum class Reduction { kNone, kMean, kSum };

// "none", "mean" or "sum"; anything else is refused, naming `op`.
Reduction parse_reduction(const char* op, c10::string_view reduction);

// The per-row losses reduced: (B,) as they are, or a () mean or sum.
at::Tensor reduce_rows(const at::Tensor& rows, Reduction reduction);

struct LossInputs {
  at::Tensor logits;  // (B, C), unit stride along C
  at::Tensor y_a, y_b;
  at::Tensor lam;  // () or (B,), in the accumulation dtype
  int64_t batch = 0, classes = 0;
  int64_t lam_stride = 0;
  double smoothing = 0.0;
};

// Validates logits (B, C), y_a and y_b (B,) int64, lam () or (B,) and the
// smoothing, naming `op` and the argument. `check_values` (a forward; its
// backward reuses checked values) also checks the labels' range and lam in
// [0, 1] where value_checks.h reads values: always on the CPU, on CUDA with
// value checks on (otherwise the kernels assert the labels' range).
LossInputs plan_loss_inputs(const char* op, const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                            const at::Tensor& lam, double smoothing, bool check_values);

// A backward's per-row tensor `name` ((B,), floating, on logits' device),
// checked and returned contiguous in the accumulation dtype.
at::Tensor plan_per_row(const char* op, const char* name, const at::Tensor& t, const LossInputs& in);

// The gradient of the reduced loss, as a kernel reads it per row: row i's
// upstream gradient is values[i * stride] / divisor -- the (B,) grad_output
// for "none" (stride 1), the () one for "sum" (stride 0), and that over B
// for "mean", divided in the accumulation dtype exactly as autograd's
// MeanBackward divides, so the gradient matches a mean taken after the op
// bit for bit. `values` is undefined for the gradient the forward writes
// (grad_output 1: every row's upstream gradient is 1 / divisor).
struct UpstreamGrad {
  at::Tensor values;  // (B,) or (), contiguous, accumulation dtype
  int64_t stride = 0;
  int64_t divisor = 1;
};

// `grad` is the (B, C) contiguous gradient, of logits' dtype and device,
// that a forward with grad wrote: an apply_grad_output op rewrites it.
void check_forward_gradient(const char* op, const at::Tensor& grad, const LossInputs& in);

// An UpstreamGrad as the CPU and CUDA kernels read it, row by row.
template <typename acc_t>
struct UpstreamRows {
  const acc_t* values;  // null: grad_output 1
  int64_t stride;
  acc_t divisor;

  C10_HOST_DEVICE acc_t grad_output(int64_t r) const { return values == nullptr ? acc_t(1) : values[r * stride]; }
  // What row r's gradient elements are scaled by.
  C10_HOST_DEVICE acc_t of(int64_t r) const { return grad_output(r) / divisor; }
};

template <typename acc_t>
UpstreamRows<acc_t> upstream_rows(const UpstreamGrad& g) {
  return {g.values.defined() ? g.values.template const_data_ptr<acc_t>() : nullptr, g.stride,
          static_cast<acc_t>(g.divisor)};
}

// The forward's own: grad_output 1, as loss.backward() passes it.
UpstreamGrad unit_upstream_grad(Reduction reduction, const LossInputs& in);

// A backward's grad_output: () for "mean" and "sum", (B,) for "none".
UpstreamGrad plan_upstream_grad(const char* op, const at::Tensor& grad_loss, Reduction reduction, const LossInputs& in);

}  // namespace mixup

// Host-side planning for mixup::fused_mix and mixup::_fused_mix_backward.
//
// Both backends start from the same plan: the arguments validated (metadata
// always; values only where that needs no device sync), the output allocated
// in the contract's memory format, and every pointer and stride a kernel needs.
// The backends then only differ in how they walk memory.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>

#include <optional>
#include <tuple>

#include "dtypes.h"
#include "fused_mix_math.h"

namespace mixup {

// A (B, ...) tensor viewed as B dense rows that share one memory layout.
struct DenseRows {
  at::Tensor rows;          // the input itself, or a contiguous copy if its rows are not dense
  at::MemoryFormat format;  // the layout the output gets
  int64_t batch_stride;     // elements between row i and row i + 1 of `rows`
};

// The mixing that x (forward) and grad (backward) share.
struct RowMixPlan {
  at::Tensor index;  // (B,) int64
  at::Tensor lam;    // () or (B,), in the accumulation dtype of the rows
  at::Tensor box;    // (4,) or (B, 4) int64 with unit inner stride, or undefined
  int64_t batch = 0;
  int64_t batch_stride = 0;  // of the input rows
  RowGeometry geometry{0, 1, 1, 1};
  // The output's per-channel normalisation: both defined ((C,), contiguous,
  // in the accumulation dtype) or both undefined. The backward has mean 0.
  at::Tensor mean, std;
  ChannelGeometry channels{1, 1};

  template <typename acc_t>
  Normalize<acc_t> normalize() const {
    if (!mean.defined()) return Normalize<acc_t>{nullptr, nullptr};
    return Normalize<acc_t>{mean.const_data_ptr<acc_t>(), std.const_data_ptr<acc_t>()};
  }

  template <typename lam_t>
  Pairing<lam_t> pairing() const {
    return Pairing<lam_t>{index.const_data_ptr<int64_t>(),
                          index.stride(0),
                          lam.const_data_ptr<lam_t>(),
                          lam.dim() == 0 ? 0 : lam.stride(0),
                          box.defined() ? box.const_data_ptr<int64_t>() : nullptr,
                          box.defined() && box.dim() == 2 ? box.stride(0) : 0,
                          batch};
  }
};

struct ForwardPlan {
  RowMixPlan mix;
  at::Tensor x_rows;      // x, or a contiguous copy when x's rows are not dense
  at::Tensor out;         // x's shape, in x's memory format (or contiguous), of out_dtype
  at::Tensor target;      // as given, or undefined for none
  at::Tensor out_target;  // (B, num_classes), contiguous; (B, 0) without a target
  TargetArgs target_args;
};

struct BackwardPlan {
  RowMixPlan mix;
  at::Tensor grad_rows;
  at::Tensor grad_input;
  // For each row j, the rows i with index[i] == j, in increasing order, as a
  // CSR list: the readers of j are order[offsets[j] : offsets[j + 1]].
  // Allocated here, filled by the backend before its kernel runs. Gathering
  // through it keeps the backward free of atomics and bitwise reproducible.
  at::Tensor order;    // (B,) int64
  at::Tensor offsets;  // (B + 1,) int64
  double scale = 1.0;
};

// Validates the arguments' metadata, allocates the outputs, and fills the plan.
ForwardPlan plan_forward(const at::Tensor& x, const std::optional<at::Tensor>& target, const at::Tensor& index,
                         const at::Tensor& lam, const std::optional<at::Tensor>& box, int64_t num_classes,
                         double smoothing, const std::optional<at::Tensor>& mean, const std::optional<at::Tensor>& std,
                         std::optional<at::ScalarType> out_dtype);
BackwardPlan plan_backward(const at::Tensor& grad, const at::Tensor& index, const at::Tensor& lam,
                           const std::optional<at::Tensor>& box, double scale, const std::optional<at::Tensor>& std);

// Calls f(in_t{}, out_t{}) with the C++ types of a forward's sample dtype
// (uint8 or a float) and output dtype (a float): the one dispatch both
// backends use, so they instantiate the same pairs.
template <typename F>
void dispatch_in_out(at::ScalarType in, at::ScalarType out, const F& f) {
  dispatch_sample(in, "mixup::fused_mix", [&](auto in_value) {
    dispatch_data_float(out, "mixup::fused_mix", [&](auto out_value) { f(in_value, out_value); });
  });
}

// Fills plan.order and plan.offsets with a stable library sort of index
// (device agnostic, a few launches). The CPU builds its lists with a counting
// sort instead; CUDA builds them in one block and uses this only for batches
// above that block's shared-memory limit.
void fill_readers_by_sort(const BackwardPlan& plan);

// Value checks (index range, lam in [0, 1], label range, box inside the
// image, finite mean and finite non-zero std). plan_forward and plan_backward
// run them where value_checks.h says they read values: always on the CPU; on
// CUDA only with value checks on, since the kernels device-assert what would
// read out of bounds (and std: non-zero) without a sync.
void check_values(const char* op, const RowMixPlan& mix);
void check_values(const ForwardPlan& plan);

}  // namespace mixup

// Host-side planning for mixup::fused_mix and mixup::fused_mix_backward.
//
// Both backends start from the same plan: the arguments validated (metadata
// always; values only where that needs no device sync), the output allocated
// in the contract's memory format, and every pointer and stride a kernel needs.
// The backends then only differ in how they walk memory.
#pragma once

#include <ATen/core/Tensor.h>

#include <optional>
#include <tuple>

#include "mix_math.h"

namespace mixup {

// A (B, ...) tensor viewed as B dense rows that share one memory layout.
struct DenseRows {
  at::Tensor rows;           // the input itself, or a contiguous copy if its rows are not dense
  at::MemoryFormat format;   // the layout the output gets
  int64_t batch_stride;      // elements between row i and row i + 1 of `rows`
};

// The mixing that x (forward) and grad (backward) share.
struct RowMixPlan {
  at::Tensor index;  // (B,) int64
  at::Tensor lam;    // () or (B,), in the accumulation dtype of the rows
  at::Tensor box;    // (4,) or (B, 4) int64 with unit inner stride, or undefined
  int64_t batch = 0;
  int64_t batch_stride = 0;  // of the input rows
  RowGeometry geometry{0, 1, 1, 1};

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
  at::Tensor out;         // like x, in x's memory format (or contiguous)
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
ForwardPlan plan_forward(const at::Tensor& x, const std::optional<at::Tensor>& target,
                         const at::Tensor& index, const at::Tensor& lam,
                         const std::optional<at::Tensor>& box, int64_t num_classes,
                         double smoothing);
BackwardPlan plan_backward(const at::Tensor& grad, const at::Tensor& index, const at::Tensor& lam,
                           const std::optional<at::Tensor>& box, double scale);

// Fills plan.order and plan.offsets with a stable library sort of index
// (device agnostic, a few launches). The CPU builds its lists with a counting
// sort instead; CUDA builds them in one block and uses this only for batches
// above that block's shared-memory limit.
void fill_readers_by_sort(const BackwardPlan& plan);

// Value checks (index range, label range, box inside the image). They read
// the tensors' contents, so only the CPU backend calls them; on CUDA the same
// conditions are device-side asserts in the kernels (MIXUP_DEVICE_ASSERT).
void check_values_on_host(const char* op, const RowMixPlan& mix);
void check_values_on_host(const ForwardPlan& plan);

}  // namespace mixup

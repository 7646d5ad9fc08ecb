// The C++ entry points of the `mixup` operators: each one calls its op
// through the dispatcher, so autograd, the CPU/CUDA kernels and any other
// registered key run exactly as they do from Python (torch.ops.mixup.*).
// libtorch programs include this header and link libmixup_ext
// (examples/cpp/fused_mix_example.cpp); the autograd kernels in autograd/
// use it to call the ops below the Autograd key.
#pragma once

#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>
#include <c10/util/ArrayRef.h>
#include <c10/util/string_view.h>

#include <optional>
#include <tuple>
#include <vector>

namespace mixup {

// Mixes x and (optionally) its targets with the same weights; see the schema
// in mixup_schemas.def. Without a target the second output is an empty (B, 0) tensor.
// mean/std: (C,) per-channel normalisation of the output; out_dtype: its dtype.
std::tuple<at::Tensor, at::Tensor> fused_mix(const at::Tensor& x, const std::optional<at::Tensor>& target,
                                             const at::Tensor& index, const at::Tensor& lam,
                                             const std::optional<at::Tensor>& box, int64_t num_classes,
                                             double smoothing, const std::optional<at::Tensor>& mean = std::nullopt,
                                             const std::optional<at::Tensor>& std = std::nullopt,
                                             std::optional<at::ScalarType> out_dtype = std::nullopt);

// The adjoint of the mix, times `scale` and divided by std per channel: the
// gradient of fused_mix's x (box given, scale 1, the forward's std) or of
// its soft targets (no box, scale 1 - smoothing).
at::Tensor _fused_mix_backward(const at::Tensor& grad, const at::Tensor& index, const at::Tensor& lam,
                               const std::optional<at::Tensor>& box, double scale,
                               const std::optional<at::Tensor>& std = std::nullopt);

// One Mixup/CutMix call's partners, weights and boxes, drawn on x's device.
std::tuple<at::Tensor, at::Tensor, at::Tensor> draw_mix_params(const at::Tensor& x, c10::string_view mode,
                                                               c10::string_view pairing, double mixup_alpha,
                                                               double cutmix_alpha, double mix_prob, double switch_prob,
                                                               std::optional<c10::ArrayRef<double>> minmax,
                                                               bool correct_lam, bool full_side,
                                                               std::optional<at::Generator> generator);

// lam * CE_eps(logits, y_a) + (1 - lam) * CE_eps(logits, y_b) per row,
// reduced ("none": (B,), "mean"/"sum": ()), and the shifted log-sum-exp its
// backwards reuse.
std::tuple<at::Tensor, at::Tensor> mixup_cross_entropy(const at::Tensor& logits, const at::Tensor& y_a,
                                                       const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
                                                       c10::string_view reduction = "none");

// The same, and the gradient of the logits for grad_output 1.
std::tuple<at::Tensor, at::Tensor, at::Tensor> _mixup_cross_entropy_with_grad(const at::Tensor& logits,
                                                                              const at::Tensor& y_a,
                                                                              const at::Tensor& y_b,
                                                                              const at::Tensor& lam, double smoothing,
                                                                              c10::string_view reduction);

at::Tensor _mixup_cross_entropy_backward(const at::Tensor& grad_loss, const at::Tensor& logits, const at::Tensor& y_a,
                                         const at::Tensor& y_b, const at::Tensor& lam, const at::Tensor& shifted_lse,
                                         double smoothing, c10::string_view reduction = "none");

// _with_grad's gradient rewritten in place for grad_loss where it is not 1.
void _mixup_cross_entropy_apply_grad_output(const at::Tensor& grad, const at::Tensor& grad_loss,
                                            const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                            const at::Tensor& lam, const at::Tensor& shifted_lse, double smoothing,
                                            c10::string_view reduction);

// timm BinaryCrossEntropy of the mixed target lam * s(y_a) + (1 - lam) *
// s(y_b), optionally binarised (t > threshold), per row: the sum over
// classes when sum_classes, else their mean; reduced over rows as above.
// pos_weight: () or (C,).
at::Tensor mixup_binary_cross_entropy(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                      const at::Tensor& lam, double smoothing,
                                      std::optional<double> threshold = std::nullopt,
                                      const std::optional<at::Tensor>& pos_weight = std::nullopt,
                                      bool sum_classes = false, c10::string_view reduction = "none");

std::tuple<at::Tensor, at::Tensor> _mixup_binary_cross_entropy_with_grad(const at::Tensor& logits,
                                                                         const at::Tensor& y_a, const at::Tensor& y_b,
                                                                         const at::Tensor& lam, double smoothing,
                                                                         std::optional<double> threshold,
                                                                         const std::optional<at::Tensor>& pos_weight,
                                                                         bool sum_classes, c10::string_view reduction);

at::Tensor _mixup_binary_cross_entropy_backward(const at::Tensor& grad_loss, const at::Tensor& logits,
                                                const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
                                                double smoothing, std::optional<double> threshold,
                                                const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                                c10::string_view reduction = "none");

void _mixup_binary_cross_entropy_apply_grad_output(const at::Tensor& grad, const at::Tensor& grad_loss,
                                                   const at::Tensor& logits, const at::Tensor& y_a,
                                                   const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
                                                   std::optional<double> threshold,
                                                   const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                                   c10::string_view reduction);

// Variable-size images mixed in pairs (timm's NaFlexMixup): the central
// overlap of each pair blended or pasted, everything else copied; see the
// schema. pairs (P, 2) int64, lam (P,) and box (P, 6) int64 are CPU tensors.
std::vector<at::Tensor> naflex_mix(at::TensorList images, const at::Tensor& pairs, const at::Tensor& lam,
                                   const at::Tensor& box);
// The same into the images themselves.
void naflex_mix_(at::TensorList images, const at::Tensor& pairs, const at::Tensor& lam, const at::Tensor& box);

}  // namespace mixup

// Calls mixup::fused_mix from C++ through the dispatcher, as any libtorch
// program would, and checks the result against the contract's formulas:
// once through the raw dispatcher handle, once through the library's C++ API
// (ops.h), with a gradient: autograd is registered in C++, so a libtorch
// training loop gets it without Python. Then the fused mixup BCE, loss and
// gradient, against ATen's. Built and run by CMakeLists.txt (ctest).
#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/autograd.h>

#include "ops.h"

#include <cstdio>
#include <optional>
#include <tuple>

int main() {
  using Signature = std::tuple<at::Tensor, at::Tensor>(
      const at::Tensor&, const std::optional<at::Tensor>&, const at::Tensor&, const at::Tensor&,
      const std::optional<at::Tensor>&, int64_t, double, const std::optional<at::Tensor>&,
      const std::optional<at::Tensor>&, std::optional<at::ScalarType>);
  const auto fused_mix = c10::Dispatcher::singleton().findSchemaOrThrow("mixup::fused_mix", "").typed<Signature>();

  at::manual_seed(0);
  const int64_t batch = 4, classes = 10;
  const at::Tensor x = at::randn({batch, 3, 8, 8});
  const at::Tensor labels = at::tensor({1, 4, 7, 9}, at::kLong);
  const at::Tensor index = at::tensor({3, 2, 1, 0}, at::kLong);
  const at::Tensor lam = at::rand({batch});
  const double smoothing = 0.1;

  // A blend: out[i] = lam[i] * x[i] + (1 - lam[i]) * x[index[i]].
  auto [out, mixed] =
      fused_mix.call(x, labels, index, lam, std::nullopt, classes, smoothing, std::nullopt, std::nullopt, std::nullopt);
  const at::Tensor w = lam.view({batch, 1, 1, 1});
  const bool blend_ok = at::allclose(out, w * x + (1 - w) * x.index_select(0, index));

  // Smoothed one-hot targets mixed by the same weights still sum to one.
  const bool targets_ok = at::allclose(mixed.sum(1), at::ones({batch}));

  // CutMix: inside the box the partner's pixels, outside the sample's own.
  const at::Tensor box = at::tensor({2, 6, 1, 5}, at::kLong);
  auto [pasted, unused] =
      fused_mix.call(x, labels, index, lam, box, classes, smoothing, std::nullopt, std::nullopt, std::nullopt);
  using at::indexing::Slice;
  const bool paste_ok =
      at::equal(pasted.index({Slice(), Slice(), Slice(2, 6), Slice(1, 5)}),
                x.index_select(0, index).index({Slice(), Slice(), Slice(2, 6), Slice(1, 5)})) &&
      at::equal(pasted.index({Slice(), Slice(), Slice(0, 2)}), x.index({Slice(), Slice(), Slice(0, 2)}));

  // The gradient, through the Autograd kernel: d out / d x is the blend's adjoint,
  // grad_x[j] = lam[j] g[j] + sum over i with index[i] == j of (1 - lam[i]) g[i].
  const at::Tensor leaf = x.clone().requires_grad_(true);
  const at::Tensor g = at::randn(x.sizes());
  auto [mixed_x, no_targets] = mixup::fused_mix(leaf, std::nullopt, index, lam, std::nullopt, 0, 0.0);
  torch::autograd::backward({mixed_x}, {g});
  const at::Tensor expected_grad = w * g + at::zeros_like(g).index_add_(0, index, (1 - w) * g);
  const bool grad_ok = leaf.grad().defined() && at::allclose(leaf.grad(), expected_grad) && no_targets.size(1) == 0;

  // The fused mixup BCE (ops.h), loss and gradient, against ATen's BCE on the
  // dense target timm's Mixup builds: lam * s(y_a) + (1 - lam) * s(y_b).
  const at::Tensor logits = at::randn({batch, classes});
  const at::Tensor partner = labels.index_select(0, index);
  const double off = smoothing / classes, on = 1.0 - smoothing + off;
  const at::Tensor s_a = at::full({batch, classes}, off).scatter_(1, labels.view({batch, 1}), on);
  const at::Tensor s_b = at::full({batch, classes}, off).scatter_(1, partner.view({batch, 1}), on);
  const at::Tensor lam_col = lam.view({batch, 1});
  const at::Tensor fused_leaf = logits.clone().requires_grad_(true), dense_leaf = logits.clone().requires_grad_(true);
  const at::Tensor fused_rows = mixup::mixup_binary_cross_entropy(fused_leaf, labels, partner, lam, smoothing);
  const at::Tensor dense_rows = at::binary_cross_entropy_with_logits(dense_leaf, lam_col * s_a + (1 - lam_col) * s_b,
                                                                     std::nullopt, std::nullopt, at::Reduction::None)
                                    .mean(1);
  torch::autograd::backward({fused_rows.sum(), dense_rows.sum()});
  const bool bce_ok = at::allclose(fused_rows, dense_rows) && at::allclose(fused_leaf.grad(), dense_leaf.grad());

  std::printf("mixup ops from C++: blend %s, targets %s, cutmix %s, gradient %s, binary cross-entropy %s\n",
              blend_ok ? "ok" : "WRONG", targets_ok ? "ok" : "WRONG", paste_ok ? "ok" : "WRONG",
              grad_ok ? "ok" : "WRONG", bce_ok ? "ok" : "WRONG");
  return blend_ok && targets_ok && paste_ok && grad_ok && bce_ok ? 0 : 1;
}

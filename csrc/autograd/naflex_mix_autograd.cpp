// Autograd for mixup::naflex_mix and mixup::naflex_mix_, in C++ under the
// Autograd key (see fused_mix_autograd.cpp for why).
//
// The mix is linear in the images, and each image is in at most one pair, so
// the adjoint works pair by pair on the central overlaps (outside them the
// op copies, and the gradient passes through):
//   blend  out_i = lam x_i + (1 - lam) x_j, out_j = lam x_j + (1 - lam) x_i
//          is symmetric: its adjoint is the same blend of the gradients;
//   paste  out_i takes x_j inside side 0's box, out_j takes x_i inside side
//          1's, so grad x_i = grad out_i outside side 0's box, plus grad out_j
//          inside side 1's box (and the same with i and j swapped).
// The backward is written in ATen ops on views, a few per pair, so that it is
// itself differentiable (double backward) and runs on any device. pairs, lam
// and box are host tensors (the op's contract), read without a sync.
//
// The in-place op cannot record the images' history, so it refuses images
// that need a gradient instead of dropping it.
#include <ATen/ATen.h>
#include <ATen/TensorIndexing.h>
#include <torch/autograd.h>
#include <torch/csrc/autograd/variable.h>
#include <torch/library.h>

#include <algorithm>
#include <vector>

#include "../fused_mix_math.h"  // Box::kNoBox
#include "../ops.h"

namespace mixup {
namespace {

using at::indexing::Slice;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The central overlap of two (C, H, W) images, as naflex_mix_math.h places it.
struct Overlap {
  int64_t height, width;
  at::Tensor of(const at::Tensor& image) const {
    const int64_t top = (image.size(1) - height) / 2, left = (image.size(2) - width) / 2;
    return image.index({Slice(), Slice(top, top + height), Slice(left, left + width)});
  }
};

at::Tensor box_of(const at::Tensor& overlap, int64_t height, int64_t width, int64_t top, int64_t left) {
  return overlap.index({Slice(), Slice(top, top + height), Slice(left, left + width)});
}

variable_list naflex_mix_adjoint(const variable_list& grads, const at::Tensor& pairs, const at::Tensor& lam,
                                 const at::Tensor& box) {
  variable_list result;
  result.reserve(grads.size());
  for (const at::Tensor& g : grads) result.push_back(g.clone());
  const auto pair = pairs.accessor<int64_t, 2>();
  const auto corner = box.accessor<int64_t, 2>();
  const at::Tensor weights = lam.to(at::kDouble).contiguous();
  const double* weight = weights.data_ptr<double>();
  for (int64_t p = 0; p < pairs.size(0); ++p) {
    const int64_t i = pair[p][0], j = pair[p][1];
    const Overlap overlap{std::min(grads[i].size(1), grads[j].size(1)), std::min(grads[i].size(2), grads[j].size(2))};
    const at::Tensor g_i = overlap.of(grads[i]), g_j = overlap.of(grads[j]);
    at::Tensor r_i = overlap.of(result[i]), r_j = overlap.of(result[j]);
    if (corner[p][0] == Box::kNoBox) {
      r_i.copy_(g_i.mul(weight[p]).add_(g_j.mul(1.0 - weight[p])));
      r_j.copy_(g_j.mul(weight[p]).add_(g_i.mul(1.0 - weight[p])));
      continue;
    }
    const int64_t h = corner[p][0], w = corner[p][1];
    const int64_t top_i = corner[p][2], left_i = corner[p][3], top_j = corner[p][4], left_j = corner[p][5];
    // Zero both boxes first: with corners that overlap, the additions below
    // must land on the zeroed values, not on a box not yet cleared.
    box_of(r_i, h, w, top_i, left_i).zero_();
    box_of(r_j, h, w, top_j, left_j).zero_();
    box_of(r_i, h, w, top_j, left_j).add_(box_of(g_j, h, w, top_j, left_j));
    box_of(r_j, h, w, top_i, left_i).add_(box_of(g_i, h, w, top_i, left_i));
  }
  return result;
}

class NaFlexMixFunction : public torch::autograd::Function<NaFlexMixFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, at::TensorList images, const at::Tensor& pairs,
                               const at::Tensor& lam, const at::Tensor& box) {
    ctx->save_for_backward({pairs, lam, box});
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    return mixup::naflex_mix(images, pairs, lam, box);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const at::Tensor &pairs = saved[0], &lam = saved[1], &box = saved[2];  // save_for_backward's order
    variable_list result = naflex_mix_adjoint(grads, pairs, lam, box);
    // pairs, lam and box get no gradient, by contract.
    result.resize(grads.size() + 3);
    return result;
  }
};

bool any_requires_grad(at::TensorList images) {
  if (!at::GradMode::is_enabled()) return false;
  for (const at::Tensor& image : images) {
    if (image.requires_grad()) return true;
  }
  return false;
}

std::vector<at::Tensor> naflex_mix_autograd(at::TensorList images, const at::Tensor& pairs, const at::Tensor& lam,
                                            const at::Tensor& box) {
  if (!any_requires_grad(images)) {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    return mixup::naflex_mix(images, pairs, lam, box);
  }
  return NaFlexMixFunction::apply(images, pairs, lam, box);
}

void naflex_mix_inplace_autograd(at::TensorList images, const at::Tensor& pairs, const at::Tensor& lam,
                                 const at::Tensor& box) {
  TORCH_CHECK_VALUE(!any_requires_grad(images),
                    "mixup::naflex_mix_: images must not require grad: the in-place mix cannot record their "
                    "history, so their gradient would be lost; use mixup::naflex_mix (NaFlexMixup(in_place=False)), "
                    "which has one, or mix under torch.no_grad()");
  {
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    mixup::naflex_mix_(images, pairs, lam, box);
  }
  // Tensors saved for another graph's backward must see that they changed.
  for (const at::Tensor& image : images) torch::autograd::impl::bump_version(image);
}

}  // namespace

TORCH_LIBRARY_IMPL(mixup, Autograd, m) {
  m.impl("naflex_mix", &naflex_mix_autograd);
  m.impl("naflex_mix_", &naflex_mix_inplace_autograd);
}

}  // namespace mixup

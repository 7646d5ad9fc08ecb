// The backward of a loss whose forward already wrote the gradient for
// grad_output 1 (mixup_cross_entropy_autograd.cpp,
// mixup_binary_cross_entropy_autograd.cpp).
//
// The first backward hands out the forward's gradient itself. The apply op
// reads grad_output on the device and rewrites only the rows where it is
// not 1, so after loss.backward() -- grad_output 1 -- nothing is read or
// written again: no pass, no host sync, no branch on the host. (Autograd's
// AccumulateGrad then takes the tensor as the leaf's .grad without a copy
// once the node has released it.)
//
// The gradient handed out belongs to the caller from then on, so a second
// backward through the same graph (retain_graph=True) must not write into
// it: it computes a fresh gradient from the saved logits, as does a
// backward that builds a graph of its own (create_graph=True), which needs
// the functional op. Which case holds is known on the host, from this
// node's own history.
#pragma once

#include <ATen/core/grad_mode.h>
#include <ATen/core/Tensor.h>
#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/autograd.h>

namespace mixup {

template <typename ApplyInPlace, typename Fresh>
at::Tensor forward_gradient_for(torch::autograd::AutogradContext* ctx, const at::Tensor& forward_grad,
                                const ApplyInPlace& apply_in_place, const Fresh& fresh) {
  constexpr const char* kHandedOut = "forward_gradient_handed_out";
  if (!at::GradMode::is_enabled() && ctx->saved_data.count(kHandedOut) == 0) {
    ctx->saved_data[kHandedOut] = true;
    // Below ADInplaceOrView: the write is not a user's in-place edit of a
    // saved tensor, and must not bump its version.
    at::AutoDispatchBelowADInplaceOrView below_autograd;
    apply_in_place(forward_grad);
    return forward_grad;
  }
  return fresh();
}

}  // namespace mixup

// The ops with no derivative, under the Autograd key: torch's "not
// implemented" kernel, so that an output computed from a tensor that needs a
// gradient carries a node that raises, naming the op, if a backward ever
// reaches it. Without an Autograd kernel of its own, a custom op falls back
// to one that only warns and leaves the gradient None: silently wrong.
//
// They are the internal ops. The losses' backwards compute a fresh gradient
// when a backward builds a graph (create_graph=True), so a second derivative
// through a loss reaches _backward and is refused there; the _with_grad and
// _apply_grad_output ops run below autograd, inside the losses' own kernels;
// and _sample_mix_params turns uniforms into draws, which have no gradient
// by contract (draw_mix_params runs it below autograd).
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/library.h>

TORCH_LIBRARY_IMPL(mixup, Autograd, m) {
  for (const char* op : {"_sample_mix_params", "_mixup_cross_entropy_with_grad", "_mixup_cross_entropy_backward",
                         "_mixup_cross_entropy_apply_grad_output", "_mixup_binary_cross_entropy_with_grad",
                         "_mixup_binary_cross_entropy_backward", "_mixup_binary_cross_entropy_apply_grad_output"}) {
    m.impl(op, torch::autograd::autogradNotImplementedFallback());
  }
}

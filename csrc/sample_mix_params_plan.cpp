// Validation and allocation for mixup::_sample_mix_params.
#include "sample_mix_params.h"
#include "messages.h"

#include <ATen/ATen.h>

namespace mixup {

SamplePlan plan_sample(const at::Tensor& uniforms, const at::Tensor& gammas,
                       const std::optional<at::Tensor>& pair_index, int64_t height, int64_t width, double mix_prob,
                       double switch_prob, bool mixup_on, bool cutmix_on, std::optional<at::ArrayRef<double>> minmax,
                       bool correct_lam, bool full_side) {
  constexpr const char* op = "mixup::_sample_mix_params";
  TORCH_CHECK_VALUE(uniforms.scalar_type() == at::kDouble && uniforms.dim() == 2 && uniforms.size(1) == kUniforms, op,
                    ": uniforms must be a float64 tensor of shape (n, ", static_cast<int>(kUniforms), "), got ",
                    dtype_name(uniforms.scalar_type()), " ", uniforms.sizes());
  const int64_t draws = uniforms.size(0);
  TORCH_CHECK_VALUE(
      gammas.scalar_type() == at::kDouble && gammas.dim() == 2 && gammas.size(0) == kGammas && gammas.size(1) == draws,
      op, ": gammas must be a float64 tensor of shape (", static_cast<int>(kGammas), ", n) = (",
      static_cast<int>(kGammas), ", ", draws, "), got ", dtype_name(gammas.scalar_type()), " ", gammas.sizes());
  TORCH_CHECK_VALUE(gammas.device() == uniforms.device(), op, ": gammas must be on uniforms' device");
  TORCH_CHECK_VALUE(height > 0 && width > 0, op, ": height and width must be > 0, got ", height, " and ", width);
  TORCH_CHECK_VALUE(mixup_on || cutmix_on, op, ": one of mixup_on, cutmix_on must be true");
  TORCH_CHECK_VALUE(!minmax.has_value() ||
                        (minmax->size() == 2 && 0 < (*minmax)[0] && (*minmax)[0] < (*minmax)[1] && (*minmax)[1] <= 1),
                    op, ": minmax must be an increasing pair inside (0, 1]");

  SamplePlan plan;
  plan.draws = draws;
  plan.uniforms = uniforms.contiguous();
  plan.gammas = gammas.contiguous();
  if (pair_index.has_value() && pair_index->defined()) {
    TORCH_CHECK_VALUE(pair_index->scalar_type() == at::kLong && pair_index->dim() == 1 &&
                          pair_index->size(0) == draws && pair_index->device() == uniforms.device(),
                      op, ": pair_index must be an int64 tensor of shape (n,) = (", draws, ",) on uniforms' device");
    plan.pair_index = pair_index->contiguous();
  }
  plan.config = SampleConfig{height,
                             width,
                             mix_prob,
                             switch_prob,
                             mixup_on,
                             cutmix_on,
                             minmax.has_value(),
                             minmax.has_value() ? (*minmax)[0] : 0.0,
                             minmax.has_value() ? (*minmax)[1] : 0.0,
                             correct_lam,
                             full_side};
  plan.lam = at::empty({draws}, uniforms.options().dtype(at::kFloat));
  plan.box = at::empty({draws, 4}, uniforms.options().dtype(at::kLong));
  return plan;
}

}  // namespace mixup

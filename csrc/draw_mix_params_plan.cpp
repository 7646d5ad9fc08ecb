// Validation and allocation for mixup::draw_mix_params, shared by both backends.
#include <ATen/ATen.h>

#include <cmath>
#include <limits>

#include "draw_mix_params.h"
#include "messages.h"

namespace mixup {
namespace {

constexpr const char* kOp = "mixup::draw_mix_params";

MixMode parse_mode(c10::string_view mode) {
  if (mode == "batch") return MixMode::kBatch;
  if (mode == "pair") return MixMode::kPair;
  if (mode == "elem") return MixMode::kElem;
  TORCH_CHECK_VALUE(false, kOp, ": mode must be one of batch, pair, elem, got '", mode, "'");
}

PartnerRule parse_pairing(c10::string_view pairing) {
  if (pairing == "flip") return PartnerRule::kFlip;
  if (pairing == "roll") return PartnerRule::kRoll;
  if (pairing == "random") return PartnerRule::kRandom;
  TORCH_CHECK_VALUE(false, kOp, ": pairing must be one of flip, roll, random, got '", pairing, "'");
}

void check_probability(const char* name, double p) {
  TORCH_CHECK_VALUE(p >= 0.0 && p <= 1.0, kOp, ": ", name, " must be in [0, 1], got ", number(p));  // refuses NaN too
}

}  // namespace

DrawPlan plan_draw(const at::Tensor& x, c10::string_view mode, c10::string_view pairing, double mixup_alpha,
                   double cutmix_alpha, double mix_prob, double switch_prob,
                   std::optional<c10::ArrayRef<double>> minmax, bool correct_lam, bool full_side,
                   const std::optional<at::Generator>& generator) {
  TORCH_CHECK_VALUE(x.dim() >= 1, kOp, ": x must have a batch dimension (B, ...), got a 0-d tensor");
  DrawConfig c{};
  c.mode = parse_mode(mode);
  c.partners = parse_pairing(pairing);
  TORCH_CHECK_VALUE(!(c.mode == MixMode::kPair && c.partners == PartnerRule::kRoll), kOp,
                    ": mode='pair' needs symmetric partners, and pairing='roll' is not (i takes i-1, "
                    "i-1 takes i-2); use 'flip' or 'random'");
  TORCH_CHECK_VALUE(
      mixup_alpha >= 0.0 && cutmix_alpha >= 0.0 && std::isfinite(mixup_alpha) && std::isfinite(cutmix_alpha), kOp,
      ": mixup_alpha and cutmix_alpha must be finite and >= 0, got ", number(mixup_alpha), " and ",
      number(cutmix_alpha));
  const bool use_minmax = minmax.has_value();
  TORCH_CHECK_VALUE(
      !use_minmax || (minmax->size() == 2 && 0.0 < (*minmax)[0] && (*minmax)[0] < (*minmax)[1] && (*minmax)[1] <= 1.0),
      kOp, ": minmax must be an increasing pair inside (0, 1], got ",
      numbers(use_minmax ? *minmax : c10::ArrayRef<double>{}));
  const bool mixup_on = mixup_alpha > 0.0;
  const bool cutmix_on = cutmix_alpha > 0.0 || use_minmax;
  TORCH_CHECK_VALUE(mixup_on || cutmix_on, kOp, ": one of mixup_alpha > 0, cutmix_alpha > 0 or minmax must be set");
  check_probability("mix_prob", mix_prob);
  check_probability("switch_prob", switch_prob);
  TORCH_CHECK_VALUE(!cutmix_on || x.dim() >= 3, kOp,
                    ": CutMix needs x with at least 3 dims (B, ..., H, W), got x of shape ", x.sizes());
  TORCH_CHECK_VALUE(!generator.has_value() || !generator->defined() || generator->device().type() == x.device().type(),
                    kOp, ": generator must be on x's device type (", x.device().type(), "), got one on ",
                    generator.has_value() && generator->defined() ? generator->device() : x.device());
  const int64_t batch = x.size(0);
  // Permutation keys carry the row in their low 32 bits.
  TORCH_CHECK_VALUE(batch <= std::numeric_limits<int32_t>::max(), kOp,
                    ": batches of more than 2^31 - 1 rows are not supported, got ", batch);

  const int64_t height = x.dim() >= 3 ? x.size(-2) : 1;
  const int64_t width = x.dim() >= 3 ? x.size(-1) : 1;
  c.sample = SampleConfig{height,
                          width,
                          mix_prob,
                          switch_prob,
                          mixup_on,
                          cutmix_on,
                          use_minmax,
                          use_minmax ? (*minmax)[0] : 0.0,
                          use_minmax ? (*minmax)[1] : 0.0,
                          correct_lam,
                          full_side};
  c.mixup_alpha = mixup_alpha;
  c.cutmix_alpha = cutmix_alpha > 0.0 ? cutmix_alpha : 1.0;  // minmax boxes need no alpha (as timm)
  c.batch = batch;

  DrawPlan plan;
  plan.config = c;
  const at::TensorOptions options = x.options().memory_format(std::nullopt);
  plan.index = at::empty({batch}, options.dtype(at::kLong));
  if (c.mode == MixMode::kBatch) {
    plan.lam = at::empty({}, options.dtype(at::kFloat));
    plan.box = at::empty({4}, options.dtype(at::kLong));
  } else {
    plan.lam = at::empty({batch}, options.dtype(at::kFloat));
    plan.box = at::empty({batch, 4}, options.dtype(at::kLong));
  }
  return plan;
}

}  // namespace mixup

// Dispatcher calls behind ops.h. Each typed handle is looked up once.
#include "ops.h"

#include <ATen/core/dispatch/Dispatcher.h>

namespace mixup {
namespace {

template <typename Signature>
c10::TypedOperatorHandle<Signature> op_handle(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Signature>();
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> fused_mix(const at::Tensor& x, const std::optional<at::Tensor>& target,
                                             const at::Tensor& index, const at::Tensor& lam,
                                             const std::optional<at::Tensor>& box, int64_t num_classes,
                                             double smoothing, const std::optional<at::Tensor>& mean,
                                             const std::optional<at::Tensor>& std,
                                             std::optional<at::ScalarType> out_dtype) {
  static const auto op = op_handle<decltype(fused_mix)>("mixup::fused_mix");
  return op.call(x, target, index, lam, box, num_classes, smoothing, mean, std, out_dtype);
}

at::Tensor _fused_mix_backward(const at::Tensor& grad, const at::Tensor& index, const at::Tensor& lam,
                               const std::optional<at::Tensor>& box, double scale,
                               const std::optional<at::Tensor>& std) {
  static const auto op = op_handle<decltype(_fused_mix_backward)>("mixup::_fused_mix_backward");
  return op.call(grad, index, lam, box, scale, std);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> draw_mix_params(const at::Tensor& x, c10::string_view mode,
                                                               c10::string_view pairing, double mixup_alpha,
                                                               double cutmix_alpha, double mix_prob, double switch_prob,
                                                               std::optional<c10::ArrayRef<double>> minmax,
                                                               bool correct_lam, bool full_side,
                                                               std::optional<at::Generator> generator) {
  static const auto op = op_handle<decltype(draw_mix_params)>("mixup::draw_mix_params");
  return op.call(x, mode, pairing, mixup_alpha, cutmix_alpha, mix_prob, switch_prob, minmax, correct_lam, full_side,
                 std::move(generator));
}

std::tuple<at::Tensor, at::Tensor> mixup_cross_entropy(const at::Tensor& logits, const at::Tensor& y_a,
                                                       const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
                                                       c10::string_view reduction) {
  static const auto op = op_handle<decltype(mixup_cross_entropy)>("mixup::mixup_cross_entropy");
  return op.call(logits, y_a, y_b, lam, smoothing, reduction);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> _mixup_cross_entropy_with_grad(const at::Tensor& logits,
                                                                              const at::Tensor& y_a,
                                                                              const at::Tensor& y_b,
                                                                              const at::Tensor& lam, double smoothing,
                                                                              c10::string_view reduction) {
  static const auto op = op_handle<decltype(_mixup_cross_entropy_with_grad)>("mixup::_mixup_cross_entropy_with_grad");
  return op.call(logits, y_a, y_b, lam, smoothing, reduction);
}

at::Tensor _mixup_cross_entropy_backward(const at::Tensor& grad_loss, const at::Tensor& logits, const at::Tensor& y_a,
                                         const at::Tensor& y_b, const at::Tensor& lam, const at::Tensor& shifted_lse,
                                         double smoothing, c10::string_view reduction) {
  static const auto op = op_handle<decltype(_mixup_cross_entropy_backward)>("mixup::_mixup_cross_entropy_backward");
  return op.call(grad_loss, logits, y_a, y_b, lam, shifted_lse, smoothing, reduction);
}

void _mixup_cross_entropy_apply_grad_output(const at::Tensor& grad, const at::Tensor& grad_loss,
                                            const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                            const at::Tensor& lam, const at::Tensor& shifted_lse, double smoothing,
                                            c10::string_view reduction) {
  static const auto op =
      op_handle<decltype(_mixup_cross_entropy_apply_grad_output)>("mixup::_mixup_cross_entropy_apply_grad_output");
  op.call(grad, grad_loss, logits, y_a, y_b, lam, shifted_lse, smoothing, reduction);
}

at::Tensor mixup_binary_cross_entropy(const at::Tensor& logits, const at::Tensor& y_a, const at::Tensor& y_b,
                                      const at::Tensor& lam, double smoothing, std::optional<double> threshold,
                                      const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                      c10::string_view reduction) {
  static const auto op = op_handle<decltype(mixup_binary_cross_entropy)>("mixup::mixup_binary_cross_entropy");
  return op.call(logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction);
}

std::tuple<at::Tensor, at::Tensor> _mixup_binary_cross_entropy_with_grad(const at::Tensor& logits,
                                                                         const at::Tensor& y_a, const at::Tensor& y_b,
                                                                         const at::Tensor& lam, double smoothing,
                                                                         std::optional<double> threshold,
                                                                         const std::optional<at::Tensor>& pos_weight,
                                                                         bool sum_classes, c10::string_view reduction) {
  static const auto op =
      op_handle<decltype(_mixup_binary_cross_entropy_with_grad)>("mixup::_mixup_binary_cross_entropy_with_grad");
  return op.call(logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction);
}

at::Tensor _mixup_binary_cross_entropy_backward(const at::Tensor& grad_loss, const at::Tensor& logits,
                                                const at::Tensor& y_a, const at::Tensor& y_b, const at::Tensor& lam,
                                                double smoothing, std::optional<double> threshold,
                                                const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                                c10::string_view reduction) {
  static const auto op =
      op_handle<decltype(_mixup_binary_cross_entropy_backward)>("mixup::_mixup_binary_cross_entropy_backward");
  return op.call(grad_loss, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction);
}

void _mixup_binary_cross_entropy_apply_grad_output(const at::Tensor& grad, const at::Tensor& grad_loss,
                                                   const at::Tensor& logits, const at::Tensor& y_a,
                                                   const at::Tensor& y_b, const at::Tensor& lam, double smoothing,
                                                   std::optional<double> threshold,
                                                   const std::optional<at::Tensor>& pos_weight, bool sum_classes,
                                                   c10::string_view reduction) {
  static const auto op = op_handle<decltype(_mixup_binary_cross_entropy_apply_grad_output)>(
      "mixup::_mixup_binary_cross_entropy_apply_grad_output");
  op.call(grad, grad_loss, logits, y_a, y_b, lam, smoothing, threshold, pos_weight, sum_classes, reduction);
}

std::vector<at::Tensor> naflex_mix(at::TensorList images, const at::Tensor& pairs, const at::Tensor& lam,
                                   const at::Tensor& box) {
  static const auto op = op_handle<decltype(naflex_mix)>("mixup::naflex_mix");
  return op.call(images, pairs, lam, box);
}

void naflex_mix_(at::TensorList images, const at::Tensor& pairs, const at::Tensor& lam, const at::Tensor& box) {
  static const auto op = op_handle<decltype(naflex_mix_)>("mixup::naflex_mix_");
  op.call(images, pairs, lam, box);
}

}  // namespace mixup

#include "value_checks.h"

#include <ATen/ATen.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "messages.h"

namespace mixup {
namespace {

std::atomic<bool>& value_checks_switch() {
  static std::atomic<bool> enabled{[] {
    const char* env = std::getenv("MIXUP_EXT_CHECK_VALUES");
    return env != nullptr && std::strcmp(env, "1") == 0;
  }()};
  return enabled;
}

}  // namespace

bool value_checks_enabled() { return value_checks_switch().load(std::memory_order_relaxed); }

bool set_value_checks(bool enabled) { return value_checks_switch().exchange(enabled); }

void check_lam_values(const char* op, const at::Tensor& lam) {
  // B values in double: a plain loop, cheaper than the tensor ops that would
  // find the same answer.
  const at::Tensor values = lam.to(at::kCPU, at::kDouble).contiguous();
  const double* v = values.const_data_ptr<double>();
  for (int64_t i = 0; i < values.numel(); ++i) {
    // Written so that NaN fails it too.
    TORCH_CHECK_VALUE(v[i] >= 0.0 && v[i] <= 1.0, op, ": lam must be in [0, 1], got ", number(v[i]),
                      lam.dim() == 0 ? std::string() : " at position " + std::to_string(i));
  }
}

}  // namespace mixup

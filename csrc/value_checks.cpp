#include "value_checks.h"

#include <ATen/ATen.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "dtypes.h"
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
  // A plain strided loop over B values, in place on the CPU: no conversion,
  // no allocation, cheaper than the tensor ops that would find the same.
  const at::Tensor values = lam.cpu();  // lam itself on the CPU; off it, a copy and a sync
  const int64_t stride = values.dim() == 0 ? 0 : values.stride(0);
  dispatch_data_float(values.scalar_type(), op, [&](auto type) {
    const auto* v = values.const_data_ptr<decltype(type)>();
    for (int64_t i = 0; i < values.numel(); ++i) {
      const double value = static_cast<double>(v[i * stride]);
      // Written so that NaN fails it too.
      TORCH_CHECK_VALUE(value >= 0.0 && value <= 1.0, op, ": lam must be in [0, 1], got ", number(value),
                        lam.dim() == 0 ? std::string() : " at position " + std::to_string(i));
    }
  });
}

}  // namespace mixup

// Whether the ops read their small arguments' values (partners, weights,
// boxes, class ids) to refuse bad ones with a ValueError.
//
// On the CPU they always do: the values are in host memory, and a loop over
// B of them costs nothing next to the mix. On a GPU that read is a
// device-to-host copy, which waits for the device, so the hot path skips it
// (the kernels device-assert the conditions that would make them read out of
// bounds). Value checks turn it on, for debugging: MIXUP_EXT_CHECK_VALUES=1
// in the environment, or mixup_ext.set_value_checks(True)
// (mixup::_set_value_checks) in the process.
#pragma once

#include <ATen/core/Tensor.h>

namespace mixup {

bool value_checks_enabled();

// Sets the process-wide switch; returns its previous state.
bool set_value_checks(bool enabled);

// Whether a plan on tensors like `t` reads their values: always on the CPU,
// elsewhere with value checks on.
inline bool reads_values(const at::Tensor& t) { return t.is_cpu() || value_checks_enabled(); }

// lam in [0, 1] (NaN refused), naming `op` and the first bad entry. Reads
// lam's values; on a GPU, with a sync.
void check_lam_values(const char* op, const at::Tensor& lam);

}  // namespace mixup

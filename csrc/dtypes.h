// The dtype rules every op shares, written once: which floats a sample (or
// logits) may be, and the math type a mix or a loss computes in. The Python
// twins are mixup_ext/_validation.py's FLOAT_DTYPES, FLOAT_NAMES and
// accumulation_dtype.
#pragma once

#include <c10/core/ScalarType.h>

#include <type_traits>

namespace mixup {

// The floating dtypes of data (samples, outputs, logits), as refusals name them.
inline constexpr const char* kFloatNames = "float64, float32, float16 or bfloat16";

inline bool is_data_float(at::ScalarType t) {
  return t == at::kDouble || t == at::kFloat || t == at::kHalf || t == at::kBFloat16;
}

// The math type: float64 when either side is float64, else float32 (uint8
// and the 16-bit floats included), as the contract asks.
inline at::ScalarType accumulation_dtype(at::ScalarType in, at::ScalarType out) {
  return in == at::kDouble || out == at::kDouble ? at::kDouble : at::kFloat;
}
inline at::ScalarType accumulation_dtype(at::ScalarType t) { return accumulation_dtype(t, t); }

// The same rule at compile time, for the kernels.
template <typename in_t, typename out_t = in_t>
using acc_type_t = std::conditional_t<std::is_same_v<in_t, double> || std::is_same_v<out_t, double>, double, float>;

}  // namespace mixup

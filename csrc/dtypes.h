// The dtype rules every op shares, written once: which floats a sample (or
// logits) may be, which dtypes a sample may be (uint8 too), the math type a
// mix or a loss computes in, and the one dispatch from a dtype to its C++
// type that every kernel uses. The Python twins are mixup_ext/_validation.py's
// FLOAT_DTYPES, FLOAT_NAMES and accumulation_dtype.
#pragma once

#include <c10/core/ScalarType.h>
#include <c10/util/Exception.h>

#include <cstdint>
#include <type_traits>

#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

namespace mixup {

// The floating dtypes of data (samples, outputs, logits), as refusals name them.
inline constexpr const char* kFloatNames = "float64, float32, float16 or bfloat16";

inline bool is_data_float(at::ScalarType t) {
  return t == at::kDouble || t == at::kFloat || t == at::kHalf || t == at::kBFloat16;
}

// A sample (an image, a row of x) may also be uint8, as a loader gives it.
inline constexpr const char* kSampleNames = "uint8, float64, float32, float16 or bfloat16";

inline bool is_sample_dtype(at::ScalarType t) { return t == at::kByte || is_data_float(t); }

// The math type: float64 when either side is float64, else float32 (uint8
// and the 16-bit floats included), as the contract asks.
inline at::ScalarType accumulation_dtype(at::ScalarType in, at::ScalarType out) {
  return in == at::kDouble || out == at::kDouble ? at::kDouble : at::kFloat;
}
inline at::ScalarType accumulation_dtype(at::ScalarType t) { return accumulation_dtype(t, t); }

// The same rule at compile time, for the kernels.
template <typename in_t, typename out_t = in_t>
using acc_type_t = std::conditional_t<std::is_same_v<in_t, double> || std::is_same_v<out_t, double>, double, float>;

// Calls f(scalar_t{}) with the C++ type of a data float (is_data_float): the
// one dispatch of the kernels, for the dtypes the plans admitted. `op` names
// the caller if a dtype slipped past them.
template <typename F>
decltype(auto) dispatch_data_float(at::ScalarType t, const char* op, const F& f) {
  switch (t) {
    case at::kDouble:
      return f(double{});
    case at::kFloat:
      return f(float{});
    case at::kHalf:
      return f(c10::Half{});
    case at::kBFloat16:
      return f(c10::BFloat16{});
    default:
      TORCH_CHECK(false, op, ": unplanned dtype ", t);
  }
}

// The same over the sample dtypes (is_sample_dtype): uint8_t, then the floats.
template <typename F>
decltype(auto) dispatch_sample(at::ScalarType t, const char* op, const F& f) {
  if (t == at::kByte) return f(uint8_t{});
  return dispatch_data_float(t, op, f);
}

}  // namespace mixup

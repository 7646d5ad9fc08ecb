#include "messages.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace mixup {

std::string dtype_name(at::ScalarType t) { return "torch." + std::string(c10::getDtypeNames(t).first); }

std::string describe(const at::Tensor& t) {
  std::ostringstream s;
  s << dtype_name(t.scalar_type()) << " tensor of shape " << t.sizes() << " on " << t.device();
  return s.str();
}

std::string number(double v) {
  if (!std::isfinite(v)) return std::isnan(v) ? "nan" : (v > 0 ? "inf" : "-inf");
  char text[32];
  for (int digits = 1; digits <= 17; ++digits) {  // the shortest that round-trips, as repr
    std::snprintf(text, sizeof(text), "%.*g", digits, v);
    if (std::strtod(text, nullptr) == v) break;
  }
  std::string s = text;
  if (s.find_first_of(".en") == std::string::npos) s += ".0";
  return s;
}

std::string numbers(c10::ArrayRef<double> values) {
  std::string s = "[";
  for (size_t i = 0; i < values.size(); ++i) s += (i ? ", " : "") + number(values[i]);
  return s + "]";
}

}  // namespace mixup

// The one decision of cpu/isa.h: the vector instruction set of this process.
#include "isa.h"

#include <ATen/Version.h>

#include <string>

namespace mixup::cpu {

Isa active_isa() {
  static const Isa isa = [] {
    if (!MIXUP_BUILD_X86_ISAS) return Isa::kDefault;
    // torch's names: "AVX512", "AVX2", or "NO AVX" (its DEFAULT).
    const std::string torch_choice = at::get_cpu_capability();
    if (torch_choice == "AVX512") return Isa::kAvx512;
    if (torch_choice == "AVX2") return Isa::kAvx2;
    return Isa::kDefault;
  }();
  return isa;
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kDefault:
      break;
  }
  return "default";
}

}  // namespace mixup::cpu

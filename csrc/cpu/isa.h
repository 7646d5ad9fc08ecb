// Which vector instruction set the CPU kernels' hot loops run on.
//
// Loops that need more than the compiler's auto-vectoriser (exp and log1p in
// the loss rows) are written once, against at::vec::Vectorized, in
// cpu/isa/*_impl.h, and compiled once per instruction set by the small
// translation units beside them: *_default.cpp (the build's baseline, any
// architecture), *_avx2.cpp and *_avx512.cpp (x86-64 with GCC; see
// cpu/isa/target.h for how, without per-file compiler flags). Each process
// uses the best set that both this build has and torch's own kernels use:
// at::get_cpu_capability(), which ATEN_CPU_CAPABILITY=default|avx2|avx512
// overrides for both alike.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define MIXUP_BUILD_X86_ISAS 1
#else
#define MIXUP_BUILD_X86_ISAS 0
#endif

namespace mixup::cpu {

enum class Isa { kDefault, kAvx2, kAvx512 };

// The instruction set this process's vector loops use, decided once.
Isa active_isa();

const char* isa_name(Isa isa);

// The table of `isa`, or the next best one built: the AVX tables are null
// where they were not compiled.
template <typename Table>
const Table& pick_table(const Table* avx512, const Table* avx2, const Table& fallback) {
  const Isa isa = active_isa();
  if (isa == Isa::kAvx512 && avx512 != nullptr) return *avx512;
  if (isa != Isa::kDefault && avx2 != nullptr) return *avx2;
  return fallback;
}

}  // namespace mixup::cpu

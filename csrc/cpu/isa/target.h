// Compiles the rest of a translation unit for one x86-64 instruction set, so
// that at::vec::Vectorized takes that set's form there. Define exactly one of
// MIXUP_ISA_AVX2 / MIXUP_ISA_AVX512 (or neither: the baseline) and include
// this header FIRST: the target pragma must precede every function the
// headers define.
//
// Why a pragma and not -mavx2 on the file: setup.py, the JIT loader and
// CMake then build every source with the same flags. Like torch's per-ISA
// kernels, such a unit must not hand an inline function to baseline code:
// were one emitted as a weak symbol that a baseline object also defines, the
// linker could keep the AVX copy for both. The loops live in an anonymous
// namespace, so the units define no weak symbols at all, only their table
// (tests/test_cpu_isa.py checks the objects).
#pragma once

#include "../isa.h"

#if defined(MIXUP_ISA_AVX512)
#define MIXUP_ISA_NAMESPACE isa_avx512
#elif defined(MIXUP_ISA_AVX2)
#define MIXUP_ISA_NAMESPACE isa_avx2
#else
#define MIXUP_ISA_NAMESPACE isa_default
#endif

#if (defined(MIXUP_ISA_AVX2) || defined(MIXUP_ISA_AVX512)) && !MIXUP_BUILD_X86_ISAS
// Not x86-64 GCC: this unit builds nothing, and the kernels use the
// baseline table (cpu/isa.h).
#define MIXUP_ISA_UNIT_ENABLED 0
#else
#define MIXUP_ISA_UNIT_ENABLED 1
// at::vec's horizontal reductions start from _mm*_undefined_*() registers,
// which GCC takes for uninitialised reads once inlined (torch's own builds
// see the same).
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#if defined(MIXUP_ISA_AVX512)
// What torch requires of its AVX512 capability (avx512 f/bw/vl/dq, fma).
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c,bmi,bmi2")
#define CPU_CAPABILITY AVX512
#define CPU_CAPABILITY_AVX512
#elif defined(MIXUP_ISA_AVX2)
#pragma GCC target("avx2,fma,f16c,bmi,bmi2")
#define CPU_CAPABILITY AVX2
#define CPU_CAPABILITY_AVX2
#else
#define CPU_CAPABILITY DEFAULT
#define CPU_CAPABILITY_DEFAULT
#endif

#if defined(MIXUP_ISA_AVX2) || defined(MIXUP_ISA_AVX512)
// at::vec computes exp and log1p with Sleef, whose header declares its
// 256/512-bit functions only under the __AVX__/__AVX512F__ macros that
// -mavx* defines and the pragma does not. Define them for sleef.h alone.
#include <immintrin.h>
#ifndef __AVX__
#define __AVX__ 1
#define MIXUP_UNDEF_AVX
#endif
#ifndef __AVX2__
#define __AVX2__ 1
#define MIXUP_UNDEF_AVX2
#endif
#if defined(MIXUP_ISA_AVX512) && !defined(__AVX512F__)
#define __AVX512F__ 1
#define MIXUP_UNDEF_AVX512F
#endif
#include <sleef.h>
#ifdef MIXUP_UNDEF_AVX
#undef __AVX__
#endif
#ifdef MIXUP_UNDEF_AVX2
#undef __AVX2__
#endif
#ifdef MIXUP_UNDEF_AVX512F
#undef __AVX512F__
#endif
#endif

#endif

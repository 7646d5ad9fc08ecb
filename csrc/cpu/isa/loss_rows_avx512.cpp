// The loss rows (cpu/isa/loss_rows_impl.h) compiled for AVX512.
#define MIXUP_ISA_AVX512
#include "target.h"  // first: see target.h

#include "loss_rows_impl.h"

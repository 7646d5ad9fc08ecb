// The loss rows (cpu/isa/mixup_loss_rows_impl.h) compiled for AVX512.
#define MIXUP_ISA_AVX512
#include "target.h"  // first: see target.h

#include "mixup_loss_rows_impl.h"

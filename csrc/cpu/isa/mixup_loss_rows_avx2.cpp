// The loss rows (cpu/isa/mixup_loss_rows_impl.h) compiled for AVX2.
#define MIXUP_ISA_AVX2
#include "target.h"  // first: see target.h

#include "mixup_loss_rows_impl.h"

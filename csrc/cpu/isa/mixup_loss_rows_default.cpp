// The loss rows (cpu/isa/mixup_loss_rows_impl.h) compiled for the build's baseline instruction set.
#include "target.h"  // first: see target.h

#include "mixup_loss_rows_impl.h"

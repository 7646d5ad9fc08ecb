// Picks the loss rows' table for this process (cpu/isa.h).
#include "mixup_loss_rows.h"

#include "isa.h"

namespace mixup::cpu {

const LossRowTable& loss_row_table() {
#if MIXUP_BUILD_X86_ISAS
  static const LossRowTable& table =
      pick_table(&isa_avx512::kLossRowTable, &isa_avx2::kLossRowTable, isa_default::kLossRowTable);
  return table;
#else
  return isa_default::kLossRowTable;
#endif
}

}  // namespace mixup::cpu

// Which tile the CUDA row kernels of mixup::fused_mix launch
// (cuda/fused_mix_kernel.cu: with_kernel_shape). The launch's size decides,
// unless the calling thread pinned one with mixup::_set_cuda_tile: how the
// tests run both tiles on tensors of any size, one test at a time, with no
// process-wide switch. (The CPU kernels have no tiles; the setting is kept
// there too, so that the op behaves the same in every build.)
#pragma once

#include <c10/util/string_view.h>

#include <string>

namespace mixup {

enum class RowTile { kBySize, kWide, kSmall };

// This thread's setting.
RowTile row_tile();

// Sets this thread's setting by name ("by_size", "wide" or "small"; a
// ValueError for another) and returns the previous one's name.
std::string set_row_tile(c10::string_view name);

}  // namespace mixup

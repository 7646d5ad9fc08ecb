#include "row_tile.h"

#include <c10/util/Exception.h>

namespace mixup {
namespace {

thread_local RowTile this_thread_tile = RowTile::kBySize;

constexpr const char* kNames[] = {"by_size", "wide", "small"};

}  // namespace

RowTile row_tile() { return this_thread_tile; }

std::string set_row_tile(c10::string_view name) {
  for (int k = 0; k < 3; ++k) {
    if (name == kNames[k]) {
      const std::string previous = kNames[static_cast<int>(this_thread_tile)];
      this_thread_tile = static_cast<RowTile>(k);
      return previous;
    }
  }
  TORCH_CHECK_VALUE(false, "mixup::_set_cuda_tile: tile must be one of by_size, wide, small, got '", std::string(name),
                    "'");
}

}  // namespace mixup

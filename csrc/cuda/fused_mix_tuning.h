// The compile-time shape of the CUDA row kernels, read by fused_mix_device.cuh:
// the values bench/tune.py's sweeps chose (DEVLOG.md has the numbers). This
// is their one home, and the kernels' source carries no tuning switches:
// bench/tune.py builds a variant from a copy of csrc/ in which it rewrites
// this file (bench/tune.py: tuning_header), one `kName = value;` per setting.
#pragma once

namespace mixup::fused_mix_tuning {

// Threads a block, and the packs a thread holds in flight per chunk in the
// wide tile (the small tile holds one).
inline constexpr int kThreads = 128;
inline constexpr int kUnroll = 2;
// The most column chunks (kThreads * VEC * UNROLL elements each) that one
// forward block mixes, one after another, for its row: the row's prologue
// (channel staging, partner, box, lam) is paid once for all of them (v6).
// The launcher picks fewer for small launches.
inline constexpr int kChunks = 4;
// Resident threads per SM that the converting (uint8, normalising) kernels
// are compiled for: 1280 is 10 blocks of 128, 48 registers a thread. Packs
// of 16 uint8 elements hold twice the values in flight, and at 48 registers
// ptxas spilled 280 bytes of them: they get 1024 (8 blocks, 64 registers).
inline constexpr int kConvertThreadsPerSm = 1280;
inline constexpr int kWideConvertThreadsPerSm = 1024;
// Elements per pack of a uint8 input; 0 keeps the launcher's rule (kWideVec
// in fused_mix_kernel.cu).
inline constexpr int kUint8Vec = 0;
// A launch whose wide-tile row blocks would fill less than this percentage
// of the GPU's resident block slots takes the small tile instead
// (with_kernel_shape in fused_mix_kernel.cu); 0 never does. At 100 the
// features case (1024x4096 bf16: 2048 blocks, 97% of an H200) took it and
// lost 12%; 128x3x32x32 (6-18%) gains (v10).
inline constexpr int kSmallTilePercent = 50;
// The target rows' blocks first in the forward's grid, so that they run
// beside the x blocks instead of after them (v10).
inline constexpr bool kTargetsFirst = true;
// Evict-first stores: the output is not read again by the kernel, and
// keeping it out of L2 leaves room for the partner chunks that are.
inline constexpr bool kStreamingStores = true;

}  // namespace mixup::fused_mix_tuning

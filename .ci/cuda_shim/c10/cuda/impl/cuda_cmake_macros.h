// Build-only shim: the CPU wheel of torch ships the c10/cuda headers but not
// this generated one. It lets CI compile-check csrc/cuda/*.cu without a CUDA
// build of torch; real CUDA builds use the header from their own torch.
#pragma once
#define C10_CUDA_BUILD_SHARED_LIBS

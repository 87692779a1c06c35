// kernel_bench.h: kernel versions timed on the GPU at the default model's shapes, beside their
// floor: the bytes each must move at the measured copy bandwidth. One implementation for `make
// bench-kernels` (tools/kernel_bench.c) and `sinks kernels bench`.
#ifndef GPU_KERNEL_BENCH_H
#define GPU_KERNEL_BENCH_H

#include <stdio.h>

#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

// Writes the device line and a markdown table to out: every row of op (NULL: every kernel, the
// fused decode products, argmax and embedding too), version (0: every ready version). Returns
// 0, or -1 with err set (no CUDA device, an op or version not in the registry, GPU memory, a
// kernel that failed).
int kernel_bench(FILE *out, const char *op, int version, Error *err);

#ifdef __cplusplus
}
#endif

#endif

// kernel_check.h: a kernel version against the ref_cpu function it re-implements, at every shape
// the tests use. The one checker: tests/test_gpu.c and `sinks kernels check` both call it.
//
// Inputs are random (fixed seeds, never exactly zero), outputs are poisoned with NaN before the
// launch so a kernel that skips an element fails (softmax works in place: there the untouched
// input is what shows). An element passes when |gpu - cpu| <= atol + rtol * |cpu|; the whole
// output when its normalised mean squared error sum((gpu - cpu)^2) / sum(cpu^2) <= nmse too:
// the elementwise limit catches one wild value, NMSE a small error spread over every element
// (a missing scale, a sum off by a constant factor) that each element's slack would let through.
// Any NaN fails. The limits and their reasons are the registry's (gpu/registry.c).
#ifndef GPU_KERNEL_CHECK_H
#define GPU_KERNEL_CHECK_H

#include <stdio.h>

#include "registry.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    int ok;
    double max_abs, nmse; // over the compared elements
    char why[256];        // when !ok: the NaN, the first element out of limits, or the NMSE
} KernelVerdict;

// Compares gpu[n] with cpu[n], only where mask[i] when mask is not NULL. Returns v->ok.
int kernel_compare(KernelVerdict *v, const float *gpu, const float *cpu, size_t n, const unsigned char *mask,
                   KernelLimits lim);

// x[n] uniform in [-scale, scale], never exactly zero, from a fixed-seed generator.
void kernel_random(float *x, size_t n, unsigned long long seed, float scale);

// Checks op's version at every shape; writes a header line, then one verdict a shape to out:
// "ok softmax v2 rows=9 n=1024 max|d| 1.2e-07 nmse 3.1e-15" or "FAIL softmax v2 rows=9 ...: why".
// Returns the number of shapes that failed, or -1 with err set when it could not run (no CUDA
// device, an op or version not in the registry, GPU memory exhausted).
int kernel_check(FILE *out, const char *op, int version, Error *err);
// The same for every ready version of op (templates and faults are left out: name them).
int kernel_check_ready(FILE *out, const char *op, Error *err);

#ifdef __cplusplus
}
#endif

#endif

// dispatch.h: what a kernel dispatcher (gpu_<op>_forward) does besides its `case N:` lines: a
// version it does not have is an error, not a fall-through to another kernel (a student who asks
// for version 4 before writing it must not get version 3's pass); fault versions are launched
// from gpu/faults.cu. Included by the op files only (C++).
#ifndef GPU_DISPATCH_H
#define GPU_DISPATCH_H

#include "registry.h"

extern "C" {
// Records "softmax has no version 9 (versions: 1-2; ...)" for gpu_last_error() and returns -1.
int gpu_unknown_version(const char *op, int version);
// Whether op's version is registered as a deliberate fault (KERNEL_FAULT).
int gpu_is_fault(const char *op, int version);
// The fault versions (registry.c lists them): 0, or -1 as gpu_unknown_version.
int gpu_softmax_fault(int version, float *x, int rows, int n);
int gpu_attention_fault(int version, float *out, float *att, const float *q, const float *q_sink, const float *k_rot,
                        const float *v, int T, int n_past, int n_sink, int window, int n_heads, int n_kv_heads,
                        int head_dim, int capacity);
}

#endif

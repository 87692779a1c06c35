// registry.h: every numbered kernel version, in one table (gpu/registry.c) that the dispatchers,
// the checker (gpu/kernel_check.c: tests/test_gpu.c and `sinks kernels check`), the benchmark
// (gpu/kernel_bench.c: `make bench-kernels` and `sinks kernels bench`) and `sinks kernels list`
// all read. Plain C with no CUDA in it, so a build without nvcc has the table too.
//
// Adding a version N of an op: write the kernel and its `case N:` in the op's dispatcher
// (gpu/<op>.cu), add its line to KERNELS in gpu/registry.c, then `sinks kernels check OP N`.
#ifndef GPU_REGISTRY_H
#define GPU_REGISTRY_H

#include <stddef.h>

#include "error.h"

#ifdef __cplusplus
extern "C" {
#endif

// ANCHOR: kernel_info
typedef enum {
    KERNEL_READY,    // written and checked: the tests, `check OP` and the benchmark run it
    KERNEL_TEMPLATE, // a slot for a student to fill in: `check OP N` runs it and fails until it is
                     // marked ready here; `check OP` and the tests pass it over
    KERNEL_FAULT,    // deliberately wrong (gpu/faults.cu): the checker must FAIL it (tests/test_gpu.c)
} KernelStatus;

// A GPU output passes when every element has |gpu - cpu| <= atol + rtol * |cpu| (and no NaN),
// and the whole output sum((gpu - cpu)^2) / sum(cpu^2) <= nmse.
typedef struct {
    double atol, rtol, nmse;
    const char *why; // why these numbers: what the kernel does differently from the CPU
} KernelLimits;

typedef struct {
    const char *op;     // "softmax": launched by gpu_softmax_forward(version, ...) (kernels.h)
    int version;
    KernelStatus status;
    const char *kernel; // the function to read: "softmax_kernel2 (gpu/softmax.cu)"
    const char *desc;   // one line: how it works
    const char *ref;    // the ref_cpu function it is checked against
    KernelLimits lim;
} KernelInfo;
// END: kernel_info

// The table; *n gets its length.
const KernelInfo *kernel_table(int *n);
// Whether any version of op is registered.
int kernel_op_known(const char *op);
// The entry of op's version, or NULL with "softmax has no version 9 (versions: 1-2; template: 3;
// faults: 101-102)" in err (an unknown op: "no kernel op 'x' (ops: matmul, ...)").
const KernelInfo *kernel_lookup(const char *op, int version, Error *err);
// Writes "1-2; template: 3; faults: 101-102" (the versions of op by status) into buf[n].
void kernel_versions_text(char *buf, size_t n, const char *op);
// "matmul, rmsnorm, ...": the registered ops, each once, in table order.
void kernel_ops_text(char *buf, size_t n);
// The version of op the GPU model runs for a block of T tokens (MODEL_VERSIONS in registry.c);
// -1 for an op the model does not take from the table.
int kernel_model_version(const char *op, int T);
// 0 when every version the model is set to run is registered and ready; else -1, why in err.
int kernel_model_check(Error *err);
// The status as a word: "ready", "template", "fault".
const char *kernel_status_name(KernelStatus s);

#ifdef __cplusplus
}
#endif

#endif

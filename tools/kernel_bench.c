// kernel_bench: every kernel version timed on the GPU at the default model's shapes, beside its
// bytes-moved floor (gpu/kernel_bench.c does the work; `sinks kernels bench OP` times one op).
// `make bench-kernels`; needs a GPU.
#include <stdio.h>

#include "kernel_bench.h"

int main(void) {
    Error err = {{0}};
    if (kernel_bench(stdout, NULL, 0, &err)) {
        fprintf(stderr, "kernel_bench: %s\n", err.msg);
        return 1;
    }
    return 0;
}

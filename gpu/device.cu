// device.cu: is there a GPU, and did the last launch work.
#include <stdio.h>

#include "common.cuh"
#include "dispatch.h"
#include <string.h>

extern "C" {
#include "gpu_stream.h"
}

extern "C" int gpu_device_ok(char *why, size_t n) {
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
        snprintf(why, n, "no CUDA device (%s)", cudaGetErrorString(e));
        return -1;
    }
    if (count == 0) {
        snprintf(why, n, "no CUDA device on this machine");
        return -1;
    }
    return 0;
}

// A dispatcher's refusal of a version, kept for gpu_last_error() as CUDA keeps its launch errors
// (and per thread, as they are): a launcher that returns void to its callers could not say it.
static thread_local char version_error[ERROR_LEN];

extern "C" int gpu_unknown_version(const char *op, int version) {
    Error err = {{0}};
    kernel_lookup(op, version, &err);
    if (!err.msg[0]) snprintf(err.msg, sizeof err.msg, "%s version %d is registered but has no case in its dispatcher", op,
                              version);
    snprintf(version_error, sizeof version_error, "%s", err.msg);
    return -1;
}

extern "C" int gpu_is_fault(const char *op, int version) {
    const KernelInfo *k = kernel_lookup(op, version, NULL);
    return k && k->status == KERNEL_FAULT;
}

extern "C" const char *gpu_last_error(void) {
    static thread_local char reported[ERROR_LEN];
    if (version_error[0]) { // reported once, as cudaGetLastError does
        memcpy(reported, version_error, sizeof reported);
        version_error[0] = '\0';
        return reported;
    }
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    return e == cudaSuccess ? NULL : cudaGetErrorString(e);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

extern "C" double gpu_time_ms(void (*run)(void *ctx, int i), void *ctx, int warmup, int trials, int per_trial) {
    cudaEvent_t t0, t1;
    float ms[64];
    if (trials < 1 || trials > 64) return -1;
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    for (int i = 0; i < warmup; i++) run(ctx, i);
    for (int t = 0; t < trials; t++) {
        cudaEventRecord(t0, cudaStreamPerThread);
        for (int i = 0; i < per_trial; i++) run(ctx, t * per_trial + i);
        cudaEventRecord(t1, cudaStreamPerThread);
        cudaEventSynchronize(t1);
        cudaEventElapsedTime(&ms[t], t0, t1);
    }
    qsort(ms, trials, sizeof(float), cmp_float);
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    return cudaGetLastError() == cudaSuccess ? ms[trials / 2] : -1;
}

typedef struct {
    void *dst;
    const void *src;
    size_t bytes;
} CopyJob;

static void copy_once(void *ctx, int i) {
    (void)i;
    CopyJob *c = (CopyJob *)ctx;
    cudaMemcpyAsync(c->dst, c->src, c->bytes, cudaMemcpyDeviceToDevice, cudaStreamPerThread);
}

extern "C" double gpu_copy_bandwidth(size_t bytes) {
    void *a = NULL, *b = NULL;
    if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) {
        cudaFree(a);
        return 0;
    }
    cudaMemset(a, 1, bytes); // never time on zeros
    CopyJob job = {b, a, bytes};
    double ms = gpu_time_ms(copy_once, &job, 3, 21, 1);
    cudaFree(a);
    cudaFree(b);
    return ms > 0 ? 2.0 * bytes / (ms * 1e-3) / 1e9 : 0;
}

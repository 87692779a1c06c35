// device.cu: is there a GPU, and did the last launch work.
#include <stdio.h>

#include "common.cuh"

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

extern "C" const char *gpu_last_error(void) {
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    return e == cudaSuccess ? NULL : cudaGetErrorString(e);
}

static int cmp_float(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

extern "C" double gpu_copy_bandwidth(size_t bytes) {
    void *a = NULL, *b = NULL;
    cudaEvent_t t0, t1;
    float ms[20];
    if (cudaMalloc(&a, bytes) != cudaSuccess || cudaMalloc(&b, bytes) != cudaSuccess) {
        cudaFree(a);
        return 0;
    }
    cudaMemset(a, 1, bytes); // never time on zeros
    cudaEventCreate(&t0);
    cudaEventCreate(&t1);
    for (int i = 0; i < 3; i++) cudaMemcpy(b, a, bytes, cudaMemcpyDeviceToDevice); // warm-up
    for (int i = 0; i < 20; i++) {
        cudaEventRecord(t0, cudaStreamPerThread);
        cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, cudaStreamPerThread);
        cudaEventRecord(t1, cudaStreamPerThread);
        cudaEventSynchronize(t1);
        cudaEventElapsedTime(&ms[i], t0, t1);
    }
    qsort(ms, 20, sizeof(float), cmp_float);
    cudaEventDestroy(t0);
    cudaEventDestroy(t1);
    cudaFree(a);
    cudaFree(b);
    return cudaGetLastError() == cudaSuccess ? 2.0 * bytes / (ms[10] * 1e-3) / 1e9 : 0;
}

// device.cu: is there a GPU, and did the last launch work.
#include <stdio.h>

#include "common.cuh"

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

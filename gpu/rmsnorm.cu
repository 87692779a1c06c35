// rmsnorm.cu: out = in / sqrt(mean(in^2) + eps) * w, per row.
#include "common.cuh"
#include "dispatch.h"

// 1: one thread per row: simple, and T threads are far too few to fill a GPU when decoding.
__global__ void rmsnorm_kernel1(float *out, const float *in, const float *w, int T, int D, float eps) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= T) return;
    const float *x = in + (long)t * D;
    float ss = 0.0f;
    for (int i = 0; i < D; i++) ss += x[i] * x[i];
    float r = rsqrtf(ss / D + eps);
    for (int i = 0; i < D; i++) out[(long)t * D + i] = x[i] * r * w[i];
}

// 2: one block per row, the sum of squares reduced across the block.
__global__ void rmsnorm_kernel2(float *out, const float *in, const float *w, int T, int D, float eps) {
    const float *x = in + (long)blockIdx.x * D;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < D; i += blockDim.x) ss += x[i] * x[i];
    float r = rsqrtf(block_sum(ss) / D + eps);
    for (int i = threadIdx.x; i < D; i += blockDim.x) out[(long)blockIdx.x * D + i] = x[i] * r * w[i];
}

extern "C" int gpu_rmsnorm_forward(int version, float *out, const float *in, const float *w, int T, int D, float eps) {
    switch (version) {
    case 1: rmsnorm_kernel1<<<ceil_div(T, 64), 64>>>(out, in, w, T, D, eps); return 0;
    case 2: rmsnorm_kernel2<<<T, 256>>>(out, in, w, T, D, eps); return 0;
    }
    return gpu_unknown_version("rmsnorm", version);
}

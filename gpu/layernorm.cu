// layernorm.cu: out = (in - mean) / sqrt(var + eps) * w + b, per row (GPT-NeoX).
#include "common.cuh"
#include "dispatch.h"

// 1: one thread per row, two passes (mean, then variance about it, as the CPU does).
__global__ void layernorm_kernel1(float *out, const float *in, const float *w, const float *b, int T, int D,
                                  float eps) {
    int t = blockIdx.x * blockDim.x + threadIdx.x;
    if (t >= T) return;
    const float *x = in + (long)t * D;
    float mean = 0.0f, var = 0.0f;
    for (int i = 0; i < D; i++) mean += x[i];
    mean /= D;
    for (int i = 0; i < D; i++) var += (x[i] - mean) * (x[i] - mean);
    float r = rsqrtf(var / D + eps);
    for (int i = 0; i < D; i++) out[(long)t * D + i] = (x[i] - mean) * r * w[i] + b[i];
}

// 2: one block per row; the same two passes, each a block reduction.
__global__ void layernorm_kernel2(float *out, const float *in, const float *w, const float *b, int T, int D,
                                  float eps) {
    const float *x = in + (long)blockIdx.x * D;
    float s = 0.0f;
    for (int i = threadIdx.x; i < D; i += blockDim.x) s += x[i];
    float mean = block_sum(s) / D, v = 0.0f;
    for (int i = threadIdx.x; i < D; i += blockDim.x) v += (x[i] - mean) * (x[i] - mean);
    float r = rsqrtf(block_sum(v) / D + eps);
    for (int i = threadIdx.x; i < D; i += blockDim.x) out[(long)blockIdx.x * D + i] = (x[i] - mean) * r * w[i] + b[i];
}

extern "C" int gpu_layernorm_forward(int version, float *out, const float *in, const float *w, const float *b, int T,
                                     int D, float eps) {
    switch (version) {
    case 1: layernorm_kernel1<<<ceil_div(T, 64), 64>>>(out, in, w, b, T, D, eps); return 0;
    case 2: layernorm_kernel2<<<T, 256>>>(out, in, w, b, T, D, eps); return 0;
    }
    return gpu_unknown_version("layernorm", version);
}

// softmax.cu: each row of x[rows, n] to probabilities, in place, max-subtracted for safety.
#include "common.cuh"

// 1: one thread per row, three passes over it.
__global__ void softmax_kernel1(float *x, int rows, int n) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    float *v = x + (long)r * n, max = v[0], sum = 0.0f;
    for (int i = 1; i < n; i++) max = fmaxf(max, v[i]);
    for (int i = 0; i < n; i++) sum += (v[i] = expf(v[i] - max));
    for (int i = 0; i < n; i++) v[i] /= sum;
}

// 2: one block per row, max and sum as block reductions.
__global__ void softmax_kernel2(float *x, int rows, int n) {
    float *v = x + (long)blockIdx.x * n, m = -INFINITY, s = 0.0f;
    for (int i = threadIdx.x; i < n; i += blockDim.x) m = fmaxf(m, v[i]);
    m = block_max(m);
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += (v[i] = expf(v[i] - m));
    float inv = 1.0f / block_sum(s);
    for (int i = threadIdx.x; i < n; i += blockDim.x) v[i] *= inv;
}

extern "C" void gpu_softmax_forward(int version, float *x, int rows, int n) {
    if (version == 1) softmax_kernel1<<<ceil_div(rows, 64), 64>>>(x, rows, n);
    else softmax_kernel2<<<rows, 256>>>(x, rows, n);
}

// argmax.cu: greedy decoding's pick, in one block: each thread keeps its best (value, index),
// then the block reduces them, lower index winning ties as the CPU's first-maximum rule does.
#include "common.cuh"

__global__ void argmax_kernel(int *out, const float *x, int n) {
    __shared__ float bv[1024];
    __shared__ int bi[1024];
    float best = -INFINITY;
    int idx = n; // past the end: loses to any real index
    for (int i = threadIdx.x; i < n; i += blockDim.x)
        if (x[i] > best || idx == n) best = x[i], idx = i;
    bv[threadIdx.x] = best, bi[threadIdx.x] = idx;
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            float ov = bv[threadIdx.x + s];
            int oi = bi[threadIdx.x + s];
            if (oi < n && (bi[threadIdx.x] == n || ov > bv[threadIdx.x] || (ov == bv[threadIdx.x] && oi < bi[threadIdx.x])))
                bv[threadIdx.x] = ov, bi[threadIdx.x] = oi;
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) *out = bi[0];
}

extern "C" void gpu_argmax(int *out, const float *x, int n) { argmax_kernel<<<1, 1024>>>(out, x, n); }

// matmul.cu: out[T, O] = in[T, I] @ w[O, I]^T (+ bias). Decoding (T = 1) is a matrix-vector
// product that reads every weight once: it is bound by memory bandwidth, and the versions differ
// in how well they use it.
#include "common.cuh"

// 1: one thread per output element. Neighbouring threads read rows of w that lie I floats
// apart, so no load is coalesced.
__global__ void matmul_kernel1(float *out, const float *in, const float *w, const float *bias, int T, int I, int O) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long)T * O) return;
    int t = (int)(i / O), o = (int)(i % O);
    float s = 0.0f;
    for (int k = 0; k < I; k++) s += in[(long)t * I + k] * w[(long)o * I + k];
    out[i] = s + (bias ? bias[o] : 0.0f);
}

// 2: one warp per output row of w: the 32 lanes read consecutive floats of the row (coalesced,
// float4 when I allows), sum with shuffles, and serve every token of the block from the same
// weights while they are in registers and cache.
__global__ void matmul_kernel2(float *out, const float *in, const float *w, const float *bias, int T, int I, int O) {
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) / 32, lane = threadIdx.x % 32;
    if (warp >= O) return;
    const float *wr = w + (long)warp * I;
    for (int t = 0; t < T; t++) {
        const float *x = in + (long)t * I;
        float s = 0.0f;
        if (I % 4 == 0) {
            const float4 *w4 = (const float4 *)wr, *x4 = (const float4 *)x;
            for (int k = lane; k < I / 4; k += 32) {
                float4 a = w4[k], b = x4[k];
                s += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
            }
        } else {
            for (int k = lane; k < I; k += 32) s += wr[k] * x[k];
        }
        s = warp_sum(s);
        if (lane == 0) out[(long)t * O + warp] = s + (bias ? bias[warp] : 0.0f);
    }
}

extern "C" void gpu_matmul_forward(int version, float *out, const float *in, const float *w, const float *bias, int T,
                                   int I, int O) {
    if (version == 1) matmul_kernel1<<<ceil_div((long)T * O, 256), 256>>>(out, in, w, bias, T, I, O);
    else matmul_kernel2<<<ceil_div((long)O * 32, 256), 256>>>(out, in, w, bias, T, I, O);
}

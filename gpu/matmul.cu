// matmul.cu: out[T, O] = in[T, I] @ w[O, I]^T (+ bias). Decoding (T = 1) is a matrix-vector
// product that reads every weight once: it is bound by memory bandwidth, and the versions differ
// in how well they use it.
#include "common.cuh"
#include "dispatch.h"

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

// 3: for blocks of many tokens (prefill), where v2 re-reads each weight row T times and the sum
// is compute-bound. A block computes a 64 x 64 tile of out, staging 16-wide slices of in and w
// in shared memory; each thread keeps a 4 x 4 tile of sums in registers, so every value it
// loads from shared memory feeds four multiply-adds.
#define MM_TILE 64
#define MM_K 16
__global__ void __launch_bounds__(256) matmul_kernel3(float *out, const float *in, const float *w, const float *bias,
                                                      int T, int I, int O) {
    __shared__ float xs[MM_K][MM_TILE + 4], ws[MM_K][MM_TILE + 4]; // [k][row], +4 keeps float4 rows aligned
    int t0 = blockIdx.y * MM_TILE, o0 = blockIdx.x * MM_TILE, tx = threadIdx.x % 16, ty = threadIdx.x / 16;
    float acc[4][4] = {{0}};
    for (int k0 = 0; k0 < I; k0 += MM_K) {
        for (int i = threadIdx.x; i < MM_TILE * MM_K; i += 256) {
            int r = i / MM_K, c = i % MM_K, k = k0 + c;
            xs[c][r] = t0 + r < T && k < I ? in[(long)(t0 + r) * I + k] : 0.0f;
            ws[c][r] = o0 + r < O && k < I ? w[(long)(o0 + r) * I + k] : 0.0f;
        }
        __syncthreads();
#pragma unroll
        for (int k = 0; k < MM_K; k++) {
            float4 a = *(const float4 *)&xs[k][ty * 4], b = *(const float4 *)&ws[k][tx * 4];
            float av[4] = {a.x, a.y, a.z, a.w}, bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int i = 0; i < 4; i++)
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] += av[i] * bv[j];
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++)
#pragma unroll
        for (int j = 0; j < 4; j++) {
            int t = t0 + ty * 4 + i, o = o0 + tx * 4 + j;
            if (t < T && o < O) out[(long)t * O + o] = acc[i][j] + (bias ? bias[o] : 0.0f);
        }
}

extern "C" int gpu_matmul_forward(int version, float *out, const float *in, const float *w, const float *bias, int T,
                                  int I, int O) {
    switch (version) {
    case 1: matmul_kernel1<<<ceil_div((long)T * O, 256), 256>>>(out, in, w, bias, T, I, O); return 0;
    case 2: matmul_kernel2<<<ceil_div((long)O * 32, 256), 256>>>(out, in, w, bias, T, I, O); return 0;
    case 3: matmul_kernel3<<<dim3(ceil_div(O, MM_TILE), ceil_div(T, MM_TILE)), 256>>>(out, in, w, bias, T, I, O); return 0;
    }
    return gpu_unknown_version("matmul", version);
}

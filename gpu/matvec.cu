// matvec.cu: the decode step's matrix-vector products with the work around them fused in, so a
// layer is a handful of launches instead of a dozen: the norm of the input (each block computes
// it again: D floats, far cheaper than a launch), then the product, then the bias, residual
// add or activation on the way out. Same numbers as ref_cpu's separate ops, up to sum order.
// The weights are fp32 rows, or the GGUF file's Q4_1 / Q8_0 blocks (WT, a template argument):
// then each lane reads whole blocks (lane, lane + 32, ...) and dots them with the input in
// shared memory (qblock.h), so a weight costs its 5 or 8.5 bits of reading, not 32.
#include "common.cuh"
#include "qblock.h"

#define MV_WARPS 4 // output rows per block, one per warp

// ANCHOR: matvec_blocks
// A row of I / 32 blocks (WT: GGML_Q4_1 or GGML_Q8_0) against the input in shared memory: lane
// k of the row's warp takes blocks k, k + 32, ... (two rows at once for SwiGLU's gate and up);
// the warp then sums the lanes' partial sums as for fp32 rows.
template <int WT, int TWO>
__device__ inline void row_dot_blocks(float *s, float *s2, const unsigned char *wr, const unsigned char *wr2,
                                      const float *xs, int I, int lane) {
    int nb = I / 32, bytes = qblock_bytes(WT);
    for (int b = lane; b < nb; b += 32) {
        *s += qblock_dot(wr + (long)b * bytes, WT, xs + 32 * b);
        if (TWO) *s2 += qblock_dot(wr2 + (long)b * bytes, WT, xs + 32 * b);
    }
}
// END: matvec_blocks

// ANCHOR: matvec
template <int NORM, int EPI, int WT>
__global__ void __launch_bounds__(32 * MV_WARPS) matvec_kernel(float *out, const float *x, const void *wv,
                                                               const void *wv2, int I, int O, GpuMatvec op) {
    extern __shared__ float xs[]; // [I] the (normalised) input, shared by the block's warps
    if (NORM == GPU_NORM_RMS) {
        float ss = 0.0f;
        for (int i = threadIdx.x; i < I; i += blockDim.x) ss += x[i] * x[i];
        float scale = 1.0f / sqrtf(block_sum(ss) / I + op.eps);
        for (int i = threadIdx.x; i < I; i += blockDim.x) xs[i] = x[i] * scale * op.norm_w[i];
    } else if (NORM == GPU_NORM_LAYER) {
        float sum = 0.0f;
        for (int i = threadIdx.x; i < I; i += blockDim.x) sum += x[i];
        float mean = block_sum(sum) / I, var = 0.0f;
        for (int i = threadIdx.x; i < I; i += blockDim.x) var += (x[i] - mean) * (x[i] - mean);
        float scale = 1.0f / sqrtf(block_sum(var) / I + op.eps);
        for (int i = threadIdx.x; i < I; i += blockDim.x) xs[i] = (x[i] - mean) * scale * op.norm_w[i] + op.norm_b[i];
    } else {
        for (int i = threadIdx.x; i < I; i += blockDim.x) xs[i] = x[i];
    }
    __syncthreads();
    int o = blockIdx.x * MV_WARPS + threadIdx.x / 32, lane = threadIdx.x % 32;
    if (o >= O) return;
    float s = 0.0f, s2 = 0.0f;
    if constexpr (WT == GGML_F32) {
        const float *wr = (const float *)wv + (long)o * I;
        const float *wr2 = EPI == GPU_EPI_SWIGLU ? (const float *)wv2 + (long)o * I : NULL;
        int n4 = I % 4 == 0 ? I / 4 : 0; // float4 loads: 16 bytes per lane, 512 per warp
#pragma unroll 4
        for (int k = lane; k < n4; k += 32) {
            float4 a = ((const float4 *)wr)[k], b = ((const float4 *)xs)[k];
            s += a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
            if (EPI == GPU_EPI_SWIGLU) {
                float4 c = ((const float4 *)wr2)[k];
                s2 += c.x * b.x + c.y * b.y + c.z * b.z + c.w * b.w;
            }
        }
        for (int k = 4 * n4 + lane; k < I; k += 32) {
            s += wr[k] * xs[k];
            if (EPI == GPU_EPI_SWIGLU) s2 += wr2[k] * xs[k];
        }
    } else { // rows of I / 32 blocks
        long rb = (long)(I / 32) * qblock_bytes(WT);
        const unsigned char *w8 = (const unsigned char *)wv, *w8_2 = (const unsigned char *)wv2;
        row_dot_blocks<WT, EPI == GPU_EPI_SWIGLU>(&s, &s2, w8 + o * rb, EPI == GPU_EPI_SWIGLU ? w8_2 + o * rb : NULL,
                                                   xs, I, lane);
    }
    s = warp_sum(s);
    if (EPI == GPU_EPI_SWIGLU) s2 = warp_sum(s2);
    if (lane) return;
    float v = s + (op.bias ? op.bias[o] : 0.0f);
    if (EPI == GPU_EPI_NONE) out[o] = v;
    if (EPI == GPU_EPI_RESIDUAL) out[o] = op.res[o] + v;
    if (EPI == GPU_EPI_RESIDUAL2) out[o] = op.res[o] + (v + op.res2[o]);
    if (EPI == GPU_EPI_SWIGLU) out[o] = silu_times(s, s2);
    if (EPI == GPU_EPI_GELU) out[o] = gelu_of(v, 0);
    if (EPI == GPU_EPI_GELU_TANH) out[o] = gelu_of(v, 1);
}
// END: matvec

template <int NORM, int WT>
static void launch(float *out, const float *x, const void *w, const void *w2, int I, int O, GpuMatvec op) {
    dim3 grid(ceil_div(O, MV_WARPS)), block(32 * MV_WARPS);
    size_t smem = (size_t)I * sizeof(float);
    switch (op.epi) {
    case GPU_EPI_NONE: matvec_kernel<NORM, GPU_EPI_NONE, WT><<<grid, block, smem>>>(out, x, w, w2, I, O, op); break;
    case GPU_EPI_RESIDUAL: matvec_kernel<NORM, GPU_EPI_RESIDUAL, WT><<<grid, block, smem>>>(out, x, w, w2, I, O, op); break;
    case GPU_EPI_RESIDUAL2: matvec_kernel<NORM, GPU_EPI_RESIDUAL2, WT><<<grid, block, smem>>>(out, x, w, w2, I, O, op); break;
    case GPU_EPI_SWIGLU: matvec_kernel<NORM, GPU_EPI_SWIGLU, WT><<<grid, block, smem>>>(out, x, w, w2, I, O, op); break;
    case GPU_EPI_GELU: matvec_kernel<NORM, GPU_EPI_GELU, WT><<<grid, block, smem>>>(out, x, w, w2, I, O, op); break;
    case GPU_EPI_GELU_TANH: matvec_kernel<NORM, GPU_EPI_GELU_TANH, WT><<<grid, block, smem>>>(out, x, w, w2, I, O, op); break;
    }
}

template <int WT>
static void launch_norm(float *out, const float *x, const void *w, const void *w2, int I, int O, GpuMatvec op) {
    if (op.norm == GPU_NORM_RMS) launch<GPU_NORM_RMS, WT>(out, x, w, w2, I, O, op);
    else if (op.norm == GPU_NORM_LAYER) launch<GPU_NORM_LAYER, WT>(out, x, w, w2, I, O, op);
    else launch<GPU_NORM_NONE, WT>(out, x, w, w2, I, O, op);
}

extern "C" void gpu_matvec_forward(float *out, const float *x, const float *w, int I, int O, GpuMatvec op) {
    launch_norm<GGML_F32>(out, x, w, op.w2, I, O, op);
}

extern "C" void gpu_matvec_w_forward(float *out, const float *x, GpuWeights w, GpuWeights w2, int I, int O,
                                     GpuMatvec op) {
    if (w.type == GGML_Q4_1) launch_norm<GGML_Q4_1>(out, x, w.data, w2.data, I, O, op);
    else if (w.type == GGML_Q8_0) launch_norm<GGML_Q8_0>(out, x, w.data, w2.data, I, O, op);
    else launch_norm<GGML_F32>(out, x, w.data, w2.data, I, O, op);
}

// matvec.cu: the decode step's matrix-vector products with the work around them fused in, so a
// layer is a handful of launches instead of a dozen: the norm of the input (each block computes
// it again: D floats, far cheaper than a launch), then the product, then the bias, residual
// add or activation on the way out. Same numbers as ref_cpu's separate ops, up to sum order.
#include "common.cuh"

#define MV_WARPS 4 // output rows per block, one per warp

// ANCHOR: matvec
template <int NORM, int EPI>
__global__ void __launch_bounds__(32 * MV_WARPS) matvec_kernel(float *out, const float *x, const float *w, int I, int O,
                                                               GpuMatvec op) {
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
    const float *wr = w + (long)o * I, *wr2 = EPI == GPU_EPI_SWIGLU ? op.w2 + (long)o * I : NULL;
    float s = 0.0f, s2 = 0.0f;
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

template <int NORM>
static void launch(float *out, const float *x, const float *w, int I, int O, GpuMatvec op) {
    dim3 grid(ceil_div(O, MV_WARPS)), block(32 * MV_WARPS);
    size_t smem = (size_t)I * sizeof(float);
    switch (op.epi) {
    case GPU_EPI_NONE: matvec_kernel<NORM, GPU_EPI_NONE><<<grid, block, smem>>>(out, x, w, I, O, op); break;
    case GPU_EPI_RESIDUAL: matvec_kernel<NORM, GPU_EPI_RESIDUAL><<<grid, block, smem>>>(out, x, w, I, O, op); break;
    case GPU_EPI_RESIDUAL2: matvec_kernel<NORM, GPU_EPI_RESIDUAL2><<<grid, block, smem>>>(out, x, w, I, O, op); break;
    case GPU_EPI_SWIGLU: matvec_kernel<NORM, GPU_EPI_SWIGLU><<<grid, block, smem>>>(out, x, w, I, O, op); break;
    case GPU_EPI_GELU: matvec_kernel<NORM, GPU_EPI_GELU><<<grid, block, smem>>>(out, x, w, I, O, op); break;
    case GPU_EPI_GELU_TANH: matvec_kernel<NORM, GPU_EPI_GELU_TANH><<<grid, block, smem>>>(out, x, w, I, O, op); break;
    }
}

extern "C" void gpu_matvec_forward(float *out, const float *x, const float *w, int I, int O, GpuMatvec op) {
    if (op.norm == GPU_NORM_RMS) launch<GPU_NORM_RMS>(out, x, w, I, O, op);
    else if (op.norm == GPU_NORM_LAYER) launch<GPU_NORM_LAYER>(out, x, w, I, O, op);
    else launch<GPU_NORM_NONE>(out, x, w, I, O, op);
}

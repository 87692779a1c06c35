// common.cuh: what every kernel file shares: warp reductions and launch helpers.
#ifndef GPU_COMMON_CUH
#define GPU_COMMON_CUH

#include <cuda_runtime.h>

#include "kernels.h"

static inline int ceil_div(long a, long b) { return (int)((a + b - 1) / b); }

__device__ inline float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

__device__ inline float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
    return v;
}

// Sum over a block of blockDim.x threads (a multiple of 32, at most 1024); every thread gets it.
__device__ inline float block_sum(float v) {
    __shared__ float part[32];
    int lane = threadIdx.x % 32, wid = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_sum(v);
    __syncthreads(); // part[] may still be read by a previous call
    if (lane == 0) part[wid] = v;
    __syncthreads();
    v = lane < nw ? part[lane] : 0.0f;
    return warp_sum(v);
}

__device__ inline float block_max(float v) {
    __shared__ float part[32];
    int lane = threadIdx.x % 32, wid = threadIdx.x / 32, nw = blockDim.x / 32;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) part[wid] = v;
    __syncthreads();
    v = lane < nw ? part[lane] : -INFINITY;
    return warp_max(v);
}

// The formulas of ref_cpu/ops.c, shared by the elementwise kernels and the fused epilogues.
__device__ inline float silu_times(float g, float u) { return g / (1.0f + expf(-g)) * u; }
__device__ inline float gelu_of(float v, int tanh_approx) {
    return tanh_approx ? 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)))
                       : 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
}

// Which slots a query sees: ref_cpu/attn_view.h, one rule for both devices.
#include "attn_view.h"

// Where logical slot j of the ring cache lives (kernels.h, GpuRing).
__device__ inline long ring_slot(int j, GpuRing r, int ring_off) {
    return j < r.sinks ? j : r.sinks + (ring_off + j - r.sinks) % r.size;
}

// Element d of a head x[hd] rotated at position pos, as ref_cpu's rope_forward computes it:
// dims past 2 * half pass through (partial rotary).
__device__ inline float rope_elem(const float *x, int d, int pos, const float *cos, const float *sin, int half,
                                  int interleaved) {
    if (d >= 2 * half) return x[d];
    int first = interleaved ? !(d & 1) : d < half;
    int i = interleaved ? d >> 1 : (first ? d : d - half);
    int a = interleaved ? 2 * i : i, b = interleaved ? 2 * i + 1 : i + half;
    float c = cos[(long)pos * half + i], s = sin[(long)pos * half + i], x0 = x[a], x1 = x[b];
    return first ? x0 * c - x1 * s : x0 * s + x1 * c;
}

#endif

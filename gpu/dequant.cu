// dequant.cu: blocks of Q4_1 (the default model's weights) or Q8_0 to fp32, one thread per weight,
// each read in place by gpu/qblock.h (the format is there and in ref_cpu/quant.c). What the lab's
// matvec_q4_1 v1 does before its product, and what the GPU model does before a tiled product
// over a block of tokens.
#include "common.cuh"
#include "qblock.h"

__global__ void dequant_kernel(float *out, const unsigned char *blocks, int type, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    out[i] = qblock_weight(blocks + (i / 32) * qblock_bytes(type), type, (int)(i % 32));
}

extern "C" void gpu_dequant(float *out, GpuWeights w, size_t n) {
    dequant_kernel<<<ceil_div((long)n, 256), 256>>>(out, (const unsigned char *)w.data, w.type, n);
}

extern "C" void gpu_dequant_q4_1(float *out, const void *blocks, size_t n) {
    GpuWeights w = {blocks, GGML_Q4_1};
    gpu_dequant(out, w, n);
}

// dequant.cu: Q4_1 blocks (the default model's weights) to fp32. A block is f16 d, f16 m and 16
// bytes of nibbles; element j < 16 is the low nibble of byte j, element j + 16 its high nibble.
// Below it, any block type gpu/qblock.h reads (Q4_1, Q8_0): what the GPU model does before a
// tiled product over a block of tokens.
#include <cuda_fp16.h>

#include "common.cuh"
#include "qblock.h"

__global__ void dequant_q4_1_kernel(float *out, const unsigned char *blocks, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    const unsigned char *b = blocks + (i / 32) * 20;
    int j = (int)(i % 32);
    // the f16 fields are not 4-byte aligned in a 20-byte block: read them as bytes
    __half_raw dr, mr;
    dr.x = (unsigned short)(b[0] | b[1] << 8);
    mr.x = (unsigned short)(b[2] | b[3] << 8);
    float d = __half2float(__half(dr)), m = __half2float(__half(mr));
    int q = j < 16 ? b[4 + j] & 0x0f : b[4 + j - 16] >> 4;
    out[i] = q * d + m;
}

extern "C" void gpu_dequant_q4_1(float *out, const void *blocks, size_t n) {
    dequant_q4_1_kernel<<<ceil_div((long)n, 256), 256>>>(out, (const unsigned char *)blocks, n);
}

__global__ void dequant_kernel(float *out, const unsigned char *blocks, int type, size_t n) {
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    out[i] = qblock_weight(blocks + (i / 32) * qblock_bytes(type), type, (int)(i % 32));
}

extern "C" void gpu_dequant(float *out, GpuWeights w, size_t n) {
    dequant_kernel<<<ceil_div((long)n, 256), 256>>>(out, (const unsigned char *)w.data, w.type, n);
}

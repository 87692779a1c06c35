// qblock.h: one 32-weight GGUF block (Q4_1 or Q8_0, the default model's formats) read in place,
// for the GPU's products on quantized weights (matvec.cu, embedding.cu, dequant.cu). Plain C
// that nvcc compiles for both sides (__host__ __device__), so that tests/test_qblock.c checks
// it on the CPU against ref_cpu's dequantize (quant.c has the layouts).
#ifndef GPU_QBLOCK_H
#define GPU_QBLOCK_H

#ifdef __cplusplus
extern "C" {
#endif
#include "quant.h"
#ifdef __cplusplus
}
#endif

#ifdef __CUDACC__
#include <cuda_fp16.h>
#define QB_FN __host__ __device__ inline
#else
#define QB_FN static inline
#endif

// Bytes of one block of `type` (Q4_1: f16 d, f16 m, 16 bytes of nibbles; Q8_0: f16 d, 32 int8).
QB_FN int qblock_bytes(int type) { return type == GGML_Q4_1 ? 20 : 34; }

// The f16 at p, read byte by byte: a 20- or 34-byte block leaves it unaligned.
QB_FN float qblock_half(const unsigned char *p) {
    unsigned short h = (unsigned short)(p[0] | p[1] << 8);
#ifdef __CUDA_ARCH__
    __half_raw r;
    r.x = h;
    return __half2float(__half(r));
#else
    return fp16_to_fp32(h);
#endif
}

// Weight j (0..31) of the block at b.
QB_FN float qblock_weight(const unsigned char *b, int type, int j) {
    if (type == GGML_Q8_0) return (float)(signed char)b[2 + j] * qblock_half(b);
    int q = j < 16 ? b[4 + j] & 0x0F : b[4 + j - 16] >> 4;
#ifdef __CUDA_ARCH__
    // a multiply, then an add, each rounded: what dequantize does (nvcc would fuse them)
    return __fadd_rn(__fmul_rn((float)q, qblock_half(b)), qblock_half(b + 2));
#else
    return (float)q * qblock_half(b) + qblock_half(b + 2);
#endif
}

// ANCHOR: qblock_dot
// sum_j w_j x[j] over the block's 32 weights: d * sum q_j x_j (+ m * sum x_j for Q4_1), one
// multiply per weight; the same sum up to float rounding as dequantising first.
QB_FN float qblock_dot(const unsigned char *b, int type, const float *x) {
    float d = qblock_half(b), s = 0.0f;
    if (type == GGML_Q8_0) {
        for (int j = 0; j < 32; j++) s += (float)(signed char)b[2 + j] * x[j];
        return d * s;
    }
    float sx = 0.0f;
    for (int j = 0; j < 16; j++) {
        s += (float)(b[4 + j] & 0x0F) * x[j] + (float)(b[4 + j] >> 4) * x[j + 16];
        sx += x[j] + x[j + 16];
    }
    return d * s + qblock_half(b + 2) * sx;
}
// END: qblock_dot

#endif

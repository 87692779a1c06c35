// qmatmul.h: matrix products with weights kept in their GGUF block format (--weights native).
//
// A quantized matrix is rows of blocks straight from the mapped file: Q4_0, Q4_1, Q5_0, Q5_1,
// Q8_0 (32 elements a block), Q4_K, Q6_K (256). Two products read it without ever making fp32 weights:
//   qmatmul_f32_forward: dequantise a block, dot it with the fp32 input. Simple; the reference.
//   qmatmul_forward:     the input is first quantised to 8 bits per block of 32 (Q8Block, as
//                        llama.cpp's Q8_1), so each block's dot is a sum of int8 x int8 products
//                        (exact, in integers) scaled once by d_w * d_x. That is what makes AVX2
//                        fast: 32 products per instruction, no float conversion of the weights.
// Both are parallel over output rows (OpenMP) and reuse each row for tiles of 4 tokens.
#ifndef QMATMUL_H
#define QMATMUL_H

#include <stddef.h>
#include <stdint.h>

#include "quant.h"

typedef struct {
    const uint8_t *data; // [rows, row_bytes] blocks of `type`; NULL: the matrix is fp32 instead
    uint32_t type;       // GGMLType: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q4_K or Q6_K
} QMat;

// 32 activations as int8: x[i] ~ q[i] * d, with |x[i] - q[i] * d| <= d / 2; s = d * sum(q).
// s lets a weight format with an offset (Q4_1: w = q*d + m; Q4_K) add m * sum(x) in one step.
typedef struct {
    float d, s;
    int8_t q[32];
} Q8Block;

// Whether `type` can be kept quantized (and rows of n elements split into its blocks).
int qmat_supported(uint32_t type, int n);
// Bytes of one row of n elements.
size_t qmat_row_bytes(uint32_t type, int n);

// xq[n / 32] = x[n] quantised: d = max|x| / 127, q = round(x / d). n % 32 == 0.
void quantize_q8_blocks(Q8Block *xq, const float *x, int n);
// The plain C version (the AVX2 one, when built, gives the same bytes).
void quantize_q8_blocks_portable(Q8Block *xq, const float *x, int n);

// The teaching version: row . x with the fp32 input, one block dequantised at a time.
float qdot_f32(const uint8_t *row, uint32_t type, const float *x, int n);
// The fast version: row . xq with the input as Q8Blocks, for nt <= 4 inputs at once
// (out[t] = row . xq[t * x_stride ...]); every out[t] is computed with the same instructions
// whatever nt is, so a prefill tile and a single decode token give identical numbers.
void qdot_q8(float *out, const uint8_t *row, uint32_t type, const Q8Block *xq, size_t x_stride, int n, int nt);
// The same in plain C whatever the build (the SIMD version is checked against it).
void qdot_q8_portable(float *out, const uint8_t *row, uint32_t type, const Q8Block *xq, size_t x_stride, int n,
                      int nt);

// out[T,O] = in[T,I] @ w[O,I]^T (+ bias[O]): fp32 input, blocks dequantised on the fly.
void qmatmul_f32_forward(float *out, const float *in, QMat w, const float *bias, int T, int I, int O);
// out[T,O] = in[T,I] @ w[O,I]^T (+ bias[O]) through 8-bit activations; xq: scratch [T, I / 32].
void qmatmul_forward(float *out, const float *in, QMat w, const float *bias, Q8Block *xq, int T, int I, int O);

// The product every layer calls: the quantized weights when qw.data is set, else fp32 w
// (matmul_tiled_forward). xq: scratch of T * I / 32 blocks (unused for fp32).
void linear_forward(float *out, const float *in, const float *w, QMat qw, const float *bias, Q8Block *xq, int T,
                    int I, int O);
// out[T,D] = the rows tokens[t] of emb (fp32 emb, or quantized qemb when qemb.data is set).
void embedding_any_forward(float *out, const float *emb, QMat qemb, const int *tokens, int T, int D);

#endif

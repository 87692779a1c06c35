// ops.h: the building blocks of both transformer families, on fp32 row-major tensors.
// Manners as in llm.c: outputs first, then inputs, then sizes; T is the number of tokens in the
// block being processed (1 when decoding). Every op computes each output row with the same
// instructions whatever T is, so a prefill and a token-by-token decode give identical numbers.
#ifndef OPS_H
#define OPS_H

#include "model.h"

// out[T,O] = in[T,I] @ w[O,I]^T (+ bias[O] if bias is not NULL)
void matmul_forward(float *out, const float *in, const float *w, const float *bias, int T, int I, int O);
// The same product, fast for T > 1 (tiles of 4 tokens per weight row; ops.c says why), and with
// each output's bits independent of T. The forward pass uses it (through linear_forward).
void matmul_tiled_forward(float *out, const float *in, const float *w, const float *bias, int T, int I, int O);
// out[T,D] = in / sqrt(mean(in^2) + eps) * w
void rmsnorm_forward(float *out, const float *in, const float *w, int T, int D, float eps);
// out[T,D] = (in - mean) / sqrt(var + eps) * w + b
void layernorm_forward(float *out, const float *in, const float *w, const float *b, int T, int D, float eps);
// x[n] = softmax(x[n]), in place
void softmax_forward(float *x, int n);
// out[N] = silu(gate[N]) * up[N]          (out may alias gate)
void swiglu_forward(float *out, const float *gate, const float *up, int N);
// x[N] = gelu(x[N]), exact (erf) or tanh approximation
void gelu_forward(float *x, int N, int tanh_approx);
// out[N] = a[N] + b[N]                    (out may alias a)
void residual_forward(float *out, const float *a, const float *b, int N);
// out[T,D] = emb[tokens[t], :]
void embedding_forward(float *out, const float *emb, const int *tokens, int T, int D);
// the index of the largest of x[n] (first one on ties)
int argmax(const float *x, int n);

// Rotary position embedding. Angle of pair i at position p: p * theta^(-2i / rot_dim).
typedef struct {
    int n_pos;      // positions 0..n_pos-1 are tabulated
    int half;       // rot_dim / 2 pairs
    float *cos;     // [n_pos, half]
    float *sin;     // [n_pos, half]
} RopeTable;

int rope_init(RopeTable *r, int n_pos, int rot_dim, float theta, Error *err);
void rope_free(RopeTable *r);
// Rotates the first rot_dim dims of every head of x[T, H*hd]; row t sits at positions[t].
// Dims beyond rot_dim pass through (GPT-NeoX's partial rotary).
void rope_forward(float *x, const int *positions, const RopeTable *r, int T, int H, int hd, RopeStyle style);

#endif

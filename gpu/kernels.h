// kernels.h: the CUDA kernels, callable from C. Every pointer is device memory; every launcher
// runs on the default stream and returns at once (synchronise before reading results). Where an
// op has numbered versions (llm.c manners), `version` picks one: 1 is the simplest correct
// kernel, higher numbers are faster; all compute what the ref_cpu function of the same name does.
#ifndef GPU_KERNELS_H
#define GPU_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// 0 when a CUDA device can be used; otherwise -1 with the reason in why[n].
int gpu_device_ok(char *why, size_t n);
// The last launch error (or asynchronous fault), as text; NULL when all is well.
const char *gpu_last_error(void);

// out[T, D] = emb[tokens[t], :]
void gpu_embedding_forward(float *out, const float *emb, const int *tokens, int T, int D);
// out[n] from n / 32 Q4_1 blocks (ref: dequantize(..., GGML_Q4_1, n))
void gpu_dequant_q4_1(float *out, const void *blocks, size_t n);
// out[T, O] = in[T, I] @ w[O, I]^T (+ bias[O]); versions 1-2
void gpu_matmul_forward(int version, float *out, const float *in, const float *w, const float *bias, int T, int I,
                        int O);
// out[T, D] = in / sqrt(mean(in^2) + eps) * w; versions 1-2
void gpu_rmsnorm_forward(int version, float *out, const float *in, const float *w, int T, int D, float eps);
// out[T, D] = (in - mean) / sqrt(var + eps) * w + b; versions 1-2
void gpu_layernorm_forward(int version, float *out, const float *in, const float *w, const float *b, int T, int D,
                           float eps);
// x[rows, n] = softmax over each row, in place; versions 1-2
void gpu_softmax_forward(int version, float *x, int rows, int n);
// Rotates the first 2 * half dims of every head of x[T, H * hd], row t at positions[t], with
// tables cos/sin[n_pos, half]; interleaved pairs (2i, 2i+1) or split pairs (i, i + half).
void gpu_rope_forward(float *x, const int *positions, const float *cos, const float *sin, int half, int T, int H,
                      int hd, int interleaved);
// out[N] = silu(gate) * up
void gpu_swiglu_forward(float *out, const float *gate, const float *up, int N);
// x[N] = gelu(x), exact or tanh approximation
void gpu_gelu_forward(float *x, int N, int tanh_approx);
// out[N] = a + b
void gpu_residual_forward(float *out, const float *a, const float *b, int N);
// *out = index of the largest of x[n] (the first on ties)
void gpu_argmax(int *out, const float *x, int n);
// Attention over the sink + window cache, the semantics of ref_cpu attention_forward: T queries
// at slots n_past.., sinks seen with q_sink, att[Hq, T, capacity] gets the probabilities.
// Versions 1-2.
void gpu_attention_forward(int version, float *out, float *att, const float *q, const float *q_sink,
                           const float *k_rot, const float *v, int T, int n_past, int n_sink, int window, int n_heads,
                           int n_kv_heads, int head_dim, int capacity);

#ifdef __cplusplus
}
#endif

#endif

// kernels.h: the CUDA kernels, callable from C. Every pointer is device memory; every launcher
// runs on the default stream and returns at once (synchronise before reading results). Where an
// op has numbered versions (llm.c manners), `version` picks one: 1 is the simplest correct
// kernel, higher numbers are faster; all compute what the ref_cpu function of the same name does.
// The versions, their descriptions and check limits are listed once, in gpu/registry.c (`sinks
// kernels list`). A launcher with a version returns 0, or -1 for a version it does not have,
// launching nothing; gpu_last_error() then names the op and the versions that exist.
#ifndef GPU_KERNELS_H
#define GPU_KERNELS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// 0 when a CUDA device can be used; otherwise -1 with the reason in why[n].
int gpu_device_ok(char *why, size_t n);
// Median over `trials` (at most 64) of the milliseconds `per_trial` calls run(ctx, i) take on the
// per-thread stream, i counting calls, after `warmup` untimed calls; -1 on failure.
double gpu_time_ms(void (*run)(void *ctx, int i), void *ctx, int warmup, int trials, int per_trial);
// The last launch error (or asynchronous fault, or unknown version), as text; NULL when all is well.
const char *gpu_last_error(void);

// A weight matrix [rows, cols] on the GPU: fp32 rows (type GGML_F32, 0), or rows of cols / 32
// GGUF blocks of type GGML_Q4_1 or GGML_Q8_0, kept as the file stores them (gpu/qblock.h).
typedef struct {
    const void *data;
    int type;
} GpuWeights;

// out[T, D] = emb[tokens[t], :]
void gpu_embedding_forward(float *out, const float *emb, const int *tokens, int T, int D);
// The same from a table of Q4_1 or Q8_0 blocks (ref: embedding_any_forward)
void gpu_embedding_q_forward(float *out, GpuWeights emb, const int *tokens, int T, int D);
// out[n] from n / 32 Q4_1 blocks (ref: dequantize(..., GGML_Q4_1, n))
void gpu_dequant_q4_1(float *out, const void *blocks, size_t n);
// out[n] from n / 32 blocks of w.type, Q4_1 or Q8_0 (ref: dequantize)
void gpu_dequant(float *out, GpuWeights w, size_t n);
// out[T, O] = in[T, I] @ w[O, I]^T (+ bias[O])
int gpu_matmul_forward(int version, float *out, const float *in, const float *w, const float *bias, int T, int I,
                       int O);
// out[T, D] = in / sqrt(mean(in^2) + eps) * w
int gpu_rmsnorm_forward(int version, float *out, const float *in, const float *w, int T, int D, float eps);
// out[T, D] = (in - mean) / sqrt(var + eps) * w + b
int gpu_layernorm_forward(int version, float *out, const float *in, const float *w, const float *b, int T, int D,
                          float eps);
// out[O] = W[O, I] x[I] with W as O * I / 32 Q4_1 blocks (ref: dequantize, then matmul_forward with
// T = 1); I a multiple of 32. Version 1 dequantises into scratch[O, I] first; others ignore it.
int gpu_matvec_q4_1_forward(int version, float *out, const float *x, const void *w, float *scratch, int I, int O);
// x[rows, n] = softmax over each row, in place
int gpu_softmax_forward(int version, float *x, int rows, int n);
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
int gpu_attention_forward(int version, float *out, float *att, const float *q, const float *q_sink,
                          const float *k_rot, const float *v, int T, int n_past, int n_sink, int window, int n_heads,
                          int n_kv_heads, int head_dim, int capacity);

// ---- what the GPU model adds: the ring KV cache, split attention, fused decode products ----

// Where the cache stands for the block being run. Kernels read it from device memory, so one
// captured CUDA graph serves every decode step: only these numbers change between steps.
typedef struct {
    int n_past;   // logical slots in use before the block; its queries sit at n_past..n_past+T-1
    int ring_off; // how far the window ring has turned (see gpu_ring_slot)
    int n_sink;   // the attention view, as ref_cpu's RunState: sinks always visible,
    int window;   // then the last `window` predecessors (0: all)
} GpuStep;

// The cache never moves a key. Logical slot j (its rotary position, as in ref_cpu) lives at
// physical slot j below ring_sinks, else at ring_sinks + (ring_off + j - ring_sinks) % ring_size:
// evicting the oldest window tokens is ring_off += n, where the CPU moves every survivor down.
typedef struct {
    int sinks, size;
} GpuRing;

// From qkv[T, Hq*hd + 2*Hkv*hd] (one product for all three): q[T, Hq*hd] rotated at the
// queries' slots, q_sink the same rotated at the positions they hold facing the sinks, and the
// block's keys (unrotated) and values written into the layer's k_cache/v_cache[C, Hkv*hd].
void gpu_qkv_store(float *q, float *q_sink, float *k_cache, float *v_cache, const float *qkv, const GpuStep *step,
                   GpuRing ring, const float *cos, const float *sin, int half, int interleaved, int T, int n_heads,
                   int n_kv_heads, int head_dim);

// Eviction the ring cannot do by turning (a policy that keeps scattered slots): row from[i] of
// cache[C, dim] moves to row i, for i < n, through scratch[n, dim]. from: device [n], physical
// rows.
void gpu_cache_gather(float *cache, float *scratch, const int *from, int n, int dim);

// Attention over the ring cache, split over keys (flash-decoding): blocks of keys each keep a
// running softmax, a second kernel merges them. Keys are rotated on the fly at their logical
// slot. Versions 3 (a warp per key, 64 keys a block) and 4 (a lane per key, 128 a block), op
// "attention_ring" in the registry. partial needs gpu_attention_ring_scratch() floats. head_dim <= 128.
int gpu_attention_ring_forward(int version, float *out, float *partial, const float *q, const float *q_sink, const float *k_cache,
                               const float *v_cache, const float *cos, const float *sin, const GpuStep *step,
                               GpuRing ring, int half, int interleaved, int T, int n_heads, int n_kv_heads,
                               int head_dim, int capacity);
size_t gpu_attention_ring_scratch(int T, int n_heads, int head_dim, int capacity);
// The probabilities of that attention, for pictures: att[Hq, T, capacity] in logical slot order
// (ref_cpu attention_forward's att), zero where the query sees nothing.
void gpu_attention_probs(float *att, const float *q, const float *q_sink, const float *k_cache, const float *cos,
                         const float *sin, const GpuStep *step, GpuRing ring, int half, int interleaved, int T,
                         int n_heads, int n_kv_heads, int head_dim, int capacity);

// The decode step's matrix-vector products (T = 1), with the work around them fused in:
// out[O] = epilogue(w[O, I] @ norm(x[I])).
typedef enum { GPU_NORM_NONE, GPU_NORM_RMS, GPU_NORM_LAYER } GpuNorm;
typedef enum {
    GPU_EPI_NONE,      // out = w x + bias
    GPU_EPI_RESIDUAL,  // out = res + (w x + bias)                  (out may be res)
    GPU_EPI_RESIDUAL2, // out = res + ((w x + bias) + res2)         (GPT-NeoX's parallel residual)
    GPU_EPI_SWIGLU,    // out = silu(w x) * (w2 x)                  (w: gate rows, w2: up rows)
    GPU_EPI_GELU,      // out = gelu(w x + bias), exact
    GPU_EPI_GELU_TANH, // out = gelu(w x + bias), tanh approximation
} GpuEpilogue;
typedef struct {
    GpuNorm norm;
    const float *norm_w, *norm_b; // [I]
    float eps;
    GpuEpilogue epi;
    const float *w2;             // [O, I], GPU_EPI_SWIGLU only
    const float *bias;           // [O] or NULL
    const float *res, *res2;     // [O]
} GpuMatvec;
// I <= 12288 (x is staged in shared memory).
void gpu_matvec_forward(float *out, const float *x, const float *w, int I, int O, GpuMatvec op);
// The same with w (and w2, for GPU_EPI_SWIGLU; op.w2 is ignored) as fp32 or blocks, each block
// read once and never written out as floats (I a multiple of 32 for blocks).
void gpu_matvec_w_forward(float *out, const float *x, GpuWeights w, GpuWeights w2, int I, int O, GpuMatvec op);

#ifdef __cplusplus
}
#endif

#endif

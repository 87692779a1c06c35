// model.cu: the weights on the GPU, and the forward pass of one block of tokens for both
// families. A decode step (T = 1) takes the fused matrix-vector kernels (matvec.cu); longer
// blocks take the tiled matmul and the separate ops, in ref_cpu's order.
#include <stdlib.h>
#include <string.h>

#include "model.cuh"

extern "C" {
#include "registry.h"
}

#define ALIGN_FLOATS 64 // every weight starts on a 256-byte boundary: float4 loads stay aligned

static size_t up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

// Copies n floats to dst (device) and returns the next free place after them.
static float *put(float **dst, const float *src, size_t n, cudaError_t *e) {
    float *at = *dst;
    if (src && *e == cudaSuccess) *e = cudaMemcpy(at, src, n * sizeof(float), cudaMemcpyHostToDevice);
    *dst += up(n);
    return at;
}

int gpu_model_upload(GpuModel *g, const Model *m, Error *err) {
    memset(g, 0, sizeof *g);
    const Config *c = &m->cfg;
    g->cfg = *c;
    size_t D = c->dim, F = c->hidden_dim, V = c->vocab_size, qd = (size_t)c->n_heads * c->head_dim,
           kvd = (size_t)c->n_kv_heads * c->head_dim, rows = qd + 2 * kvd;
    if (c->head_dim > 128) return err_set(err, "--device cuda: head size %d > 128 is not supported", c->head_dim);
    if (D > 12288 || F > 12288 || qd > 12288)
        return err_set(err, "--device cuda: model width %zu / %zu exceeds the kernels' 12288", D, F);
    size_t per_layer = 2 * up(D) + up(rows * D) + up(rows) + up(D * qd) + up(D) + 2 * up(D) + 2 * up(F * D) + up(F) +
                       up(D * F) + up(D);
    size_t floats = up(V * D) + (size_t)c->n_layers * per_layer + 2 * up(D) + (c->tied_head ? 0 : up(V * D));
    g->arena_bytes = floats * sizeof(float);
    g->layers = (GpuLayer *)calloc((size_t)c->n_layers, sizeof(GpuLayer));
    cudaError_t e = cudaMalloc(&g->arena, g->arena_bytes);
    if (e != cudaSuccess || !g->layers) {
        gpu_model_free(g);
        return err_set(err, "--device cuda: cannot allocate %zu MB for the weights (%s)", g->arena_bytes >> 20,
                       cudaGetErrorString(e));
    }
    float *p = g->arena;
    const Weights *w = &m->w;
    g->tok_emb = put(&p, w->tok_emb, V * D, &e);
    for (int l = 0; l < c->n_layers; l++) {
        const LayerWeights *s = &w->layers[l];
        GpuLayer *d = &g->layers[l];
        d->attn_norm = put(&p, s->attn_norm, D, &e);
        d->attn_norm_b = s->attn_norm_b ? put(&p, s->attn_norm_b, D, &e) : NULL;
        // wq, wk, wv (and their biases) back to back: one product gives q, k and v
        float *wqkv = p;
        cudaError_t e2 = cudaMemcpy(wqkv, s->wq, qd * D * 4, cudaMemcpyHostToDevice);
        if (e2 == cudaSuccess) e2 = cudaMemcpy(wqkv + qd * D, s->wk, kvd * D * 4, cudaMemcpyHostToDevice);
        if (e2 == cudaSuccess) e2 = cudaMemcpy(wqkv + (qd + kvd) * D, s->wv, kvd * D * 4, cudaMemcpyHostToDevice);
        if (e == cudaSuccess) e = e2;
        d->wqkv = put(&p, NULL, rows * D, &e);
        if (s->bq) {
            float *b = p;
            e2 = cudaMemcpy(b, s->bq, qd * 4, cudaMemcpyHostToDevice);
            if (e2 == cudaSuccess) e2 = cudaMemcpy(b + qd, s->bk, kvd * 4, cudaMemcpyHostToDevice);
            if (e2 == cudaSuccess) e2 = cudaMemcpy(b + qd + kvd, s->bv, kvd * 4, cudaMemcpyHostToDevice);
            if (e == cudaSuccess) e = e2;
            d->bqkv = put(&p, NULL, rows, &e);
        }
        d->wo = put(&p, s->wo, D * qd, &e);
        d->bo = s->bo ? put(&p, s->bo, D, &e) : NULL;
        d->ffn_norm = put(&p, s->ffn_norm, D, &e);
        d->ffn_norm_b = s->ffn_norm_b ? put(&p, s->ffn_norm_b, D, &e) : NULL;
        d->w_gate = s->w_gate ? put(&p, s->w_gate, F * D, &e) : NULL;
        d->w_up = put(&p, s->w_up, F * D, &e);
        d->b_up = s->b_up ? put(&p, s->b_up, F, &e) : NULL;
        d->w_down = put(&p, s->w_down, D * F, &e);
        d->b_down = s->b_down ? put(&p, s->b_down, D, &e) : NULL;
    }
    g->final_norm = put(&p, w->final_norm, D, &e);
    g->final_norm_b = w->final_norm_b ? put(&p, w->final_norm_b, D, &e) : NULL;
    g->lm_head = c->tied_head ? g->tok_emb : put(&p, w->lm_head, V * D, &e);
    if (e != cudaSuccess) {
        gpu_model_free(g);
        return err_set(err, "--device cuda: uploading the weights failed (%s)", cudaGetErrorString(e));
    }
    return 0;
}

void gpu_model_free(GpuModel *g) {
    cudaFree(g->arena);
    free(g->layers);
    memset(g, 0, sizeof *g);
}

int gpu_run_init(GpuRun *r, const Config *c, int max_T, int capacity, int ring_sinks, Error *err) {
    memset(r, 0, sizeof *r);
    if (kernel_model_check(err)) return -1;
    r->max_T = max_T;
    r->capacity = capacity;
    r->ring.sinks = ring_sinks;
    r->ring.size = capacity - ring_sinks;
    size_t T = max_T, D = c->dim, F = c->hidden_dim, qd = (size_t)c->n_heads * c->head_dim,
           kvd = (size_t)c->n_kv_heads * c->head_dim, half = c->rot_dim / 2, kv = (size_t)c->n_layers * capacity * kvd;
    struct { void *p; size_t bytes; } a[] = {
        {&r->k, kv * 4}, {&r->v, kv * 4}, {&r->cos, capacity * half * 4}, {&r->sin, capacity * half * 4},
        {&r->x, T * D * 4}, {&r->xb, T * D * 4}, {&r->xb2, T * D * 4}, {&r->qkv, T * (qd + 2 * kvd) * 4},
        {&r->q, T * qd * 4}, {&r->q_sink, T * qd * 4}, {&r->att_out, T * qd * 4}, {&r->hb, T * F * 4},
        {&r->hb2, T * F * 4}, {&r->partial, gpu_attention_ring_scratch(max_T, c->n_heads, c->head_dim, capacity) * 4},
        {&r->logits, T * c->vocab_size * 4}, {&r->tokens, T * 4}, {&r->step, sizeof(GpuStep)},
    };
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
        cudaError_t e = cudaMalloc((void **)a[i].p, a[i].bytes);
        if (e != cudaSuccess) {
            gpu_run_free(r);
            return err_set(err, "--device cuda: cannot allocate %zu MB for the cache and activations (%s)",
                           a[i].bytes >> 20, cudaGetErrorString(e));
        }
        r->bytes += a[i].bytes;
    }
    RopeTable rope;
    if (rope_init(&rope, capacity, c->rot_dim, c->rope_theta, err)) {
        gpu_run_free(r);
        return -1;
    }
    cudaError_t e = cudaMemcpy(r->cos, rope.cos, capacity * half * 4, cudaMemcpyHostToDevice);
    if (e == cudaSuccess) e = cudaMemcpy(r->sin, rope.sin, capacity * half * 4, cudaMemcpyHostToDevice);
    rope_free(&rope);
    if (e != cudaSuccess) {
        gpu_run_free(r);
        return err_set(err, "--device cuda: uploading the rotary table failed (%s)", cudaGetErrorString(e));
    }
    return 0;
}

void gpu_run_free(GpuRun *r) {
    void *p[] = {r->k, r->v, r->cos, r->sin, r->x, r->xb, r->xb2, r->qkv, r->q, r->q_sink, r->att_out, r->hb,
                 r->hb2, r->partial, r->logits, r->tokens, r->step};
    for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) cudaFree(p[i]);
    memset(r, 0, sizeof *r);
}

// The versions come from gpu/registry.c's MODEL_VERSIONS (checked ready in gpu_run_init).
static void norm_forward(float *out, const float *in, const float *w, const float *b, const Config *c, int T) {
    if (c->arch == ARCH_LLAMA) gpu_rmsnorm_forward(kernel_model_version("rmsnorm", T), out, in, w, T, c->dim, c->norm_eps);
    else gpu_layernorm_forward(kernel_model_version("layernorm", T), out, in, w, b, T, c->dim, c->norm_eps);
}

static void matmul(float *out, const float *in, const float *w, const float *bias, int T, int I, int O) {
    gpu_matmul_forward(kernel_model_version("matmul", T), out, in, w, bias, T, I, O);
}

static GpuMatvec mv(GpuNorm norm, const float *nw, const float *nb, float eps, GpuEpilogue epi, const float *bias) {
    GpuMatvec op = {norm, nw, nb, eps, epi, NULL, bias, NULL, NULL};
    return op;
}

// ANCHOR: gpu_block
void gpu_block_forward(const GpuModel *g, GpuRun *r, int T, int want) {
    const Config *c = &g->cfg;
    int D = c->dim, F = c->hidden_dim, V = c->vocab_size, hd = c->head_dim, qd = c->n_heads * hd,
        kvd = c->n_kv_heads * hd, rows = qd + 2 * kvd, half = c->rot_dim / 2;
    int llama = c->arch == ARCH_LLAMA, parallel = !llama && c->parallel_residual;
    int interleaved = c->rope_style == ROPE_INTERLEAVED;
    GpuNorm norm = llama ? GPU_NORM_RMS : GPU_NORM_LAYER;
    int ring_version = kernel_model_version("attention_ring", T); // v4 decodes faster, v3 prefills faster
    gpu_embedding_forward(r->x, g->tok_emb, r->tokens, T, D); // x[T, D]
    for (int l = 0; l < c->n_layers; l++) {
        const GpuLayer *w = &g->layers[l];
        float *k = r->k + (size_t)l * r->capacity * kvd, *v = r->v + (size_t)l * r->capacity * kvd;
        // attention: qkv = W_qkv norm(x), rotated and stored, then attention over the cache
        if (T == 1) {
            gpu_matvec_forward(r->qkv, r->x, w->wqkv, D, rows,
                               mv(norm, w->attn_norm, w->attn_norm_b, c->norm_eps, GPU_EPI_NONE, w->bqkv));
        } else {
            norm_forward(r->xb, r->x, w->attn_norm, w->attn_norm_b, c, T);
            matmul(r->qkv, r->xb, w->wqkv, w->bqkv, T, D, rows);
        }
        gpu_qkv_store(r->q, r->q_sink, k, v, r->qkv, r->step, r->ring, r->cos, r->sin, half, interleaved, T,
                      c->n_heads, c->n_kv_heads, hd);
        gpu_attention_ring_forward(ring_version, r->att_out, r->partial, r->q, r->q_sink, k, v, r->cos, r->sin, r->step, r->ring,
                                   half, interleaved, T, c->n_heads, c->n_kv_heads, hd, r->capacity);
        if (r->att) // only when a picture watches: the probabilities themselves, layer by layer
            gpu_attention_probs(r->att + (size_t)l * c->n_heads * r->max_T * r->capacity, r->q, r->q_sink, k, r->cos,
                                r->sin, r->step, r->ring, half, interleaved, T, c->n_heads, c->n_kv_heads, hd,
                                r->capacity);
        if (T == 1) {
            // x += W_o att (GPT-NeoX parallel: keep it in xb2, the MLP must see the old x)
            GpuMatvec op = mv(GPU_NORM_NONE, NULL, NULL, 0, parallel ? GPU_EPI_NONE : GPU_EPI_RESIDUAL, w->bo);
            op.res = r->x;
            gpu_matvec_forward(parallel ? r->xb2 : r->x, r->att_out, w->wo, qd, D, op);
            if (llama) { // x += W_down (silu(W_gate h) * W_up h), h = rmsnorm(x)
                op = mv(norm, w->ffn_norm, NULL, c->norm_eps, GPU_EPI_SWIGLU, NULL);
                op.w2 = w->w_up;
                gpu_matvec_forward(r->hb, r->x, w->w_gate, D, F, op);
            } else { // x += W_down gelu(W_up h + b) + b (+ the attention, parallel), h = layernorm(x)
                op = mv(norm, w->ffn_norm, w->ffn_norm_b, c->norm_eps,
                        c->act == ACT_GELU_TANH ? GPU_EPI_GELU_TANH : GPU_EPI_GELU, w->b_up);
                gpu_matvec_forward(r->hb, r->x, w->w_up, D, F, op);
            }
            op = mv(GPU_NORM_NONE, NULL, NULL, 0, parallel ? GPU_EPI_RESIDUAL2 : GPU_EPI_RESIDUAL, w->b_down);
            op.res = r->x, op.res2 = r->xb2;
            gpu_matvec_forward(r->x, r->hb, w->w_down, F, D, op);
            continue;
        }
        // a block of T > 1 tokens: ref_cpu's llama_block_forward / neox_block_forward, op for op
        matmul(r->xb2, r->att_out, w->wo, w->bo, T, qd, D);
        if (llama) {
            gpu_residual_forward(r->x, r->x, r->xb2, T * D);
            norm_forward(r->xb, r->x, w->ffn_norm, NULL, c, T);
            matmul(r->hb, r->xb, w->w_gate, NULL, T, D, F);
            matmul(r->hb2, r->xb, w->w_up, NULL, T, D, F);
            gpu_swiglu_forward(r->hb, r->hb, r->hb2, T * F);
            matmul(r->xb2, r->hb, w->w_down, NULL, T, F, D);
            gpu_residual_forward(r->x, r->x, r->xb2, T * D);
        } else {
            if (!parallel) gpu_residual_forward(r->x, r->x, r->xb2, T * D);
            norm_forward(r->xb, r->x, w->ffn_norm, w->ffn_norm_b, c, T);
            matmul(r->hb, r->xb, w->w_up, w->b_up, T, D, F);
            gpu_gelu_forward(r->hb, T * F, c->act == ACT_GELU_TANH);
            matmul(r->xb, r->hb, w->w_down, w->b_down, T, F, D);
            if (parallel) gpu_residual_forward(r->xb, r->xb, r->xb2, T * D);
            gpu_residual_forward(r->x, r->x, r->xb, T * D);
        }
    }
    if (want == GPU_LOGITS_LAST || (want == GPU_LOGITS_ALL && T == 1)) { // one row: the fused head
        gpu_matvec_forward(r->logits, r->x + (size_t)(T - 1) * D, g->lm_head, D, V,
                           mv(norm, g->final_norm, g->final_norm_b, c->norm_eps, GPU_EPI_NONE, NULL));
    } else if (want == GPU_LOGITS_ALL) {
        norm_forward(r->xb, r->x, g->final_norm, g->final_norm_b, c, T);
        matmul(r->logits, r->xb, g->lm_head, NULL, T, D, V);
    }
}
// END: gpu_block

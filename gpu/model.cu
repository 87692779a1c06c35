// model.cu: the weights on the GPU, and the forward pass of one block of tokens for both
// families. A decode step (T = 1) takes the fused matrix-vector kernels (matvec.cu); longer
// blocks take the tiled matmul and the separate ops, in ref_cpu's order.
#include <stdlib.h>
#include <string.h>

#include "model.cuh"

extern "C" {
#include "registry.h"
}

#define ALIGN 256 // every weight starts on a 256-byte boundary: float4 loads stay aligned

// The weights go into one allocation by two passes over the same code: the first (base NULL)
// only adds up the bytes, the second copies.
typedef struct {
    unsigned char *base; // the device arena; NULL: measuring
    size_t off;
    cudaError_t e;
    int oom;             // a host buffer for dequantising could not be had
    size_t scratch;      // floats of the largest block matrix (rows * cols)
} Upload;

static unsigned char *take(Upload *u, size_t bytes) {
    unsigned char *at = u->base ? u->base + u->off : NULL;
    u->off += (bytes + ALIGN - 1) / ALIGN * ALIGN;
    return at;
}

static void copy_in(Upload *u, void *dst, const void *src, size_t bytes) {
    if (dst && src && u->e == cudaSuccess) u->e = cudaMemcpy(dst, src, bytes, cudaMemcpyHostToDevice);
}

// Whether the GPU reads a matrix of `cols` columns in its blocks (qblock.h's two types).
static int gpu_keeps(QMat q, size_t cols) {
    return q.data && (q.type == GGML_Q4_1 || q.type == GGML_Q8_0) && cols % 32 == 0;
}

// Stacks n parts of rows[i] x cols (fp32 f[i], or blocks q[i]) into one matrix: blocks when
// `blocks` allows it and every part holds the same type the GPU reads, else fp32, with blocks
// of other types dequantised here on the host. Vectors (norms, biases) are parts of one column.
static GpuWeights put_matrix(Upload *u, int n, const float *const *f, const QMat *q, const size_t *rows, size_t cols,
                             int blocks) {
    int type = blocks && gpu_keeps(q[0], cols) ? (int)q[0].type : GGML_F32;
    size_t total = 0;
    for (int i = 0; i < n; i++) {
        if (!gpu_keeps(q[i], cols) || (int)q[i].type != type) type = GGML_F32;
        total += rows[i];
    }
    size_t row_bytes = type == GGML_F32 ? cols * sizeof(float) : qmat_row_bytes((uint32_t)type, (int)cols);
    unsigned char *at = take(u, total * row_bytes);
    if (type != GGML_F32 && total * cols > u->scratch) u->scratch = total * cols;
    for (int i = 0; i < n && at; at += rows[i] * row_bytes, i++) {
        size_t bytes = rows[i] * row_bytes;
        if (type != GGML_F32) copy_in(u, at, q[i].data, bytes);
        else if (f[i] || !q[i].data) copy_in(u, at, f[i], bytes);
        else { // blocks the GPU does not read
            float *tmp = (float *)malloc(bytes);
            if (!tmp) {
                u->oom = 1;
                continue;
            }
            dequantize(tmp, q[i].data, q[i].type, rows[i] * cols);
            copy_in(u, at, tmp, bytes);
            free(tmp);
        }
    }
    GpuWeights w = {u->base ? at - total * row_bytes : NULL, type};
    return w;
}

static GpuWeights put_one(Upload *u, const float *f, QMat q, size_t rows, size_t cols) {
    return put_matrix(u, 1, &f, &q, &rows, cols, 1);
}

// A vector of n floats; NULL stays NULL.
static const float *put_vec(Upload *u, const float *v, size_t n) {
    QMat none = {NULL, 0};
    return v ? (const float *)put_matrix(u, 1, &v, &none, &n, 1, 0).data : NULL;
}

static void put_all(Upload *u, GpuModel *g, const Model *m) {
    const Config *c = &m->cfg;
    size_t D = c->dim, F = c->hidden_dim, V = c->vocab_size, qd = (size_t)c->n_heads * c->head_dim,
           kvd = (size_t)c->n_kv_heads * c->head_dim;
    const Weights *w = &m->w;
    QMat none = {NULL, 0};
    g->tok_emb = put_one(u, w->tok_emb, w->qtok_emb, V, D);
    for (int l = 0; l < c->n_layers; l++) {
        const LayerWeights *s = &w->layers[l];
        GpuLayer *d = &g->layers[l];
        d->attn_norm = put_vec(u, s->attn_norm, D);
        d->attn_norm_b = put_vec(u, s->attn_norm_b, D);
        // wq, wk, wv (and their biases) back to back: one product gives q, k and v
        const float *fqkv[3] = {s->wq, s->wk, s->wv}, *bqkv[3] = {s->bq, s->bk, s->bv};
        QMat qqkv[3] = {s->qwq, s->qwk, s->qwv}, nones[3] = {none, none, none};
        size_t rqkv[3] = {qd, kvd, kvd};
        d->wqkv = put_matrix(u, 3, fqkv, qqkv, rqkv, D, 1);
        d->bqkv = s->bq ? (const float *)put_matrix(u, 3, bqkv, nones, rqkv, 1, 0).data : NULL;
        d->wo = put_one(u, s->wo, s->qwo, D, qd);
        d->bo = put_vec(u, s->bo, D);
        d->ffn_norm = put_vec(u, s->ffn_norm, D);
        d->ffn_norm_b = put_vec(u, s->ffn_norm_b, D);
        // the fused SwiGLU product reads gate and up alike: blocks only if both are the same type
        int has_gate = s->w_gate || s->qw_gate.data;
        int same = !has_gate || (gpu_keeps(s->qw_gate, D) && gpu_keeps(s->qw_up, D) && s->qw_gate.type == s->qw_up.type);
        if (has_gate) d->w_gate = put_matrix(u, 1, &s->w_gate, &s->qw_gate, &F, D, same);
        d->w_up = put_matrix(u, 1, &s->w_up, &s->qw_up, &F, D, same);
        d->b_up = put_vec(u, s->b_up, F);
        d->w_down = put_one(u, s->w_down, s->qw_down, D, F);
        d->b_down = put_vec(u, s->b_down, D);
    }
    g->final_norm = put_vec(u, w->final_norm, D);
    g->final_norm_b = put_vec(u, w->final_norm_b, D);
    g->lm_head = c->tied_head ? g->tok_emb : put_one(u, w->lm_head, w->qlm_head, V, D);
}

int gpu_model_upload(GpuModel *g, const Model *m, Error *err) {
    memset(g, 0, sizeof *g);
    const Config *c = &m->cfg;
    g->cfg = *c;
    if (c->head_dim > 128) return err_set(err, "--device cuda: head size %d > 128 is not supported", c->head_dim);
    if (c->dim > 12288 || c->hidden_dim > 12288 || c->n_heads * c->head_dim > 12288)
        return err_set(err, "--device cuda: model width %d / %d exceeds the kernels' 12288", c->dim, c->hidden_dim);
    g->layers = (GpuLayer *)calloc((size_t)c->n_layers, sizeof(GpuLayer));
    if (!g->layers) return err_set(err, "--device cuda: out of memory for %d layers", c->n_layers);
    Upload u = {NULL, 0, cudaSuccess, 0, 0};
    put_all(&u, g, m); // measure
    g->arena_bytes = u.off;
    g->wscratch_floats = u.scratch;
    cudaError_t e = cudaMalloc((void **)&g->arena, g->arena_bytes);
    if (e == cudaSuccess && u.scratch) e = cudaMalloc((void **)&g->wscratch, u.scratch * sizeof(float));
    if (e != cudaSuccess) {
        size_t mb = (g->arena_bytes + u.scratch * sizeof(float)) >> 20;
        gpu_model_free(g);
        return err_set(err, "--device cuda: cannot allocate %zu MB for the weights (%s)", mb, cudaGetErrorString(e));
    }
    u = Upload{g->arena, 0, cudaSuccess, 0, 0};
    put_all(&u, g, m); // copy
    if (u.e != cudaSuccess || u.oom) {
        gpu_model_free(g);
        return err_set(err, "--device cuda: uploading the weights failed (%s)",
                       u.oom ? "out of host memory" : cudaGetErrorString(u.e));
    }
    return 0;
}

void gpu_model_free(GpuModel *g) {
    cudaFree(g->arena);
    cudaFree(g->wscratch);
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

// A block of tokens: blocks are dequantised into the model's scratch first, then the tiled
// product (the next step: a tiled product that reads the blocks itself).
static void matmul(const GpuModel *g, float *out, const float *in, GpuWeights w, const float *bias, int T, int I,
                   int O) {
    const float *wf = (const float *)w.data;
    if (w.type != GGML_F32) {
        gpu_dequant(g->wscratch, w, (size_t)O * I);
        wf = g->wscratch;
    }
    gpu_matmul_forward(kernel_model_version("matmul", T), out, in, wf, bias, T, I, O);
}

static const GpuWeights NO_W2 = {NULL, GGML_F32}; // the second matrix of SwiGLU only

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
    if (g->tok_emb.type == GGML_F32) gpu_embedding_forward(r->x, (const float *)g->tok_emb.data, r->tokens, T, D);
    else gpu_embedding_q_forward(r->x, g->tok_emb, r->tokens, T, D); // x[T, D]
    for (int l = 0; l < c->n_layers; l++) {
        const GpuLayer *w = &g->layers[l];
        float *k = r->k + (size_t)l * r->capacity * kvd, *v = r->v + (size_t)l * r->capacity * kvd;
        // attention: qkv = W_qkv norm(x), rotated and stored, then attention over the cache
        if (T == 1) {
            gpu_matvec_w_forward(r->qkv, r->x, w->wqkv, NO_W2, D, rows,
                                 mv(norm, w->attn_norm, w->attn_norm_b, c->norm_eps, GPU_EPI_NONE, w->bqkv));
        } else {
            norm_forward(r->xb, r->x, w->attn_norm, w->attn_norm_b, c, T);
            matmul(g, r->qkv, r->xb, w->wqkv, w->bqkv, T, D, rows);
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
            gpu_matvec_w_forward(parallel ? r->xb2 : r->x, r->att_out, w->wo, NO_W2, qd, D, op);
            if (llama) { // x += W_down (silu(W_gate h) * W_up h), h = rmsnorm(x)
                op = mv(norm, w->ffn_norm, NULL, c->norm_eps, GPU_EPI_SWIGLU, NULL);
                gpu_matvec_w_forward(r->hb, r->x, w->w_gate, w->w_up, D, F, op);
            } else { // x += W_down gelu(W_up h + b) + b (+ the attention, parallel), h = layernorm(x)
                op = mv(norm, w->ffn_norm, w->ffn_norm_b, c->norm_eps,
                        c->act == ACT_GELU_TANH ? GPU_EPI_GELU_TANH : GPU_EPI_GELU, w->b_up);
                gpu_matvec_w_forward(r->hb, r->x, w->w_up, NO_W2, D, F, op);
            }
            op = mv(GPU_NORM_NONE, NULL, NULL, 0, parallel ? GPU_EPI_RESIDUAL2 : GPU_EPI_RESIDUAL, w->b_down);
            op.res = r->x, op.res2 = r->xb2;
            gpu_matvec_w_forward(r->x, r->hb, w->w_down, NO_W2, F, D, op);
            continue;
        }
        // a block of T > 1 tokens: ref_cpu's llama_block_forward / neox_block_forward, op for op
        matmul(g, r->xb2, r->att_out, w->wo, w->bo, T, qd, D);
        if (llama) {
            gpu_residual_forward(r->x, r->x, r->xb2, T * D);
            norm_forward(r->xb, r->x, w->ffn_norm, NULL, c, T);
            matmul(g, r->hb, r->xb, w->w_gate, NULL, T, D, F);
            matmul(g, r->hb2, r->xb, w->w_up, NULL, T, D, F);
            gpu_swiglu_forward(r->hb, r->hb, r->hb2, T * F);
            matmul(g, r->xb2, r->hb, w->w_down, NULL, T, F, D);
            gpu_residual_forward(r->x, r->x, r->xb2, T * D);
        } else {
            if (!parallel) gpu_residual_forward(r->x, r->x, r->xb2, T * D);
            norm_forward(r->xb, r->x, w->ffn_norm, w->ffn_norm_b, c, T);
            matmul(g, r->hb, r->xb, w->w_up, w->b_up, T, D, F);
            gpu_gelu_forward(r->hb, T * F, c->act == ACT_GELU_TANH);
            matmul(g, r->xb, r->hb, w->w_down, w->b_down, T, F, D);
            if (parallel) gpu_residual_forward(r->xb, r->xb, r->xb2, T * D);
            gpu_residual_forward(r->x, r->x, r->xb, T * D);
        }
    }
    if (want == GPU_LOGITS_LAST || (want == GPU_LOGITS_ALL && T == 1)) { // one row: the fused head
        gpu_matvec_w_forward(r->logits, r->x + (size_t)(T - 1) * D, g->lm_head, NO_W2, D, V,
                             mv(norm, g->final_norm, g->final_norm_b, c->norm_eps, GPU_EPI_NONE, NULL));
    } else if (want == GPU_LOGITS_ALL) {
        norm_forward(r->xb, r->x, g->final_norm, g->final_norm_b, c, T);
        matmul(g, r->logits, r->xb, g->lm_head, NULL, T, D, V);
    }
}
// END: gpu_block

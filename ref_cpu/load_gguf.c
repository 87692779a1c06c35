// load_gguf.c: a GGUF Llama checkpoint (e.g. SmolLM2) into Model weights: fp32, or (--weights
// native) with the quantized matrices left in the mapped file as they are.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "model.h"
#include "quant.h"

// Dequantises tensor `name` into dst after checking it is [rows, cols] (ggml: ne0 = cols). dst
// NULL: the matrix is kept quantized, only its shape is checked.
static int load(float *dst, const GGUF *g, const char *name, uint64_t rows, uint64_t cols, Error *err) {
    const GGUFTensor *t = gguf_tensor(g, name);
    if (!t) return err_set(err, "%s: missing tensor '%s'", g->path, name);
    uint64_t want_dims = rows > 1 ? 2 : 1;
    if (t->ne[0] != cols || t->ne[1] != rows || t->ne[2] != 1 || t->ne[3] != 1 || t->n_dims < want_dims)
        return err_set(err, "%s: tensor '%s' has shape [%llu, %llu], expected [%llu, %llu]", g->path, name,
                       (unsigned long long)t->ne[1], (unsigned long long)t->ne[0], (unsigned long long)rows,
                       (unsigned long long)cols);
    if (dst) dequantize(dst, t->data, t->type, t->n_elements);
    return 0;
}

static int opt_u32(const GGUF *g, const char *key, int fallback, int *out, Error *err) {
    uint32_t v;
    if (!gguf_find(g, key)) {
        *out = fallback;
        return 0;
    }
    if (gguf_get_u32(g, key, &v, err)) return -1;
    *out = v > 1000000000u ? -1 : (int)v; // config_validate rejects the -1
    return 0;
}

static int gguf_config(Config *c, const GGUF *g, Error *err) {
    GGUFStr arch;
    if (gguf_get_str(g, "general.architecture", &arch, err)) return -1;
    if (!gguf_str_eq(arch, "llama"))
        return err_set(err, "%s: unsupported architecture '%.*s' (GGUF files must be 'llama')", g->path,
                       (int)(arch.len > 64 ? 64 : arch.len), arch.ptr);
    memset(c, 0, sizeof *c);
    c->arch = ARCH_LLAMA;
    c->act = ACT_SILU;
    c->rope_style = ROPE_INTERLEAVED; // llama.cpp's converter permuted Q and K for this
    const GGUFTensor *emb = gguf_tensor(g, "token_embd.weight");
    if (!emb) return err_set(err, "%s: missing tensor 'token_embd.weight'", g->path);
    if (opt_u32(g, "llama.block_count", -1, &c->n_layers, err) ||
        opt_u32(g, "llama.embedding_length", -1, &c->dim, err) ||
        opt_u32(g, "llama.feed_forward_length", -1, &c->hidden_dim, err) ||
        opt_u32(g, "llama.attention.head_count", -1, &c->n_heads, err) ||
        opt_u32(g, "llama.attention.head_count_kv", c->n_heads, &c->n_kv_heads, err) ||
        opt_u32(g, "llama.context_length", -1, &c->ctx_len, err) ||
        opt_u32(g, "llama.vocab_size", emb->ne[1] > 1000000 ? -1 : (int)emb->ne[1], &c->vocab_size, err))
        return -1;
    if (c->n_layers < 0 || c->dim < 0 || c->hidden_dim < 0 || c->n_heads < 0 || c->ctx_len < 0)
        return err_set(err, "%s: missing one of llama.block_count, embedding_length, feed_forward_length, "
                            "attention.head_count, context_length", g->path);
    c->head_dim = c->n_heads > 0 ? c->dim / c->n_heads : 0;
    if (opt_u32(g, "llama.rope.dimension_count", c->head_dim, &c->rot_dim, err)) return -1;
    c->rope_theta = 10000.0f;
    if (gguf_find(g, "llama.rope.freq_base") && gguf_get_f32(g, "llama.rope.freq_base", &c->rope_theta, err)) return -1;
    if (gguf_get_f32(g, "llama.attention.layer_norm_rms_epsilon", &c->norm_eps, err)) return -1;
    if (gguf_find(g, "llama.rope.scaling.type"))
        return err_set(err, "%s: rope scaling is not supported", g->path);
    c->tied_head = gguf_tensor(g, "output.weight") == NULL;
    return config_validate(c, g->path, err);
}

static uint64_t gguf_weights(const GGUF *g) { // how many weights the file's tensors hold
    uint64_t have = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) have += g->tensors[i].n_elements;
    return have;
}

// ANCHOR: gguf_native
// The matrix `name`, if its type has a fused kernel and it is [rows, cols]: its blocks in the
// mapped file. Anything else stays fp32 (and load() reports a wrong shape).
static QMat view(const GGUF *g, const char *name, uint64_t rows, uint64_t cols) {
    const GGUFTensor *t = gguf_tensor(g, name);
    QMat q = {NULL, 0};
    if (t && t->ne[0] == cols && t->ne[1] == rows && cols <= 1u << 30 && qmat_supported(t->type, (int)cols))
        q.data = t->data, q.type = t->type;
    return q;
}

static void native_views(Weights *q, const GGUF *g, const Config *c) {
    uint64_t D = c->dim, F = c->hidden_dim, V = c->vocab_size, qd = (uint64_t)c->n_heads * c->head_dim,
             kv = (uint64_t)c->n_kv_heads * c->head_dim;
    q->qtok_emb = view(g, "token_embd.weight", V, D);
    if (!c->tied_head) q->qlm_head = view(g, "output.weight", V, D);
    for (int l = 0; l < c->n_layers; l++) {
        LayerWeights *w = &q->layers[l];
        char n[64];
#define VIEW(field, part, rows, cols) \
    (snprintf(n, sizeof n, "blk.%d.%s.weight", l, part), w->field = view(g, n, rows, cols))
        VIEW(qwq, "attn_q", qd, D), VIEW(qwk, "attn_k", kv, D), VIEW(qwv, "attn_v", kv, D), VIEW(qwo, "attn_output", D, qd);
        VIEW(qw_gate, "ffn_gate", F, D), VIEW(qw_up, "ffn_up", F, D), VIEW(qw_down, "ffn_down", D, F);
#undef VIEW
    }
}
// END: gguf_native

// Weights kept quantized and their bytes, for `inspect` and `bench`.
static void count_quantized(Model *m) {
    const Config *c = &m->cfg;
    size_t D = c->dim, F = c->hidden_dim, V = c->vocab_size, qd = (size_t)c->n_heads * c->head_dim,
           kv = (size_t)c->n_kv_heads * c->head_dim;
#define COUNT(qm, rows, cols) \
    if ((qm).data) m->n_quant += (size_t)(rows) * (cols), m->quant_bytes += (size_t)(rows) * qmat_row_bytes((qm).type, (int)(cols))
    COUNT(m->w.qtok_emb, V, D);
    if (!c->tied_head) COUNT(m->w.qlm_head, V, D);
    for (int l = 0; l < c->n_layers; l++) {
        const LayerWeights *w = &m->w.layers[l];
        COUNT(w->qwq, qd, D); COUNT(w->qwk, kv, D); COUNT(w->qwv, kv, D); COUNT(w->qwo, D, qd);
        COUNT(w->qw_gate, F, D); COUNT(w->qw_up, F, D); COUNT(w->qw_down, D, F);
    }
#undef COUNT
}

int model_load_gguf(Model *m, const char *path, Error *err) { return model_load_gguf_as(m, path, WEIGHTS_FP32, err); }

int model_load_gguf_as(Model *m, const char *path, WeightsKind kind, Error *err) {
    GGUF g;
    Config c;
    Weights qw;
    memset(m, 0, sizeof *m);
    memset(&qw, 0, sizeof qw);
    if (gguf_open(&g, path, err)) return -1;
    int bad = gguf_config(&c, &g, err);
    if (!bad && kind == WEIGHTS_NATIVE) {
        if (!(qw.layers = calloc((size_t)c.n_layers, sizeof *qw.layers))) bad = err_set(err, "out of memory");
        else native_views(&qw, &g, &c);
    }
    if (!bad) bad = model_alloc_for(m, &c, kind == WEIGHTS_NATIVE ? &qw : NULL, gguf_weights(&g), path, err);
    free(qw.layers);
    if (bad) {
        gguf_close(&g);
        return -1;
    }
    uint64_t D = c.dim, F = c.hidden_dim, V = c.vocab_size, q = (uint64_t)c.n_heads * c.head_dim,
             kv = (uint64_t)c.n_kv_heads * c.head_dim;
    int rc = load(m->w.tok_emb, &g, "token_embd.weight", V, D, err);
    for (int l = 0; l < c.n_layers && !rc; l++) {
        LayerWeights *w = &m->w.layers[l];
        char n[9][64];
        const char *parts[9] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"};
        for (int i = 0; i < 9; i++) snprintf(n[i], sizeof n[i], "blk.%d.%s.weight", l, parts[i]);
        rc = load(w->attn_norm, &g, n[0], 1, D, err) || load(w->wq, &g, n[1], q, D, err) ||
             load(w->wk, &g, n[2], kv, D, err) || load(w->wv, &g, n[3], kv, D, err) ||
             load(w->wo, &g, n[4], D, q, err) || load(w->ffn_norm, &g, n[5], 1, D, err) ||
             load(w->w_gate, &g, n[6], F, D, err) || load(w->w_up, &g, n[7], F, D, err) ||
             load(w->w_down, &g, n[8], D, F, err);
    }
    if (!rc) rc = load(m->w.final_norm, &g, "output_norm.weight", 1, D, err);
    if (!rc && !c.tied_head) rc = load(m->w.lm_head, &g, "output.weight", V, D, err);
    count_quantized(m);
    if (!rc && m->n_quant && (m->file = malloc(sizeof *m->file))) {
        *m->file = g; // the quantized weights point into its mapping: it stays open with the model
    } else {
        if (!rc && m->n_quant) rc = err_set(err, "out of memory");
        gguf_close(&g);
    }
    if (rc) {
        model_free(m);
        return -1;
    }
    snprintf(m->source, sizeof m->source, "gguf");
    return 0;
}

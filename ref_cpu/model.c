#include "model.h"

#include "quant.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int config_validate(const Config *c, const char *path, Error *err) {
    if (c->dim <= 0 || c->hidden_dim <= 0 || c->n_layers <= 0 || c->n_heads <= 0 || c->n_kv_heads <= 0 ||
        c->vocab_size <= 0 || c->ctx_len <= 0)
        return err_set(err, "%s: model sizes must be positive", path);
    // bounds far above any model this project runs; they keep size arithmetic in range
    if (c->dim > 65536 || c->hidden_dim > 262144 || c->n_layers > 1024 || c->vocab_size > 1000000 || c->n_heads > 1024)
        return err_set(err, "%s: model sizes are implausibly large", path);
    if (c->dim % c->n_heads != 0 || c->n_heads % c->n_kv_heads != 0)
        return err_set(err, "%s: %d heads and %d kv heads do not divide dim %d", path, c->n_heads, c->n_kv_heads, c->dim);
    if (c->head_dim != c->dim / c->n_heads)
        return err_set(err, "%s: head_dim %d != dim / heads", path, c->head_dim);
    if (c->rot_dim <= 0 || c->rot_dim > c->head_dim || c->rot_dim % 2)
        return err_set(err, "%s: rotary dims %d must be even and at most the head size %d", path, c->rot_dim, c->head_dim);
    if (!(c->rope_theta > 0) || !(c->norm_eps > 0))
        return err_set(err, "%s: rope theta and norm epsilon must be positive", path);
    return 0;
}

// Counts the floats of each weight; with `m` set, also points them into m->arena. A matrix whose
// QMat in q is set is kept quantized: it takes no room and its fp32 pointer stays NULL.
static size_t layout(Model *m, const Config *c, const Weights *qv) {
    size_t D = c->dim, F = c->hidden_dim, V = c->vocab_size, q = (size_t)c->n_heads * c->head_dim,
           kv = (size_t)c->n_kv_heads * c->head_dim, n = 0;
    int neox = c->arch == ARCH_NEOX;
    float *base = m ? m->arena : NULL;
#define TAKE(ptr, count, cond)                 \
    do {                                       \
        if (cond) {                            \
            if (m) (ptr) = base + n;           \
            n += (count);                      \
        }                                      \
    } while (0)
    Weights wtmp;
    Weights *w = m ? &m->w : &wtmp;
#define FP32(qfield) (!(qv && qv->qfield.data))
    TAKE(w->tok_emb, V * D, FP32(qtok_emb));
    for (int l = 0; l < c->n_layers; l++) {
        LayerWeights tmp, *lw = m ? &m->w.layers[l] : &tmp;
        TAKE(lw->attn_norm, D, 1);
        TAKE(lw->attn_norm_b, D, neox);
        TAKE(lw->wq, q * D, FP32(layers[l].qwq));
        TAKE(lw->bq, q, neox);
        TAKE(lw->wk, kv * D, FP32(layers[l].qwk));
        TAKE(lw->bk, kv, neox);
        TAKE(lw->wv, kv * D, FP32(layers[l].qwv));
        TAKE(lw->bv, kv, neox);
        TAKE(lw->wo, D * q, FP32(layers[l].qwo));
        TAKE(lw->bo, D, neox);
        TAKE(lw->ffn_norm, D, 1);
        TAKE(lw->ffn_norm_b, D, neox);
        TAKE(lw->w_gate, F * D, !neox && FP32(layers[l].qw_gate));
        TAKE(lw->w_up, F * D, FP32(layers[l].qw_up));
        TAKE(lw->b_up, F, neox);
        TAKE(lw->w_down, D * F, FP32(layers[l].qw_down));
        TAKE(lw->b_down, D, neox);
    }
    TAKE(w->final_norm, D, 1);
    TAKE(w->final_norm_b, D, neox);
    TAKE(w->lm_head, V * D, !c->tied_head && FP32(qlm_head));
#undef FP32
#undef TAKE
    if (m && c->tied_head) m->w.lm_head = m->w.tok_emb;
    return n;
}

int model_alloc(Model *m, const Config *cfg, Error *err) { return model_alloc_quantized(m, cfg, NULL, err); }

int model_alloc_quantized(Model *m, const Config *cfg, const Weights *q, Error *err) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->n_params = layout(NULL, cfg, q);
    m->arena = calloc(m->n_params ? m->n_params : 1, sizeof(float));
    m->w.layers = calloc((size_t)cfg->n_layers, sizeof(LayerWeights));
    if (!m->arena || !m->w.layers) {
        size_t mb = m->n_params * 4 >> 20; // before model_free clears it
        model_free(m);
        return err_set(err, "out of memory allocating %zu MB of weights", mb);
    }
    layout(m, cfg, q);
    if (q) {
        m->w.qtok_emb = q->qtok_emb;
        m->w.qlm_head = cfg->tied_head ? q->qtok_emb : q->qlm_head;
        for (int l = 0; l < cfg->n_layers; l++) {
            LayerWeights *d = &m->w.layers[l];
            const LayerWeights *s = &q->layers[l];
            d->qwq = s->qwq, d->qwk = s->qwk, d->qwv = s->qwv, d->qwo = s->qwo;
            d->qw_gate = s->qw_gate, d->qw_up = s->qw_up, d->qw_down = s->qw_down;
        }
    }
    return 0;
}

// One matrix of dst: src's fp32 values, or its blocks dequantised.
static void copy_fp32(float *dst, const float *src, QMat q, size_t rows, size_t cols) {
    if (!dst) return;
    if (q.data)
        dequantize(dst, q.data, q.type, rows * cols);
    else if (src)
        memcpy(dst, src, rows * cols * sizeof(float));
}

int model_fp32_copy(Model *dst, const Model *src, Error *err) {
    const Config *c = &src->cfg;
    if (model_alloc(dst, c, err)) return -1;
    size_t D = c->dim, F = c->hidden_dim, V = c->vocab_size, q = (size_t)c->n_heads * c->head_dim,
           kv = (size_t)c->n_kv_heads * c->head_dim;
    const Weights *s = &src->w;
    Weights *d = &dst->w;
    QMat none = {NULL, 0};
    copy_fp32(d->tok_emb, s->tok_emb, s->qtok_emb, V, D);
    for (int l = 0; l < c->n_layers; l++) {
        const LayerWeights *a = &s->layers[l];
        LayerWeights *b = &d->layers[l];
        copy_fp32(b->attn_norm, a->attn_norm, none, 1, D), copy_fp32(b->attn_norm_b, a->attn_norm_b, none, 1, D);
        copy_fp32(b->wq, a->wq, a->qwq, q, D), copy_fp32(b->bq, a->bq, none, 1, q);
        copy_fp32(b->wk, a->wk, a->qwk, kv, D), copy_fp32(b->bk, a->bk, none, 1, kv);
        copy_fp32(b->wv, a->wv, a->qwv, kv, D), copy_fp32(b->bv, a->bv, none, 1, kv);
        copy_fp32(b->wo, a->wo, a->qwo, D, q), copy_fp32(b->bo, a->bo, none, 1, D);
        copy_fp32(b->ffn_norm, a->ffn_norm, none, 1, D), copy_fp32(b->ffn_norm_b, a->ffn_norm_b, none, 1, D);
        copy_fp32(b->w_gate, a->w_gate, a->qw_gate, F, D);
        copy_fp32(b->w_up, a->w_up, a->qw_up, F, D), copy_fp32(b->b_up, a->b_up, none, 1, F);
        copy_fp32(b->w_down, a->w_down, a->qw_down, D, F), copy_fp32(b->b_down, a->b_down, none, 1, D);
    }
    copy_fp32(d->final_norm, s->final_norm, none, 1, D), copy_fp32(d->final_norm_b, s->final_norm_b, none, 1, D);
    if (!c->tied_head) copy_fp32(d->lm_head, s->lm_head, s->qlm_head, V, D);
    memcpy(dst->source, src->source, sizeof dst->source);
    return 0;
}

int model_alloc_for(Model *m, const Config *cfg, const Weights *q, uint64_t have, const char *path, Error *err) {
    uint64_t need = layout(NULL, cfg, NULL);
    memset(m, 0, sizeof *m);
    if (have < need) // a header that claims 7B in a small file: the file is wrong, not the memory
        return err_set(err, "%s: too small for its header's sizes (dim %d, %d layers, vocab %d): they need %llu weights, its tensors hold %llu",
                       path, cfg->dim, cfg->n_layers, cfg->vocab_size, (unsigned long long)need, (unsigned long long)have);
    if (model_alloc_quantized(m, cfg, q, err))
        return err_set(err, "%s: out of memory allocating %llu MB of weights", path, (unsigned long long)(need * 4 >> 20));
    return 0;
}

void model_free(Model *m) {
    if (m->file) {
        gguf_close(m->file);
        free(m->file);
    }
    free(m->arena);
    free(m->w.layers);
    memset(m, 0, sizeof *m);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int model_load(Model *m, const char *path, Error *err) { return model_load_as(m, path, WEIGHTS_FP32, err); }

int model_load_as(Model *m, const char *path, WeightsKind kind, Error *err) {
    struct stat st;
    if (stat(path, &st) != 0) return err_set(err, "%s: no such file or directory", path);
    if (S_ISDIR(st.st_mode)) return model_load_hf(m, path, err);
    if (!S_ISREG(st.st_mode)) return err_set(err, "%s: not a regular file or directory", path);
    if (ends_with(path, ".gguf")) return model_load_gguf_as(m, path, kind, err);
    if (ends_with(path, ".bin")) return model_load_llama2c(m, path, err);
    return err_set(err, "%s: unknown model format (expected a .gguf file, a llama2.c .bin file or a Hugging Face directory)", path);
}

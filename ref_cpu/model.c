#include "model.h"

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

// Counts the floats of each weight; with `m` set, also points them into m->arena.
static size_t layout(Model *m, const Config *c) {
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
    TAKE(w->tok_emb, V * D, 1);
    for (int l = 0; l < c->n_layers; l++) {
        LayerWeights tmp, *lw = m ? &m->w.layers[l] : &tmp;
        TAKE(lw->attn_norm, D, 1);
        TAKE(lw->attn_norm_b, D, neox);
        TAKE(lw->wq, q * D, 1);
        TAKE(lw->bq, q, neox);
        TAKE(lw->wk, kv * D, 1);
        TAKE(lw->bk, kv, neox);
        TAKE(lw->wv, kv * D, 1);
        TAKE(lw->bv, kv, neox);
        TAKE(lw->wo, D * q, 1);
        TAKE(lw->bo, D, neox);
        TAKE(lw->ffn_norm, D, 1);
        TAKE(lw->ffn_norm_b, D, neox);
        TAKE(lw->w_gate, F * D, !neox);
        TAKE(lw->w_up, F * D, 1);
        TAKE(lw->b_up, F, neox);
        TAKE(lw->w_down, D * F, 1);
        TAKE(lw->b_down, D, neox);
    }
    TAKE(w->final_norm, D, 1);
    TAKE(w->final_norm_b, D, neox);
    TAKE(w->lm_head, V * D, !c->tied_head);
#undef TAKE
    if (m && c->tied_head) m->w.lm_head = m->w.tok_emb;
    return n;
}

int model_alloc(Model *m, const Config *cfg, Error *err) {
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    m->n_params = layout(NULL, cfg);
    m->arena = calloc(m->n_params, sizeof(float));
    m->w.layers = calloc((size_t)cfg->n_layers, sizeof(LayerWeights));
    if (!m->arena || !m->w.layers) {
        model_free(m);
        return err_set(err, "out of memory allocating %zu MB of weights", m->n_params * 4 >> 20);
    }
    layout(m, cfg);
    return 0;
}

void model_free(Model *m) {
    free(m->arena);
    free(m->w.layers);
    memset(m, 0, sizeof *m);
}

static int ends_with(const char *s, const char *suffix) {
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

int model_load(Model *m, const char *path, Error *err) {
    struct stat st;
    if (stat(path, &st) != 0) return err_set(err, "%s: no such file or directory", path);
    if (S_ISDIR(st.st_mode)) return model_load_hf(m, path, err);
    if (ends_with(path, ".gguf")) return model_load_gguf(m, path, err);
    if (ends_with(path, ".bin")) return model_load_llama2c(m, path, err);
    return err_set(err, "%s: unknown model format (expected a .gguf file, a llama2.c .bin file or a Hugging Face directory)", path);
}

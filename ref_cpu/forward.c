#include "forward.h"

#include <stdlib.h>
#include <string.h>

int runstate_init(RunState *s, const Config *cfg, int max_T, int capacity, Error *err) {
    memset(s, 0, sizeof *s);
    if (max_T <= 0 || capacity <= 0) return err_set(err, "block size and cache size must be positive");
    s->max_T = max_T;
    s->capacity = capacity;
    size_t T = (size_t)max_T, D = cfg->dim, F = cfg->hidden_dim, qd = (size_t)cfg->n_heads * cfg->head_dim,
           kvd = (size_t)cfg->n_kv_heads * cfg->head_dim;
    s->x = malloc(T * D * sizeof(float));
    s->xb = malloc(T * D * sizeof(float));
    s->xb2 = malloc(T * D * sizeof(float));
    s->q = malloc(T * qd * sizeof(float));
    s->q_sink = malloc(T * qd * sizeof(float));
    s->k = malloc(T * kvd * sizeof(float));
    s->v = malloc(T * kvd * sizeof(float));
    s->att_out = malloc(T * qd * sizeof(float));
    s->hb = malloc(T * F * sizeof(float));
    s->hb2 = malloc(T * F * sizeof(float));
    s->att = malloc((size_t)cfg->n_heads * T * capacity * sizeof(float));
    s->att_part = malloc(attention_part_floats(max_T, capacity, cfg->n_heads, cfg->head_dim) * sizeof(float));
    s->pos = malloc(T * sizeof(int));
    size_t widest = D > F ? D : F;
    widest = widest > qd ? widest : qd;
    s->xq = malloc(T * (widest / 32 + 1) * sizeof(Q8Block));
    if (!s->x || !s->xb || !s->xb2 || !s->q || !s->q_sink || !s->k || !s->v || !s->att_out || !s->hb || !s->hb2 || !s->att ||
        !s->att_part || !s->pos || !s->xq) {
        runstate_free(s);
        return err_set(err, "out of memory for activations (block %d, cache %d)", max_T, capacity);
    }
    if (rope_init(&s->rope, capacity, cfg->rot_dim, cfg->rope_theta, err)) {
        runstate_free(s);
        return -1;
    }
    return 0;
}

void runstate_free(RunState *s) {
    free(s->x); free(s->xb); free(s->xb2); free(s->q); free(s->q_sink); free(s->k); free(s->v);
    free(s->att_out); free(s->hb); free(s->hb2); free(s->att); free(s->att_part); free(s->pos); free(s->xq);
    rope_free(&s->rope);
    memset(s, 0, sizeof *s);
}

// ANCHOR: model_forward
enum { LOGITS_NONE, LOGITS_LAST, LOGITS_ALL };

static void forward_block(float *logits, const Model *m, KVCache *c, RunState *s, const int *tokens, int T,
                          int want) {
    const Config *cfg = &m->cfg;
    int D = cfg->dim, V = cfg->vocab_size, n_past = c->len;
    embedding_any_forward(s->x, m->w.tok_emb, m->w.qtok_emb, tokens, T, D); // x[T, D]
    for (int l = 0; l < cfg->n_layers; l++) {
        if (cfg->arch == ARCH_LLAMA)
            llama_block_forward(s->x, &m->w.layers[l], cfg, c, s, l, T, n_past);
        else
            neox_block_forward(s->x, &m->w.layers[l], cfg, c, s, l, T, n_past);
    }
    c->len += T;
    if (want == LOGITS_NONE) return;
    // Only the rows whose logits are wanted go through the final norm and the (large) head.
    int first = want == LOGITS_ALL ? 0 : T - 1, rows = T - first;
    float *xf = s->x + (size_t)first * D;
    if (cfg->arch == ARCH_LLAMA)
        rmsnorm_forward(s->xb, xf, m->w.final_norm, rows, D, cfg->norm_eps);
    else
        layernorm_forward(s->xb, xf, m->w.final_norm, m->w.final_norm_b, rows, D, cfg->norm_eps);
    linear_forward(logits, s->xb, m->w.lm_head, m->w.qlm_head, NULL, s->xq, rows, D, V); // logits[rows, V]
}
// END: model_forward

int model_forward(float *logits, const Model *m, KVCache *c, RunState *s, const int *tokens, int T,
                  int all_logits, Error *err) {
    if (T <= 0) return err_set(err, "no tokens to run");
    for (int t = 0; t < T; t++)
        if (tokens[t] < 0 || tokens[t] >= m->cfg.vocab_size)
            return err_set(err, "token id %d out of range (vocabulary has %d tokens)", tokens[t], m->cfg.vocab_size);
    if (c->len + T > c->capacity)
        return err_set(err, "KV cache full: %d cached + %d new tokens > %d slots", c->len, T, c->capacity);
    if (c->capacity > s->capacity)
        return err_set(err, "KV cache of %d slots is larger than the run state's %d", c->capacity, s->capacity);
    for (int t0 = 0; t0 < T; t0 += s->max_T) {
        int n = T - t0 < s->max_T ? T - t0 : s->max_T;
        if (all_logits)
            forward_block(logits + (size_t)t0 * m->cfg.vocab_size, m, c, s, tokens + t0, n, LOGITS_ALL);
        else
            forward_block(logits, m, c, s, tokens + t0, n, logits && t0 + n == T ? LOGITS_LAST : LOGITS_NONE);
    }
    return 0;
}

// train.c: the training model: parameters, forward with saved activations, backward.
// The ops and their gradient formulas are in backward.c; the optimisers in optim.c.
#include "train.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rng.h"

int train_config_validate(const TrainConfig *c, Error *err) {
    if (c->vocab_size < 2 || c->vocab_size > 1 << 20) return err_set(err, "vocabulary size %d out of range", c->vocab_size);
    if (c->dim <= 0 || c->dim > 4096 || c->hidden_dim <= 0 || c->hidden_dim > 16384)
        return err_set(err, "model width %d / MLP width %d out of range", c->dim, c->hidden_dim);
    if (c->n_layers <= 0 || c->n_layers > 64) return err_set(err, "layer count %d out of range", c->n_layers);
    if (c->n_heads <= 0 || c->dim % c->n_heads || (c->dim / c->n_heads) % 2)
        return err_set(err, "%d heads do not split width %d into even head sizes", c->n_heads, c->dim);
    if (c->seq_len <= 0 || c->seq_len > 65536) return err_set(err, "sequence length %d out of range", c->seq_len);
    if (c->attn < ATTN_SOFTMAX || c->attn > ATTN_SIGMOID) return err_set(err, "unknown attention kind");
    return 0;
}

// ANCHOR: param_layout
// The arena holds the tensors in Hugging Face order: embedding, then per layer the nine
// tensors of TrainLayer, then the final norm. Checkpoints and fixtures use the same order.
static void layout(TrainModel *m, real *base, TrainParams *p, int fill_info) {
    const TrainConfig *c = &m->cfg;
    size_t off = 0;
    int ti = 0;
#define TENSOR(ptr, nm, r, cl, dec)                                                                    \
    do {                                                                                               \
        (ptr) = base ? base + off : NULL;                                                              \
        if (fill_info) {                                                                               \
            TensorInfo *t = &m->tensors[ti];                                                           \
            snprintf(t->name, sizeof t->name, "%s", nm);                                               \
            t->offset = off, t->rows = (r), t->cols = (cl), t->decay = (dec);                          \
            t->n = (size_t)((r) ? (r) : 1) * (cl);                                                     \
        }                                                                                              \
        off += (size_t)((r) ? (r) : 1) * (cl);                                                         \
        ti++;                                                                                          \
    } while (0)
    int D = c->dim, F = c->hidden_dim;
    char nm[64];
    TENSOR(p->tok_emb, "model.embed_tokens.weight", c->vocab_size, D, 1);
    static const char *parts[9] = {"input_layernorm", "self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj",
                                   "self_attn.o_proj", "post_attention_layernorm", "mlp.gate_proj", "mlp.up_proj",
                                   "mlp.down_proj"};
    for (int l = 0; l < c->n_layers; l++) {
        TrainLayer *w = &p->layers[l];
        real **slots[9] = {&w->attn_norm, &w->wq, &w->wk, &w->wv, &w->wo, &w->ffn_norm, &w->w_gate, &w->w_up, &w->w_down};
        int rows[9] = {0, D, D, D, D, 0, F, F, D}, cols[9] = {D, D, D, D, D, D, D, D, F};
        for (int i = 0; i < 9; i++) {
            snprintf(nm, sizeof nm, "model.layers.%d.%s.weight", l, parts[i]);
            TENSOR(*slots[i], nm, rows[i], cols[i], rows[i] != 0);
        }
    }
    TENSOR(p->final_norm, "model.norm.weight", 0, D, 0);
#undef TENSOR
    m->n_params = off;
    m->n_tensors = ti;
}
// END: param_layout

static real *zalloc(size_t n, int *ok) {
    real *p = calloc(n ? n : 1, sizeof(real));
    if (!p) *ok = 0;
    return p;
}

static void acts_alloc(TrainActs *a, const TrainConfig *c, int L, int B, int T, int *ok) {
    size_t BT = (size_t)B * T, D = c->dim, F = c->hidden_dim, H = c->n_heads;
    a->x = zalloc((L + 1) * BT * D, ok);
    a->xn1 = zalloc(L * BT * D, ok);
    a->rstd1 = zalloc(L * BT, ok);
    a->q = zalloc(L * BT * D, ok);
    a->k = zalloc(L * BT * D, ok);
    a->v = zalloc(L * BT * D, ok);
    a->att = zalloc(L * BT * H * T, ok);
    a->ao = zalloc(L * BT * D, ok);
    a->xmid = zalloc(L * BT * D, ok);
    a->xn2 = zalloc(L * BT * D, ok);
    a->rstd2 = zalloc(L * BT, ok);
    a->g = zalloc(L * BT * F, ok);
    a->u = zalloc(L * BT * F, ok);
    a->h = zalloc(L * BT * F, ok);
    a->xf = zalloc(BT * D, ok);
    a->rstdf = zalloc(BT, ok);
    a->probs = zalloc(BT * c->vocab_size, ok);
}

static void acts_free(TrainActs *a) {
    free(a->x); free(a->xn1); free(a->rstd1); free(a->q); free(a->k); free(a->v); free(a->att); free(a->ao);
    free(a->xmid); free(a->xn2); free(a->rstd2); free(a->g); free(a->u); free(a->h); free(a->xf); free(a->rstdf);
    free(a->probs);
}

int train_init(TrainModel *m, const TrainConfig *cfg, int B, int T, Error *err) {
    memset(m, 0, sizeof *m);
    if (train_config_validate(cfg, err)) return -1;
    if (B <= 0 || T <= 0 || T > cfg->seq_len || (size_t)B * T > (1u << 24))
        return err_set(err, "batch %d x %d out of range (sequence length %d)", B, T, cfg->seq_len);
    m->cfg = *cfg;
    m->B = B, m->T = T;
    int L = cfg->n_layers, ok = 1;
    m->p.layers = calloc(L, sizeof(TrainLayer));
    m->g.layers = calloc(L, sizeof(TrainLayer));
    m->tensors = calloc(2 + 9 * (size_t)L, sizeof(TensorInfo));
    if (!m->p.layers || !m->g.layers || !m->tensors) ok = 0;
    if (ok) {
        layout(m, NULL, &m->p, 1); // sizes only
        m->params = zalloc(m->n_params, &ok);
        m->grads = zalloc(m->n_params, &ok);
        m->m = zalloc(m->n_params, &ok);
        m->v = zalloc(m->n_params, &ok);
    }
    if (ok) {
        layout(m, m->params, &m->p, 0);
        layout(m, m->grads, &m->g, 0);
        int half = cfg->dim / cfg->n_heads / 2;
        m->rope_cos = zalloc((size_t)cfg->seq_len * half, &ok);
        m->rope_sin = zalloc((size_t)cfg->seq_len * half, &ok);
        acts_alloc(&m->a, cfg, L, B, T, &ok);
        acts_alloc(&m->d, cfg, 1, B, T, &ok); // gradients of one layer's activations at a time
        m->tokens = calloc((size_t)B * T, sizeof(int));
        m->targets = calloc((size_t)B * T, sizeof(int));
        if (!m->tokens || !m->targets) ok = 0;
    }
    if (!ok) {
        train_free(m);
        return err_set(err, "out of memory for a model of this size and a batch of %d x %d", B, T);
    }
    // the angles ref_cpu/ops.c's rope_init computes, so checkpoints run the same in llama.c
    int hd = cfg->dim / cfg->n_heads, half = hd / 2;
    for (int p = 0; p < cfg->seq_len; p++)
        for (int i = 0; i < half; i++) {
            double angle = p * pow((double)cfg->rope_theta, -2.0 * i / hd);
            m->rope_cos[(size_t)p * half + i] = cos(angle);
            m->rope_sin[(size_t)p * half + i] = sin(angle);
        }
    return 0;
}

void train_free(TrainModel *m) {
    free(m->params); free(m->grads); free(m->m); free(m->v);
    free(m->p.layers); free(m->g.layers); free(m->tensors);
    free(m->rope_cos); free(m->rope_sin);
    acts_free(&m->a);
    acts_free(&m->d);
    free(m->tokens); free(m->targets);
    memset(m, 0, sizeof *m);
}

void train_init_weights(TrainModel *m, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    real out_std = 0.02 / sqrt(2.0 * m->cfg.n_layers);
    for (int i = 0; i < m->n_tensors; i++) {
        const TensorInfo *t = &m->tensors[i];
        real *w = m->params + t->offset;
        int is_out = strstr(t->name, "o_proj") || strstr(t->name, "down_proj");
        for (size_t j = 0; j < t->n; j++) w[j] = t->rows == 0 ? 1.0 : rng_normal(&r) * (is_out ? out_std : 0.02);
    }
    memset(m->m, 0, m->n_params * sizeof(real));
    memset(m->v, 0, m->n_params * sizeof(real));
    m->step = 0;
}

// ANCHOR: train_forward
real train_forward(TrainModel *m, const int *tokens, const int *targets, int B, int T) {
    const TrainConfig *c = &m->cfg;
    int D = c->dim, F = c->hidden_dim, H = c->n_heads, hd = D / H, V = c->vocab_size, L = c->n_layers;
    size_t BT = (size_t)B * T;
    TrainActs *a = &m->a;
    memcpy(m->tokens, tokens, BT * sizeof(int));
    memcpy(m->targets, targets, BT * sizeof(int));
    for (size_t n = 0; n < BT; n++) // embedding: x[0][n] = tok_emb[token n]
        memcpy(a->x + n * D, m->p.tok_emb + (size_t)tokens[n] * D, D * sizeof(real));
    for (int l = 0; l < L; l++) {
        const TrainLayer *w = &m->p.layers[l];
        real *x = a->x + l * BT * D, *xnext = a->x + (l + 1) * BT * D;          // [BT, D]
        real *xn1 = a->xn1 + l * BT * D, *q = a->q + l * BT * D, *k = a->k + l * BT * D,
             *v = a->v + l * BT * D, *ao = a->ao + l * BT * D, *xmid = a->xmid + l * BT * D,
             *xn2 = a->xn2 + l * BT * D;                                      // [BT, D]
        real *att = a->att + l * BT * H * T;                                   // [B, H, T, T]
        real *g = a->g + l * BT * F, *u = a->u + l * BT * F, *h = a->h + l * BT * F; // [BT, F]
        trmsnorm_forward(xn1, a->rstd1 + l * BT, x, w->attn_norm, BT, D, c->norm_eps);
        tmatmul_forward(q, xn1, w->wq, BT, D, D);
        tmatmul_forward(k, xn1, w->wk, BT, D, D);
        tmatmul_forward(v, xn1, w->wv, BT, D, D);
        trope_forward(q, m->rope_cos, m->rope_sin, B, T, H, hd);
        trope_forward(k, m->rope_cos, m->rope_sin, B, T, H, hd);
        tattention_forward(ao, att, q, k, v, B, T, H, hd, c->attn, c->seq_len);
        tmatmul_forward(xmid, ao, w->wo, BT, D, D);
        for (size_t i = 0; i < BT * D; i++) xmid[i] += x[i]; // residual
        trmsnorm_forward(xn2, a->rstd2 + l * BT, xmid, w->ffn_norm, BT, D, c->norm_eps);
        tmatmul_forward(g, xn2, w->w_gate, BT, D, F);
        tmatmul_forward(u, xn2, w->w_up, BT, D, F);
        tswiglu_forward(h, g, u, BT * F);
        tmatmul_forward(xnext, h, w->w_down, BT, F, D);
        for (size_t i = 0; i < BT * D; i++) xnext[i] += xmid[i]; // residual
    }
    trmsnorm_forward(a->xf, a->rstdf, a->x + L * BT * D, m->p.final_norm, BT, D, c->norm_eps);
    tmatmul_forward(a->probs, a->xf, m->p.tok_emb, BT, D, V); // logits, tied head
    real total = tcrossentropy_forward(a->probs, targets, BT, V);
    m->n_targets = 0;
    for (size_t n = 0; n < BT; n++) m->n_targets += targets[n] >= 0;
    m->B = B, m->T = T;
    m->loss = m->n_targets ? total / m->n_targets : 0;
    return m->loss;
}
// END: train_forward

// ANCHOR: train_backward
void train_backward(TrainModel *m) {
    const TrainConfig *c = &m->cfg;
    int B = m->B, T = m->T, D = c->dim, F = c->hidden_dim, H = c->n_heads, hd = D / H, V = c->vocab_size,
        L = c->n_layers;
    size_t BT = (size_t)B * T;
    TrainActs *a = &m->a, *d = &m->d;
    memset(m->grads, 0, m->n_params * sizeof(real));
    real *dres = d->x; // [BT, D] gradient of the residual stream, carried down through the layers
#define ZERO(p, n) memset((p), 0, (n) * sizeof(real))
    tcrossentropy_backward(d->probs, a->probs, m->targets, BT, V, m->n_targets ? 1.0 / m->n_targets : 0);
    ZERO(d->xf, BT * D);
    tmatmul_backward(d->xf, m->g.tok_emb, d->probs, a->xf, m->p.tok_emb, BT, D, V); // tied head
    ZERO(dres, BT * D);
    trmsnorm_backward(dres, m->g.final_norm, d->xf, a->x + L * BT * D, m->p.final_norm, a->rstdf, BT, D);
    for (int l = L - 1; l >= 0; l--) {
        const TrainLayer *w = &m->p.layers[l];
        TrainLayer *gw = &m->g.layers[l];
        // MLP sub-block: xnext = xmid + w_down(silu(w_gate xn2) * w_up xn2); dres = dL/dxnext
        ZERO(d->h, BT * F);
        tmatmul_backward(d->h, gw->w_down, dres, a->h + l * BT * F, w->w_down, BT, F, D);
        ZERO(d->g, BT * F);
        ZERO(d->u, BT * F);
        tswiglu_backward(d->g, d->u, d->h, a->g + l * BT * F, a->u + l * BT * F, BT * F);
        ZERO(d->xn2, BT * D);
        tmatmul_backward(d->xn2, gw->w_gate, d->g, a->xn2 + l * BT * D, w->w_gate, BT, D, F);
        tmatmul_backward(d->xn2, gw->w_up, d->u, a->xn2 + l * BT * D, w->w_up, BT, D, F);
        // the residual path carries dres on unchanged; the norm's path adds to it: dres = dL/dxmid
        trmsnorm_backward(dres, gw->ffn_norm, d->xn2, a->xmid + l * BT * D, w->ffn_norm, a->rstd2 + l * BT, BT, D);
        // attention sub-block: xmid = x + wo(attention(rope(wq xn1), rope(wk xn1), wv xn1))
        ZERO(d->ao, BT * D);
        tmatmul_backward(d->ao, gw->wo, dres, a->ao + l * BT * D, w->wo, BT, D, D);
        ZERO(d->q, BT * D);
        ZERO(d->k, BT * D);
        ZERO(d->v, BT * D);
        tattention_backward(d->q, d->k, d->v, d->att, d->ao, a->q + l * BT * D, a->k + l * BT * D,
                            a->v + l * BT * D, a->att + l * BT * H * T, B, T, H, hd, c->attn);
        trope_backward(d->q, m->rope_cos, m->rope_sin, B, T, H, hd);
        trope_backward(d->k, m->rope_cos, m->rope_sin, B, T, H, hd);
        ZERO(d->xn1, BT * D);
        tmatmul_backward(d->xn1, gw->wq, d->q, a->xn1 + l * BT * D, w->wq, BT, D, D);
        tmatmul_backward(d->xn1, gw->wk, d->k, a->xn1 + l * BT * D, w->wk, BT, D, D);
        tmatmul_backward(d->xn1, gw->wv, d->v, a->xn1 + l * BT * D, w->wv, BT, D, D);
        trmsnorm_backward(dres, gw->attn_norm, d->xn1, a->x + l * BT * D, w->attn_norm, a->rstd1 + l * BT, BT, D);
    }
    for (size_t n = 0; n < BT; n++) { // embedding: the rows that were looked up collect dres
        real *ge = m->g.tok_emb + (size_t)m->tokens[n] * D;
        for (int i = 0; i < D; i++) ge[i] += dres[n * D + i];
    }
#undef ZERO
}
// END: train_backward

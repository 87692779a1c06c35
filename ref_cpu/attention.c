#include <math.h>

#include "forward.h"

// ANCHOR: attention
void attention_forward(float *out, float *att, const float *q, const float *k_rot, const float *v, int T,
                       int n_past, int n_heads, int n_kv_heads, int head_dim, int capacity) {
    int kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads;
    float scale = 1.0f / sqrtf((float)head_dim);
#pragma omp parallel for collapse(2) schedule(static)
    for (int h = 0; h < n_heads; h++) {
        for (int t = 0; t < T; t++) {
            int kvh = h / group; // grouped-query attention: heads share a key/value head
            int n_keys = n_past + t + 1; // causal: query t sees every cached slot up to itself
            const float *qv = q + ((size_t)t * n_heads + h) * head_dim;
            float *a = att + ((size_t)h * T + t) * capacity;
            for (int j = 0; j < n_keys; j++) {
                const float *kv = k_rot + (size_t)j * kv_dim + (size_t)kvh * head_dim;
                float s = 0.0f;
                for (int i = 0; i < head_dim; i++) s += qv[i] * kv[i];
                a[j] = s * scale;
            }
            softmax_forward(a, n_keys);
            float *o = out + ((size_t)t * n_heads + h) * head_dim;
            for (int i = 0; i < head_dim; i++) o[i] = 0.0f;
            for (int j = 0; j < n_keys; j++) {
                const float *vv = v + (size_t)j * kv_dim + (size_t)kvh * head_dim;
                for (int i = 0; i < head_dim; i++) o[i] += a[j] * vv[i];
            }
        }
    }
}
// END: attention

// ANCHOR: attention_block
void attention_block_forward(float *out, const float *in, const LayerWeights *lw, const Config *cfg, KVCache *c,
                             RunState *s, int l, int T, int n_past) {
    int D = cfg->dim, hd = cfg->head_dim, qd = cfg->n_heads * hd, kvd = cfg->n_kv_heads * hd;
    matmul_forward(s->q, in, lw->wq, lw->bq, T, D, qd); // biases are NULL for Llama
    matmul_forward(s->k, in, lw->wk, lw->bk, T, D, kvd);
    matmul_forward(s->v, in, lw->wv, lw->bv, T, D, kvd);
    // The block's queries sit at the slots they are about to occupy: positions n_past.. .
    for (int t = 0; t < T; t++) s->pos[t] = n_past + t;
    rope_forward(s->q, s->pos, &s->rope, T, cfg->n_heads, hd, cfg->rope_style);
    kvcache_store(c, l, n_past, s->k, s->v, T); // keys go in unrotated
    const float *k_rot = kvcache_rotated_keys(c, l, n_past + T, &s->rope, cfg->n_kv_heads, hd, cfg->rope_style);
    const float *v = c->v + (size_t)l * c->capacity * kvd;
    attention_forward(s->att_out, s->att, s->q, k_rot, v, T, n_past, cfg->n_heads, cfg->n_kv_heads, hd, c->capacity);
    if (s->on_attention) s->on_attention(s->on_attention_ctx, l, s->att, T, n_past + T, c->capacity);
    matmul_forward(out, s->att_out, lw->wo, lw->bo, T, qd, D);
}
// END: attention_block

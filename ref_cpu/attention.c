#include <math.h>
#include <string.h>

#include "forward.h"

// ANCHOR: attention_causal
// Plain causal scaled dot-product attention over a dense cache, the version to learn from: the
// T queries of a block sit at positions n_past..n_past+T-1, and the query at position p sees the
// keys at 0..p. attention_forward below is this loop plus sinks and a window; the tests check
// that the two agree on a dense cache.
void attention_causal_forward(float *out, float *att, const float *q, const float *k, const float *v, int T,
                              int n_past, int n_heads, int n_kv_heads, int head_dim) {
    // out[T, n_heads, head_dim], att[n_heads, T, n_past + T] (probabilities), q[T, n_heads, head_dim]
    // rotated; k, v[n_past + T, n_kv_heads, head_dim], keys rotated at their positions.
    int kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads, n_keys = n_past + T;
    float scale = 1.0f / sqrtf((float)head_dim);
#pragma omp parallel for collapse(2) schedule(static)
    for (int h = 0; h < n_heads; h++) {
        for (int t = 0; t < T; t++) {
            int kvh = h / group, p = n_past + t; // grouped-query: `group` query heads share one k/v head
            const float *qv = q + ((size_t)t * n_heads + h) * head_dim;
            float *a = att + ((size_t)h * T + t) * n_keys;
            for (int j = 0; j <= p; j++) { // causal: keys at positions 0..p only
                const float *kv = k + (size_t)j * kv_dim + (size_t)kvh * head_dim;
                float s = 0.0f;
#pragma omp simd reduction(+ : s)
                for (int i = 0; i < head_dim; i++) s += qv[i] * kv[i];
                a[j] = s * scale;
            }
            for (int j = p + 1; j < n_keys; j++) a[j] = 0.0f; // the future: probability 0
            softmax_forward(a, p + 1);
            float *o = out + ((size_t)t * n_heads + h) * head_dim;
            for (int i = 0; i < head_dim; i++) o[i] = 0.0f;
            for (int j = 0; j <= p; j++) { // out = probabilities @ values
                const float *vv = v + (size_t)j * kv_dim + (size_t)kvh * head_dim;
#pragma omp simd
                for (int i = 0; i < head_dim; i++) o[i] += a[j] * vv[i];
            }
        }
    }
}
// END: attention_causal

// ANCHOR: attention
void attention_forward(float *out, float *att, const float *q, const float *q_sink, const float *k_rot,
                       const float *v, int T, int n_past, int n_sink, int window, int n_heads, int n_kv_heads,
                       int head_dim, int capacity) {
    int kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads;
    float scale = 1.0f / sqrtf((float)head_dim);
    // One task per key/value head and query: the `group` query heads that share a key/value
    // head (grouped-query attention) are scored together, so each key and value is read once.
#pragma omp parallel for collapse(2) schedule(static)
    for (int kvh = 0; kvh < n_kv_heads; kvh++) {
        for (int t = 0; t < T; t++) {
            int slot = n_past + t, start = attention_window_start(slot, n_sink, window);
            int sinks = n_sink < slot ? n_sink : slot;
            int h0 = kvh * group;
            // scores: the sinks, then the window up to and including the query's own slot
            for (int j = 0; j <= slot; j++) {
                int hidden = j >= sinks && j < start; // evicted, as far as this query is concerned
                const float *kv = k_rot + (size_t)j * kv_dim + (size_t)kvh * head_dim;
                for (int g = 0; g < group; g++) {
                    float *a = att + ((size_t)(h0 + g) * T + t) * capacity;
                    if (hidden) {
                        a[j] = -INFINITY;
                        continue;
                    }
                    const float *qv = (j < sinks ? q_sink : q) + ((size_t)t * n_heads + h0 + g) * head_dim;
                    float s = 0.0f;
#pragma omp simd reduction(+ : s)
                    for (int i = 0; i < head_dim; i++) s += qv[i] * kv[i];
                    a[j] = s * scale;
                }
            }
            for (int g = 0; g < group; g++) {
                softmax_forward(att + ((size_t)(h0 + g) * T + t) * capacity, slot + 1);
                float *o = out + ((size_t)t * n_heads + h0 + g) * head_dim;
                for (int i = 0; i < head_dim; i++) o[i] = 0.0f;
            }
            // out = probabilities @ values, one pass over the values
            for (int j = 0; j <= slot; j++) {
                if (j >= sinks && j < start) continue;
                const float *vv = v + (size_t)j * kv_dim + (size_t)kvh * head_dim;
                for (int g = 0; g < group; g++) {
                    float p = att[((size_t)(h0 + g) * T + t) * capacity + j];
                    float *o = out + ((size_t)t * n_heads + h0 + g) * head_dim;
#pragma omp simd
                    for (int i = 0; i < head_dim; i++) o[i] += p * vv[i];
                }
            }
        }
    }
}
// END: attention

// ANCHOR: attention_block
void attention_block_forward(float *out, const float *in, const LayerWeights *lw, const Config *cfg, KVCache *c,
                             RunState *s, int l, int T, int n_past) {
    int D = cfg->dim, hd = cfg->head_dim, qd = cfg->n_heads * hd, kvd = cfg->n_kv_heads * hd;
    // linear_forward: W x with fp32 weights, or with the file's blocks under --weights native
    linear_forward(s->q, in, lw->wq, lw->qwq, lw->bq, s->xq, T, D, qd); // biases are NULL for Llama
    linear_forward(s->k, in, lw->wk, lw->qwk, lw->bk, s->xq, T, D, kvd);
    linear_forward(s->v, in, lw->wv, lw->qwv, lw->bv, s->xq, T, D, kvd);
    // The block's queries sit at the slots they are about to occupy: positions n_past.. .
    // Facing the sinks, a query whose window has slid past some slots sits that much closer.
    int shifted = 0;
    for (int t = 0; t < T; t++) {
        int slot = n_past + t;
        s->pos[t] = attention_sink_position(slot, s->n_sink, s->window);
        shifted |= s->pos[t] != slot && s->n_sink > 0;
    }
    if (shifted) {
        memcpy(s->q_sink, s->q, (size_t)T * qd * sizeof(float));
        rope_forward(s->q_sink, s->pos, &s->rope, T, cfg->n_heads, hd, cfg->rope_style);
    }
    for (int t = 0; t < T; t++) s->pos[t] = n_past + t;
    rope_forward(s->q, s->pos, &s->rope, T, cfg->n_heads, hd, cfg->rope_style);
    kvcache_store(c, l, n_past, s->k, s->v, T); // keys go in unrotated
    const float *k_rot = kvcache_rotated_keys(c, l, n_past + T, &s->rope, cfg->n_kv_heads, hd, cfg->rope_style);
    const float *v = c->v + (size_t)l * c->capacity * kvd;
    attention_forward(s->att_out, s->att, s->q, shifted ? s->q_sink : s->q, k_rot, v, T, n_past, s->n_sink,
                      s->window, cfg->n_heads, cfg->n_kv_heads, hd, c->capacity);
    if (s->on_attention) s->on_attention(s->on_attention_ctx, l, s->att, T, n_past + T, c->capacity);
    linear_forward(out, s->att_out, lw->wo, lw->qwo, lw->bo, s->xq, T, qd, D);
}
// END: attention_block

#include <math.h>
#include <string.h>
#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

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
            int slot = n_past + t, sinks, start;
            attention_visible(slot, n_sink, window, &sinks, &start);
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

static float dot(const float *a, const float *b, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int d = 0; d < n; d++) s += a[d] * b[d];
    return s;
}

#if defined(__AVX2__) && defined(__FMA__)
// Eight dot products q . k[r], r = 0..7, n a multiple of 8: eight accumulators, then one
// transposing reduction instead of eight separate horizontal sums.
static inline __m256 dot8(const float *q, const float *const k[8], int n) {
    __m256 a[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) a[r] = _mm256_setzero_ps();
    for (int d = 0; d < n; d += 8) {
        __m256 qv = _mm256_loadu_ps(q + d);
#pragma GCC unroll 8
        for (int r = 0; r < 8; r++) a[r] = _mm256_fmadd_ps(qv, _mm256_loadu_ps(k[r] + d), a[r]);
    }
    __m256 s01 = _mm256_hadd_ps(a[0], a[1]), s23 = _mm256_hadd_ps(a[2], a[3]);
    __m256 s45 = _mm256_hadd_ps(a[4], a[5]), s67 = _mm256_hadd_ps(a[6], a[7]);
    __m256 s0 = _mm256_hadd_ps(s01, s23), s1 = _mm256_hadd_ps(s45, s67); // halves of 0-3, 4-7
    return _mm256_add_ps(_mm256_permute2f128_ps(s0, s1, 0x20), _mm256_permute2f128_ps(s0, s1, 0x31));
}

// e^x for x <= 0, eight at a time (Cephes' expf: x = n ln2 + r, a degree-7 polynomial in r,
// times 2^n), within 2 ulp of expf; 0 below -87, where expf itself turns subnormal.
static inline __m256 exp8(__m256 x) {
    __m256 under = _mm256_cmp_ps(x, _mm256_set1_ps(-87.0f), _CMP_LT_OQ);
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x); // ln 2 in two parts
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), _mm256_add_ps(r, _mm256_set1_ps(1.0f)));
    __m256i e = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_andnot_ps(under, _mm256_mul_ps(p, _mm256_castsi256_ps(e)));
}

// Asks for the 8 rows two groups ahead while this group is computed (8% at one thread).
static inline void prefetch_rows(const float *base, const int *slot, int row) {
    for (int r = 0; r < 8; r++)
        for (int b = 0; b < row; b += 16) _mm_prefetch((const char *)(base + (size_t)slot[r] * row + b), _MM_HINT_T0);
}
#endif

// ANCHOR: attend_tile
// One query against one tile of its visible keys, every head: scores into att, e^(s - m) in
// their place, and the tile's share of the output.
static void attend_tile(float *part, float *att, const float *qt, const float *qt_sink, const float *k_rot,
                        const float *v, int i0, int i1, int sinks, int start, int n_heads, int n_kv_heads,
                        int head_dim, size_t att_stride, float scale) {
    // part[n_heads, head_dim + 2]: per head o[head_dim], then m and l. qt, qt_sink[n_heads, head_dim]
    // the query; att + h * att_stride: head h's row. Visible key i is slot i (a sink) or start + i - sinks.
    // Keys and values are read a group of 8 whole rows (every head) at a time, front to back: a
    // row read for one head only would waste two thirds of each memory fetch.
    int kv_dim = n_kv_heads * head_dim, group = n_heads / n_kv_heads, ps = head_dim + 2, n = i1 - i0;
    int slot[ATT_TILE];
    for (int i = 0; i < n; i++) slot[i] = i0 + i < sinks ? i0 + i : start + i0 + i - sinks;
    for (int h = 0; h < n_heads; h++) // the sums of e v start at 0; m and l are written below
        for (int d = 0; d < head_dim; d++) part[(size_t)h * ps + d] = 0.0f;
    int i = 0; // scores: sinks face q_sink, the window q
#if defined(__AVX2__) && defined(__FMA__)
    for (; head_dim % 8 == 0 && i + 8 <= n; i += 8) {
        int first_sink = slot[i] < sinks, mixed = first_sink && slot[i + 7] >= sinks;
        if (i + 16 < n) prefetch_rows(k_rot, slot + i + 16, kv_dim);
        for (int h = 0; h < n_heads; h++) {
            const float *k[8], *qv = qt + (size_t)h * head_dim, *qs = qt_sink + (size_t)h * head_dim;
            for (int r = 0; r < 8; r++) k[r] = k_rot + (size_t)slot[i + r] * kv_dim + (size_t)(h / group) * head_dim;
            float *a = att + h * att_stride;
            __m256 s = _mm256_mul_ps(dot8(first_sink ? qs : qv, k, head_dim), _mm256_set1_ps(scale));
            if (mixed) { // the group holds the last sinks and the first window keys: both queries
                __m256 w = _mm256_mul_ps(dot8(qv, k, head_dim), _mm256_set1_ps(scale));
                for (int r = 0; r < 8; r++) a[slot[i + r]] = slot[i + r] >= sinks ? w[r] : s[r];
            } else if (slot[i + 7] == slot[i] + 7) {
                _mm256_storeu_ps(a + slot[i], s);
            } else {
                for (int r = 0; r < 8; r++) a[slot[i + r]] = s[r];
            }
        }
    }
#endif
    for (; i < n; i++) {
        const float *kr = k_rot + (size_t)slot[i] * kv_dim, *qr = slot[i] < sinks ? qt_sink : qt;
        for (int h = 0; h < n_heads; h++) {
            att[h * att_stride + slot[i]] =
                dot(qr + (size_t)h * head_dim, kr + (size_t)(h / group) * head_dim, head_dim) * scale;
        }
    }
    for (int h = 0; h < n_heads; h++) { // the tile's largest score m, e^(s - m) and their sum l
        float *a = att + h * att_stride, m = -INFINITY, l = 0.0f;
        for (int pass = 0; pass < 2; pass++)
            for (int r0 = 0, r1; r0 < n; r0 = r1) { // the tile's slots: at most two runs
                for (r1 = r0 + 1; r1 < n && slot[r1] == slot[r1 - 1] + 1;) r1++;
                float *x = a + slot[r0];
                int j = 0, len = r1 - r0;
                if (pass == 0) {
#pragma omp simd reduction(max : m)
                    for (j = 0; j < len; j++) m = x[j] > m ? x[j] : m;
                    continue;
                }
#if defined(__AVX2__) && defined(__FMA__)
                for (; j + 8 <= len; j += 8)
                    _mm256_storeu_ps(x + j, exp8(_mm256_sub_ps(_mm256_loadu_ps(x + j), _mm256_set1_ps(m))));
#endif
                for (; j < len; j++) x[j] = expf(x[j] - m);
                for (j = 0; j < len; j++) l += x[j];
            }
        part[(size_t)h * ps + head_dim] = m;
        part[(size_t)h * ps + head_dim + 1] = l;
    }
    i = 0; // the tile's share of the output: e @ values
#if defined(__AVX2__) && defined(__FMA__)
    for (; head_dim == 64 && i + 8 <= n; i += 8) {
        if (i + 16 < n) prefetch_rows(v, slot + i + 16, kv_dim);
        for (int h = 0; h < n_heads; h++) {
            float *o = part + (size_t)h * ps;
            const float *a = att + h * att_stride;
            size_t off = (size_t)(h / group) * head_dim;
            __m256 acc[8];
#pragma GCC unroll 8
            for (int d = 0; d < 8; d++) acc[d] = _mm256_loadu_ps(o + 8 * d);
            for (int r = 0; r < 8; r++) {
                const float *vv = v + (size_t)slot[i + r] * kv_dim + off;
                __m256 w = _mm256_set1_ps(a[slot[i + r]]);
#pragma GCC unroll 8
                for (int d = 0; d < 8; d++) acc[d] = _mm256_fmadd_ps(w, _mm256_loadu_ps(vv + 8 * d), acc[d]);
            }
#pragma GCC unroll 8
            for (int d = 0; d < 8; d++) _mm256_storeu_ps(o + 8 * d, acc[d]);
        }
    }
#endif
    for (; i < n; i++) {
        const float *vr = v + (size_t)slot[i] * kv_dim;
        for (int h = 0; h < n_heads; h++) {
            float *o = part + (size_t)h * ps, e = att[h * att_stride + slot[i]];
            const float *vv = vr + (size_t)(h / group) * head_dim;
#pragma omp simd
            for (int d = 0; d < head_dim; d++) o[d] += e * vv[d];
        }
    }
}
// END: attend_tile

// ANCHOR: attention_tiled
// The same attention, fast. A query's visible keys (sinks, then window) are cut into tiles of
// ATT_TILE keys. A tile is one task: it reads each key and value row once, every head at once
// (a row is contiguous in the cache), and leaves its share of the answer measured against its
// own maximum score m: o = sum_j e^(s_j - m) v_j and l = sum_j e^(s_j - m). Merging the tiles
// rescales each by e^(m - M), M the largest m: the softmax without a second pass over the keys.
// Decoding one token then spreads its ~8 tiles over the threads instead of giving one thread
// per key/value head, and a block of tokens has T times as many tasks. The tiles depend only on
// the query's slot, never on T, so a token's numbers are the same in a block or alone.
size_t attention_part_floats(int T, int capacity, int n_heads, int head_dim) {
    return (size_t)T * ((capacity + ATT_TILE - 1) / ATT_TILE) * n_heads * (head_dim + 2);
}

void attention_tiled_forward(float *out, float *att, float *part, const float *q, const float *q_sink,
                             const float *k_rot, const float *v, int T, int n_past, int n_sink, int window,
                             int n_heads, int n_kv_heads, int head_dim, int capacity) {
    // part[T, capacity / ATT_TILE rounded up, n_heads, head_dim + 2]: the tiles' shares
    int max_tiles = (capacity + ATT_TILE - 1) / ATT_TILE, ps = head_dim + 2, qd = n_heads * head_dim;
    size_t att_stride = (size_t)T * capacity; // att[h, t, :] to att[h + 1, t, :]
    float scale = 1.0f / sqrtf((float)head_dim);
#pragma omp parallel
    {
#pragma omp for collapse(2) schedule(dynamic)
        for (int t = 0; t < T; t++) {
            for (int c = 0; c < max_tiles; c++) {
                int sinks, start, visible = attention_visible(n_past + t, n_sink, window, &sinks, &start);
                int i0 = c * ATT_TILE, i1 = i0 + ATT_TILE < visible ? i0 + ATT_TILE : visible;
                if (i0 >= visible) continue;
                attend_tile(part + ((size_t)t * max_tiles + c) * n_heads * ps, att + (size_t)t * capacity,
                            q + (size_t)t * qd, q_sink + (size_t)t * qd, k_rot, v, i0, i1, sinks, start, n_heads,
                            n_kv_heads, head_dim, att_stride, scale);
            }
        }
#pragma omp for collapse(2) schedule(static)
        for (int t = 0; t < T; t++) {
            for (int h = 0; h < n_heads; h++) { // merge the tiles in order
                int sinks, start, visible = attention_visible(n_past + t, n_sink, window, &sinks, &start);
                int tiles = (visible + ATT_TILE - 1) / ATT_TILE;
                const float *p0 = part + (size_t)t * max_tiles * n_heads * ps + (size_t)h * ps;
                float M = -INFINITY, L = 0.0f, *o = out + (size_t)t * qd + (size_t)h * head_dim;
                for (int c = 0; c < tiles; c++) M = fmaxf(M, p0[(size_t)c * n_heads * ps + head_dim]);
                for (int d = 0; d < head_dim; d++) o[d] = 0.0f;
                for (int c = 0; c < tiles; c++) {
                    const float *p = p0 + (size_t)c * n_heads * ps;
                    float f = expf(p[head_dim] - M);
                    L += f * p[head_dim + 1];
                    for (int d = 0; d < head_dim; d++) o[d] += f * p[d];
                }
                for (int d = 0; d < head_dim; d++) o[d] /= L;
                // the probabilities: each tile's e^(s - m) times e^(m - M) / L; hidden slots 0
                float *a = att + (size_t)h * att_stride + (size_t)t * capacity;
                for (int j = sinks; j < start; j++) a[j] = 0.0f;
                for (int c = 0; c < tiles; c++) {
                    float f = expf(p0[(size_t)c * n_heads * ps + head_dim] - M) / L;
                    int i1 = (c + 1) * ATT_TILE < visible ? (c + 1) * ATT_TILE : visible;
                    for (int i = c * ATT_TILE; i < i1; i++) a[i < sinks ? i : start + i - sinks] *= f;
                }
            }
        }
    }
}
// END: attention_tiled

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
    attention_tiled_forward(s->att_out, s->att, s->att_part, s->q, shifted ? s->q_sink : s->q, k_rot, v, T, n_past,
                            s->n_sink, s->window, cfg->n_heads, cfg->n_kv_heads, hd, c->capacity);
    if (s->on_attention) s->on_attention(s->on_attention_ctx, l, s->att, T, n_past + T, c->capacity);
    linear_forward(out, s->att_out, lw->wo, lw->qwo, lw->bo, s->xq, T, qd, D);
}
// END: attention_block

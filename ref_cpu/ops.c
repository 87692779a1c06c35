#include "ops.h"

#ifdef __AVX2__
#include <immintrin.h>
#endif

#include <math.h>
#include <stdlib.h>
#include <string.h>

// The one dot product every matmul uses. `omp simd reduction` lets the compiler vectorise the
// sum (which reorders it) without -ffast-math; the order is fixed per build, so it is the same
// for every row and every T.
static inline float dot(const float *a, const float *b, int n) {
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

// ANCHOR: matmul
void matmul_forward(float *out, const float *in, const float *w, const float *bias, int T, int I, int O) {
    // Parallel over output features: each thread streams its own rows of w once and applies
    // each row to all T inputs while it is in cache.
#pragma omp parallel for schedule(static)
    for (int o = 0; o < O; o++) {
        const float *wrow = w + (size_t)o * I;
        float b = bias ? bias[o] : 0.0f;
        for (int t = 0; t < T; t++) out[(size_t)t * O + o] = dot(wrow, in + (size_t)t * I, I) + b;
    }
}
// END: matmul

// ANCHOR: matmul_tiled
// The fast version, for prefill: each weight row is applied to tiles of 4 tokens, so it is loaded
// once per 4 tokens, and the 4 sums give the CPU independent additions to overlap. The order of
// each sum is fixed in the C: 8 running sums (element i goes to sum i mod 8), the tail, then the
// 8 sums pairwise. The compiler maps the 8 sums onto one vector register but may not reorder
// them (no -ffast-math), so a token gets the same bits in a tile of 4 as alone: prefill equals
// decode. It differs from matmul_forward's order, within float rounding (tests/test_quant.c).
#define LANES 8
static inline __attribute__((always_inline)) void dot_tile(float *out, const float *w, const float *x, size_t xs,
                                                           int n, const int NT) {
    float acc[4][LANES] = {{0}};
    int i = 0;
#ifdef __AVX2__
    // The same 8 sums in one register each (multiply, then add: the bits of the C below)
    __m256 v[4];
    for (int t = 0; t < NT; t++) v[t] = _mm256_setzero_ps();
    for (; i + LANES <= n; i += LANES) {
        __m256 wv = _mm256_loadu_ps(w + i);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) v[t] = _mm256_add_ps(v[t], _mm256_mul_ps(wv, _mm256_loadu_ps(x + t * xs + i)));
    }
    for (int t = 0; t < NT; t++) _mm256_storeu_ps(acc[t], v[t]);
#else
    for (; i + LANES <= n; i += LANES)
        for (int t = 0; t < NT; t++)
            for (int l = 0; l < LANES; l++) acc[t][l] += w[i + l] * x[t * xs + i + l];
#endif
    for (int t = 0; t < NT; t++) {
        const float *a = acc[t];
        float tail = 0.0f;
        for (int k = i; k < n; k++) tail += w[k] * x[t * xs + k];
        out[t] = (((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]))) + tail;
    }
}

void matmul_tiled_forward(float *out, const float *in, const float *w, const float *bias, int T, int I, int O) {
#pragma omp parallel for schedule(static)
    for (int o = 0; o < O; o++) {
        const float *wrow = w + (size_t)o * I;
        float b = bias ? bias[o] : 0.0f, r[4];
        for (int t = 0; t < T; t += 4) {
            const float *x = in + (size_t)t * I;
            if (T - t >= 4) {
                dot_tile(r, wrow, x, (size_t)I, I, 4);
                for (int k = 0; k < 4; k++) out[(size_t)(t + k) * O + o] = r[k] + b;
            } else {
                for (int k = 0; k < T - t; k++) {
                    dot_tile(r, wrow, x + (size_t)k * I, (size_t)I, I, 1);
                    out[(size_t)(t + k) * O + o] = r[0] + b;
                }
            }
        }
    }
}
// END: matmul_tiled

// ANCHOR: norms
void rmsnorm_forward(float *out, const float *in, const float *w, int T, int D, float eps) {
    for (int t = 0; t < T; t++) {
        const float *x = in + (size_t)t * D;
        float *y = out + (size_t)t * D;
        float ss = 0.0f;
        for (int i = 0; i < D; i++) ss += x[i] * x[i];
        float scale = 1.0f / sqrtf(ss / D + eps);
        for (int i = 0; i < D; i++) y[i] = x[i] * scale * w[i];
    }
}

void layernorm_forward(float *out, const float *in, const float *w, const float *b, int T, int D, float eps) {
    for (int t = 0; t < T; t++) {
        const float *x = in + (size_t)t * D;
        float *y = out + (size_t)t * D;
        float mean = 0.0f, var = 0.0f;
        for (int i = 0; i < D; i++) mean += x[i];
        mean /= D;
        for (int i = 0; i < D; i++) var += (x[i] - mean) * (x[i] - mean);
        var /= D;
        float scale = 1.0f / sqrtf(var + eps);
        for (int i = 0; i < D; i++) y[i] = (x[i] - mean) * scale * w[i] + b[i];
    }
}
// END: norms

// ANCHOR: softmax
void softmax_forward(float *x, int n) {
    float max = x[0];
    for (int i = 1; i < n; i++) max = x[i] > max ? x[i] : max;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - max); // subtracting the max keeps expf from overflowing
        sum += x[i];
    }
    for (int i = 0; i < n; i++) x[i] /= sum;
}
// END: softmax

// ANCHOR: activations
void swiglu_forward(float *out, const float *gate, const float *up, int N) {
    for (int i = 0; i < N; i++) {
        float g = gate[i];
        out[i] = g / (1.0f + expf(-g)) * up[i];
    }
}

void gelu_forward(float *x, int N, int tanh_approx) {
    for (int i = 0; i < N; i++) {
        float v = x[i];
        if (tanh_approx)
            x[i] = 0.5f * v * (1.0f + tanhf(0.7978845608028654f * (v + 0.044715f * v * v * v)));
        else
            x[i] = 0.5f * v * (1.0f + erff(v * 0.7071067811865476f));
    }
}
// END: activations

void residual_forward(float *out, const float *a, const float *b, int N) {
    for (int i = 0; i < N; i++) out[i] = a[i] + b[i];
}

void embedding_forward(float *out, const float *emb, const int *tokens, int T, int D) {
    for (int t = 0; t < T; t++) memcpy(out + (size_t)t * D, emb + (size_t)tokens[t] * D, (size_t)D * sizeof(float));
}

int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

int rope_init(RopeTable *r, int n_pos, int rot_dim, float theta, Error *err) {
    r->n_pos = n_pos;
    r->half = rot_dim / 2;
    r->cos = malloc((size_t)n_pos * r->half * sizeof(float));
    r->sin = malloc((size_t)n_pos * r->half * sizeof(float));
    if (!r->cos || !r->sin) {
        rope_free(r);
        return err_set(err, "out of memory for a rotary table of %d positions", n_pos);
    }
    for (int p = 0; p < n_pos; p++)
        for (int i = 0; i < r->half; i++) {
            // double precision: at position 8000 a float angle would already be off by ~5e-4 rad
            double angle = p * pow((double)theta, -2.0 * i / rot_dim);
            r->cos[(size_t)p * r->half + i] = (float)cos(angle);
            r->sin[(size_t)p * r->half + i] = (float)sin(angle);
        }
    return 0;
}

void rope_free(RopeTable *r) {
    free(r->cos);
    free(r->sin);
    r->cos = r->sin = NULL;
}

// ANCHOR: rope
void rope_forward(float *x, const int *positions, const RopeTable *r, int T, int H, int hd, RopeStyle style) {
    int half = r->half;
    for (int t = 0; t < T; t++) {
        const float *c = r->cos + (size_t)positions[t] * half, *s = r->sin + (size_t)positions[t] * half;
        for (int h = 0; h < H; h++) {
            float *v = x + ((size_t)t * H + h) * hd;
            for (int i = 0; i < half; i++) {
                // the two dims rotated together: neighbours, or one from each half of rot_dim
                int a = style == ROPE_INTERLEAVED ? 2 * i : i;
                int b = style == ROPE_INTERLEAVED ? 2 * i + 1 : i + half;
                float x0 = v[a], x1 = v[b];
                v[a] = x0 * c[i] - x1 * s[i];
                v[b] = x0 * s[i] + x1 * c[i];
            }
        }
    }
}
// END: rope

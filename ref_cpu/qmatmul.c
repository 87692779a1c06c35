// qmatmul.c: dot products and matrix products on weights kept in GGUF blocks (see qmatmul.h).
#include "qmatmul.h"

#include <math.h>
#include <string.h>

#include "ops.h"

#include <omp.h>

#if defined(__AVX2__) && defined(__FMA__) && defined(__F16C__)
#include <immintrin.h>
#define QMAT_AVX2 1
#endif

static inline float f16(const uint8_t *p) {
#ifdef QMAT_AVX2
    return _cvtsh_ss((unsigned short)(p[0] | (p[1] << 8))); // the same exact conversion, one instruction
#else
    return fp16_to_fp32((uint16_t)(p[0] | (p[1] << 8)));
#endif
}

int qmat_supported(uint32_t type, int n) {
    int bs = type == GGML_Q4_0 || type == GGML_Q4_1 || type == GGML_Q8_0 ? 32
             : type == GGML_Q4_K || type == GGML_Q6_K                    ? 256
                                                                          : 0;
    return bs > 0 && n > 0 && n % bs == 0;
}

size_t qmat_row_bytes(uint32_t type, int n) { return (size_t)(n / ggml_block_size(type)) * ggml_type_size(type); }

// ANCHOR: quantize_q8
void quantize_q8_blocks_portable(Q8Block *xq, const float *x, int n) {
    for (int b = 0; b < n / 32; b++, x += 32) {
        float amax = 0.0f;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[i]));
        float d = amax / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int i = 0; i < 32; i++) {
            int q = (int)lrintf(x[i] * id); // |x*id| <= 127 (+ rounding), so q fits in int8
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            xq[b].q[i] = (int8_t)q;
            sum += q;
        }
        xq[b].d = d;
        xq[b].s = d * (float)sum;
    }
}
// END: quantize_q8

#ifdef QMAT_AVX2
// The same numbers eight lanes at a time: max |x|, then x / d rounded to nearest even (the
// default rounding mode, as lrintf), clamped, packed to bytes in element order.
static void quantize_q8_blocks_avx2(Q8Block *xq, const float *x, int n) {
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int b = 0; b < n / 32; b++, x += 32) {
        __m256 v[4], amax = _mm256_setzero_ps();
        for (int k = 0; k < 4; k++) {
            v[k] = _mm256_loadu_ps(x + 8 * k);
            amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[k]));
        }
        __m128 m = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
        m = _mm_max_ps(m, _mm_movehl_ps(m, m));
        m = _mm_max_ss(m, _mm_movehdup_ps(m));
        float d = _mm_cvtss_f32(m) / 127.0f, id = d > 0.0f ? 1.0f / d : 0.0f;
        __m256i q[4], sum = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            q[k] = _mm256_cvtps_epi32(_mm256_mul_ps(v[k], _mm256_set1_ps(id)));
            q[k] = _mm256_max_epi32(_mm256_min_epi32(q[k], _mm256_set1_epi32(127)), _mm256_set1_epi32(-127));
            sum = _mm256_add_epi32(sum, q[k]);
        }
        // int32 -> int16 -> int8; the packs interleave 128-bit lanes, the permute puts them back
        __m256i p16a = _mm256_packs_epi32(q[0], q[1]), p16b = _mm256_packs_epi32(q[2], q[3]);
        __m256i p8 = _mm256_packs_epi16(p16a, p16b);
        p8 = _mm256_permutevar8x32_epi32(p8, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)xq[b].q, p8);
        __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(sum), _mm256_extracti128_si256(sum, 1));
        s4 = _mm_hadd_epi32(s4, s4);
        s4 = _mm_hadd_epi32(s4, s4);
        xq[b].d = d;
        xq[b].s = d * (float)_mm_cvtsi128_si32(s4);
    }
}
#endif

void quantize_q8_blocks(Q8Block *xq, const float *x, int n) {
#ifdef QMAT_AVX2
    quantize_q8_blocks_avx2(xq, x, n);
#else
    quantize_q8_blocks_portable(xq, x, n);
#endif
}

// ANCHOR: qdot_f32
float qdot_f32(const uint8_t *row, uint32_t type, const float *x, int n) {
    int bs = ggml_block_size(type);
    size_t ts = ggml_type_size(type);
    float w[256], sum = 0.0f; // one block of weights, as fp32
    for (int b = 0; b < n / bs; b++, row += ts, x += bs) {
        dequantize(w, row, type, (size_t)bs);
        for (int i = 0; i < bs; i++) sum += w[i] * x[i];
    }
    return sum;
}
// END: qdot_f32

// ---- the 8-bit dot products, in plain C ------------------------------------------------------
// Each block: an integer sum of products (exact), then one float multiply-add per scale. The
// accumulation order is per token and fixed, so nt only changes how many tokens share a pass.

static int isum32(const int8_t *w, const int8_t *x) {
    int s = 0;
    for (int i = 0; i < 32; i++) s += w[i] * x[i];
    return s;
}

// ANCHOR: qdot_q4_1_portable
// Q4_1 against Q8: sum_i (q_i d + m) (x_i d_x) = d d_x sum_i q_i x_i + m (d_x sum_i x_i).
static void dot_q4_1_c(float *out, const uint8_t *row, const Q8Block *xq, size_t xs, int nb, int nt) {
    float acc[4] = {0, 0, 0, 0};
    for (int b = 0; b < nb; b++, row += 20) {
        int8_t q[32]; // the block's 32 nibbles, in element order
        for (int j = 0; j < 16; j++) q[j] = (int8_t)(row[4 + j] & 0xF), q[j + 16] = (int8_t)(row[4 + j] >> 4);
        float d = f16(row), m = f16(row + 2);
        for (int t = 0; t < nt; t++) {
            const Q8Block *x = xq + t * xs + b;
            acc[t] += d * x->d * (float)isum32(q, x->q) + m * x->s;
        }
    }
    for (int t = 0; t < nt; t++) out[t] = acc[t];
}
// END: qdot_q4_1_portable

static void dot_q4_0_c(float *out, const uint8_t *row, const Q8Block *xq, size_t xs, int nb, int nt) {
    float acc[4] = {0, 0, 0, 0};
    for (int b = 0; b < nb; b++, row += 18) {
        int8_t q[32];
        for (int j = 0; j < 16; j++)
            q[j] = (int8_t)((row[2 + j] & 0xF) - 8), q[j + 16] = (int8_t)((row[2 + j] >> 4) - 8);
        float d = f16(row);
        for (int t = 0; t < nt; t++) {
            const Q8Block *x = xq + t * xs + b;
            acc[t] += d * x->d * (float)isum32(q, x->q);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = acc[t];
}

static void dot_q8_0_c(float *out, const uint8_t *row, const Q8Block *xq, size_t xs, int nb, int nt) {
    float acc[4] = {0, 0, 0, 0};
    for (int b = 0; b < nb; b++, row += 34) {
        float d = f16(row);
        for (int t = 0; t < nt; t++) {
            const Q8Block *x = xq + t * xs + b;
            acc[t] += d * x->d * (float)isum32((const int8_t *)(row + 2), x->q);
        }
    }
    for (int t = 0; t < nt; t++) out[t] = acc[t];
}

// Q4_K: 8 sub-blocks of 32, each w = d*sc*q - dmin*m, so one Q8Block per sub-block.
static void dot_q4_k_c(float *out, const uint8_t *row, const Q8Block *xq, size_t xs, int nb, int nt) {
    float acc[4] = {0, 0, 0, 0};
    for (int b = 0; b < nb / 8; b++, row += 144) {
        float d = f16(row), dmin = f16(row + 2);
        const uint8_t *qs = row + 16;
        for (int k = 0; k < 8; k++) {
            uint8_t sc, m;
            q4k_scale_min(k, row + 4, &sc, &m);
            int8_t q[32]; // sub-block k: low nibbles of bytes 32*(k/2).. for even k, high for odd
            for (int l = 0; l < 32; l++) q[l] = (int8_t)(k % 2 ? qs[32 * (k / 2) + l] >> 4 : qs[32 * (k / 2) + l] & 0xF);
            for (int t = 0; t < nt; t++) {
                const Q8Block *x = xq + t * xs + 8 * b + k;
                acc[t] += d * sc * x->d * (float)isum32(q, x->q) - dmin * m * x->s;
            }
        }
    }
    for (int t = 0; t < nt; t++) out[t] = acc[t];
}

// Q6_K: two halves of 128; in each, four runs of 32 (one Q8Block each) with a scale per 16.
static void dot_q6_k_c(float *out, const uint8_t *row, const Q8Block *xq, size_t xs, int nb, int nt) {
    float acc[4] = {0, 0, 0, 0};
    for (int b = 0; b < nb / 8; b++, row += 210) {
        float d = f16(row + 208);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = row + 64 * h, *qh = row + 128 + 32 * h;
            const int8_t *sc = (const int8_t *)(row + 192 + 8 * h);
            for (int k = 0; k < 4; k++) {
                int8_t q[32];
                for (int l = 0; l < 32; l++) {
                    int lo = k % 2 ? ql[l + 32] : ql[l];
                    lo = k < 2 ? lo & 0xF : lo >> 4;
                    q[l] = (int8_t)((lo | (((qh[l] >> (2 * k)) & 3) << 4)) - 32);
                }
                for (int t = 0; t < nt; t++) {
                    const Q8Block *x = xq + t * xs + 8 * b + 4 * h + k;
                    int s0 = 0, s1 = 0;
                    for (int l = 0; l < 16; l++) s0 += q[l] * x->q[l], s1 += q[l + 16] * x->q[l + 16];
                    acc[t] += d * x->d * (float)(sc[2 * k] * s0 + sc[2 * k + 1] * s1);
                }
            }
        }
    }
    for (int t = 0; t < nt; t++) out[t] = acc[t];
}

void qdot_q8_portable(float *out, const uint8_t *row, uint32_t type, const Q8Block *xq, size_t x_stride, int n,
                      int nt) {
    int nb = n / 32;
    switch (type) {
    case GGML_Q4_0: dot_q4_0_c(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q4_1: dot_q4_1_c(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q8_0: dot_q8_0_c(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q4_K: dot_q4_k_c(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q6_K: dot_q6_k_c(out, row, xq, x_stride, nb, nt); return;
    default: for (int t = 0; t < nt; t++) out[t] = 0.0f; // unreachable: qmat_supported was checked
    }
}

// ---- AVX2: the 32-element formats, where the default model's weights are -----------------------
#ifdef QMAT_AVX2
static inline float hsum8(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

// The 32 nibbles of 16 bytes in element order: bytes 0..15 the low nibbles, 16..31 the high.
static inline __m256i nibbles32(const uint8_t *p) {
    __m128i lo = _mm_loadu_si128((const __m128i *)p);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(lo, 4), lo);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0F));
}

// 8 int32 partial sums of 32 int8 x int8 products, as floats. maddubs wants one unsigned
// operand: |w| and x with w's sign moved onto it (the products are unchanged).
static inline __m256 dot_s8(__m256i w, __m256i x) {
    __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}
// The same with unsigned w (0..15): no sign trick needed.
static inline __m256 dot_u4(__m256i w, __m256i x) {
    __m256i p16 = _mm256_maddubs_epi16(w, x);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

// ANCHOR: qdot_q4_1_avx2
// NT is a constant at each call (4 or 1), so acc[] lives in registers; the weight block is
// unpacked once and applied to NT tokens.
static inline __attribute__((always_inline)) void dot_q4_1_avx2(float *out, const uint8_t *row, const Q8Block *xq,
                                                                size_t xs, int nb, const int NT) {
    __m256 acc[4];
    float mins[4] = {0, 0, 0, 0};
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++, row += 20) {
        __m256i w = nibbles32(row + 4);
        float d = f16(row), m = f16(row + 2);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            const Q8Block *x = xq + t * xs + b;
            __m256 p = dot_u4(w, _mm256_loadu_si256((const __m256i *)x->q));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * x->d), p, acc[t]);
            mins[t] += m * x->s;
        }
    }
    for (int t = 0; t < NT; t++) out[t] = hsum8(acc[t]) + mins[t];
}
// END: qdot_q4_1_avx2

// Q4_0 and Q8_0 differ only in how 32 weights become 32 signed bytes (nibbles - 8, or as
// stored) and in the block size; `q4` is a constant at each call, so each inlines to its own loop.
static inline __attribute__((always_inline)) void dot_d32_avx2(float *out, const uint8_t *row, const Q8Block *xq,
                                                               size_t xs, int nb, const int NT, const int q4) {
    __m256 acc[4];
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++, row += q4 ? 18 : 34) {
        __m256i w = q4 ? _mm256_sub_epi8(nibbles32(row + 2), _mm256_set1_epi8(8))
                       : _mm256_loadu_si256((const __m256i *)(row + 2));
        float d = f16(row);
#pragma GCC unroll 4
        for (int t = 0; t < NT; t++) {
            const Q8Block *x = xq + t * xs + b;
            __m256 p = dot_s8(w, _mm256_loadu_si256((const __m256i *)x->q));
            acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * x->d), p, acc[t]);
        }
    }
    for (int t = 0; t < NT; t++) out[t] = hsum8(acc[t]);
}

static inline __attribute__((always_inline)) void dot_q4_0_avx2(float *out, const uint8_t *row, const Q8Block *xq,
                                                                size_t xs, int nb, const int NT) {
    dot_d32_avx2(out, row, xq, xs, nb, NT, 1);
}

static inline __attribute__((always_inline)) void dot_q8_0_avx2(float *out, const uint8_t *row, const Q8Block *xq,
                                                                size_t xs, int nb, const int NT) {
    dot_d32_avx2(out, row, xq, xs, nb, NT, 0);
}

// A tile of nt <= 4 tokens: the 4-token kernel when it is full, else one token at a time (NT
// stays a constant at every call, so each inlines to its own loop).
#define QMAT_TILE(name, dot)                                                                                 \
    static inline __attribute__((always_inline)) void name(float *out, const uint8_t *row, const Q8Block *xq, \
                                                           size_t xs, int nb, int nt) {                       \
        if (nt == 4) dot(out, row, xq, xs, nb, 4);                                                            \
        else for (int t = 0; t < nt; t++) dot(out + t, row, xq + t * xs, xs, nb, 1);                          \
    }
QMAT_TILE(tile_q4_0, dot_q4_0_avx2)
QMAT_TILE(tile_q4_1, dot_q4_1_avx2)
QMAT_TILE(tile_q8_0, dot_q8_0_avx2)
#undef QMAT_TILE
#endif

void qdot_q8(float *out, const uint8_t *row, uint32_t type, const Q8Block *xq, size_t x_stride, int n, int nt) {
#ifdef QMAT_AVX2
    int nb = n / 32;
    switch (type) {
    case GGML_Q4_0: tile_q4_0(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q4_1: tile_q4_1(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q8_0: tile_q8_0(out, row, xq, x_stride, nb, nt); return;
    default: break;
    }
#endif
    qdot_q8_portable(out, row, type, xq, x_stride, n, nt);
}

// ---- matrix products ---------------------------------------------------------------------------

// ANCHOR: qmatmul_f32
void qmatmul_f32_forward(float *out, const float *in, QMat w, const float *bias, int T, int I, int O) {
    size_t rb = qmat_row_bytes(w.type, I);
#pragma omp parallel for schedule(static)
    for (int o = 0; o < O; o++) {
        float b = bias ? bias[o] : 0.0f;
        for (int t = 0; t < T; t++) out[(size_t)t * O + o] = qdot_f32(w.data + o * rb, w.type, in + (size_t)t * I, I) + b;
    }
}
// END: qmatmul_f32

// ANCHOR: qmatmul
// Rows o0..o1-1 of out[T, O]: each row is applied to tiles of 4 tokens while it sits in L1, so a
// prefill reads each weight block once per 4 tokens and a decode once per token. DOT is one
// block format's dot product, inlined so a decode step's ~600 short rows cost no calls.
#define QMAT_ROWS(name, DOT)                                                                              \
    static void name(float *out, const uint8_t *w, size_t rb, const float *bias, const Q8Block *xq,        \
                     size_t nb, uint32_t type, int T, int O, int o0, int o1) {                           \
        (void)type;                                                                                       \
        for (int o = o0; o < o1; o++) {                                                                   \
            const uint8_t *row = w + o * rb;                                                              \
            float b = bias ? bias[o] : 0.0f, r[4];                                                        \
            for (int t = 0; t < T; t += 4) {                                                              \
                int nt = T - t < 4 ? T - t : 4;                                                           \
                const Q8Block *x = xq + t * nb;                                                           \
                DOT;                                                                                      \
                for (int k = 0; k < nt; k++) out[(size_t)(t + k) * O + o] = r[k] + b;                     \
            }                                                                                             \
        }                                                                                                 \
    }
QMAT_ROWS(rows_any, qdot_q8(r, row, type, x, nb, (int)nb * 32, nt))
#ifdef QMAT_AVX2
QMAT_ROWS(rows_q4_1, tile_q4_1(r, row, x, nb, (int)nb, nt))
QMAT_ROWS(rows_q4_0, tile_q4_0(r, row, x, nb, (int)nb, nt))
QMAT_ROWS(rows_q8_0, tile_q8_0(r, row, x, nb, (int)nb, nt))
#endif

void qmatmul_forward(float *out, const float *in, QMat w, const float *bias, Q8Block *xq, int T, int I, int O) {
    size_t rb = qmat_row_bytes(w.type, I), nb = (size_t)I / 32;
#pragma omp parallel for schedule(static) if (T >= 8) // a decode step: not worth waking threads
    for (int t = 0; t < T; t++) quantize_q8_blocks(xq + t * nb, in + (size_t)t * I, I);
    void (*rows)(float *, const uint8_t *, size_t, const float *, const Q8Block *, size_t, uint32_t, int, int, int,
                 int) = rows_any;
#ifdef QMAT_AVX2
    if (w.type == GGML_Q4_1) rows = rows_q4_1;
    else if (w.type == GGML_Q4_0) rows = rows_q4_0;
    else if (w.type == GGML_Q8_0) rows = rows_q8_0;
#endif
    // Parallel over rows, split evenly as schedule(static) would
#pragma omp parallel
    {
        int nth = omp_get_num_threads(), id = omp_get_thread_num();
        int o0 = (int)((long)O * id / nth), o1 = (int)((long)O * (id + 1) / nth);
        rows(out, w.data, rb, bias, xq, nb, w.type, T, O, o0, o1);
    }
}
// END: qmatmul

void linear_forward(float *out, const float *in, const float *w, QMat qw, const float *bias, Q8Block *xq, int T,
                    int I, int O) {
    if (qw.data)
        qmatmul_forward(out, in, qw, bias, xq, T, I, O);
    else
        matmul_tiled_forward(out, in, w, bias, T, I, O);
}

void embedding_any_forward(float *out, const float *emb, QMat qemb, const int *tokens, int T, int D) {
    if (!qemb.data) {
        embedding_forward(out, emb, tokens, T, D);
        return;
    }
    size_t rb = qmat_row_bytes(qemb.type, D);
    for (int t = 0; t < T; t++) dequantize(out + (size_t)t * D, qemb.data + (size_t)tokens[t] * rb, qemb.type, (size_t)D);
}

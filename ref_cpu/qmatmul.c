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
    int bs = type == GGML_Q4_0 || type == GGML_Q4_1 || type == GGML_Q5_0 || type == GGML_Q5_1 || type == GGML_Q8_0 ? 32
             : type == GGML_Q4_K || type == GGML_Q6_K                                                            ? 256
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

// Q5_0 / Q5_1: Q4_0 / Q4_1 with a fifth bit per weight (bit j of the word at h for element j).
// q51 (Q5_1: w = q*d + m) or not (Q5_0: w = (q - 16) * d) is fixed at each call.
static void dot_q5_c(float *out, const uint8_t *row, const Q8Block *xq, size_t xs, int nb, int nt, int q51) {
    float acc[4] = {0, 0, 0, 0};
    for (int b = 0; b < nb; b++, row += q51 ? 24 : 22) {
        const uint8_t *h = row + (q51 ? 4 : 2), *qs = h + 4;
        uint32_t hi = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 24;
        int8_t q[32];
        for (int j = 0; j < 16; j++) {
            q[j] = (int8_t)(((qs[j] & 0xF) | ((hi >> j) & 1) << 4) - (q51 ? 0 : 16));
            q[j + 16] = (int8_t)(((qs[j] >> 4) | ((hi >> (j + 16)) & 1) << 4) - (q51 ? 0 : 16));
        }
        float d = f16(row), m = q51 ? f16(row + 2) : 0.0f;
        for (int t = 0; t < nt; t++) {
            const Q8Block *x = xq + t * xs + b;
            acc[t] += d * x->d * (float)isum32(q, x->q) + (q51 ? m * x->s : 0.0f);
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
    case GGML_Q5_0: dot_q5_c(out, row, xq, x_stride, nb, nt, 0); return;
    case GGML_Q5_1: dot_q5_c(out, row, xq, x_stride, nb, nt, 1); return;
    case GGML_Q8_0: dot_q8_0_c(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q4_K: dot_q4_k_c(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q6_K: dot_q6_k_c(out, row, xq, x_stride, nb, nt); return;
    default: for (int t = 0; t < nt; t++) out[t] = 0.0f; // unreachable: qmat_supported was checked
    }
}

// ---- AVX2: every format (the default model's Q4_1 and Q8_0; Q5_0, Q4_K and Q6_K of *_K_M files) ----
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

// 32 bytes, 0xFF where bit j of the little-endian word at p is set (byte j), else 0: each byte
// gets the word's byte j / 8, and the mask keeps every bit but j % 8.
static inline __m256i bits32(const uint8_t *p) {
    uint32_t w;
    memcpy(&w, p, 4);
    __m256i v = _mm256_shuffle_epi8(_mm256_set1_epi32((int)w),
                                    _mm256_setr_epi64x(0, 0x0101010101010101, 0x0202020202020202, 0x0303030303030303));
    v = _mm256_or_si256(v, _mm256_set1_epi64x(0x7fbfdfeff7fbfdfe));
    return _mm256_cmpeq_epi8(v, _mm256_set1_epi64x(-1));
}

// 8 int32 partial sums of 32 int8 x int8 products, as floats. maddubs wants one unsigned
// operand: |w| and x with w's sign moved onto it (the products are unchanged).
static inline __m256 dot_s8(__m256i w, __m256i x) {
    __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}
// The same with unsigned w (0..31): no sign trick needed.
static inline __m256 dot_u4(__m256i w, __m256i x) {
    __m256i p16 = _mm256_maddubs_epi16(w, x);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, _mm256_set1_epi16(1)));
}

// ANCHOR: qdot_q4_1_avx2
// The formats w = q * d + m with q unsigned: Q4_1, and the 5-bit ones (their fifth bits or'ed
// in as 16; Q5_0's (q - 16) * d is q * d + m with m = -16 d, so it takes this path instead of
// signed bytes). `type` and NT (4 or 1) are constants at each call, so each inlines to its own
// loop with acc[] in registers; the weight block is unpacked once and applied to NT tokens.
static inline __attribute__((always_inline)) void dot_offset_avx2(float *out, const uint8_t *row, const Q8Block *xq,
                                                                  size_t xs, int nb, const int NT, const uint32_t type) {
    const int q5 = type != GGML_Q4_1, has_m = type != GGML_Q5_0;
    const size_t bytes = type == GGML_Q4_1 ? 20 : type == GGML_Q5_1 ? 24 : 22;
    __m256 acc[4];
    float mins[4] = {0, 0, 0, 0};
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    for (int b = 0; b < nb; b++, row += bytes) {
        const uint8_t *qs = row + (has_m ? 4 : 2) + (q5 ? 4 : 0); // the 16 bytes of nibbles
        __m256i w = nibbles32(qs);
        if (q5) w = _mm256_or_si256(w, _mm256_and_si256(bits32(qs - 4), _mm256_set1_epi8(16)));
        float d, m;
        if (has_m) { // d and m side by side: one conversion for both
            uint32_t dm;
            memcpy(&dm, row, 4);
            __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128((int)dm));
            d = _mm_cvtss_f32(f), m = _mm_cvtss_f32(_mm_movehdup_ps(f));
        } else {
            d = f16(row), m = -16.0f * d;
        }
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

static inline __attribute__((always_inline)) void dot_q4_1_avx2(float *out, const uint8_t *row, const Q8Block *xq,
                                                                size_t xs, int nb, const int NT) {
    dot_offset_avx2(out, row, xq, xs, nb, NT, GGML_Q4_1);
}

static inline __attribute__((always_inline)) void dot_q5_0_avx2(float *out, const uint8_t *row, const Q8Block *xq,
                                                                size_t xs, int nb, const int NT) {
    dot_offset_avx2(out, row, xq, xs, nb, NT, GGML_Q5_0);
}

static inline __attribute__((always_inline)) void dot_q5_1_avx2(float *out, const uint8_t *row, const Q8Block *xq,
                                                                size_t xs, int nb, const int NT) {
    dot_offset_avx2(out, row, xq, xs, nb, NT, GGML_Q5_1);
}

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

// Q4_K: a 144-byte block holds 8 sub-blocks of 32 (one Q8Block each), w = d*sc*q - dmin*m with
// a 6-bit sc and m per sub-block. Bytes 32j..32j+31 of qs carry sub-block 2j in their low nibbles
// and 2j + 1 in their high ones: one load feeds two sub-blocks. The min term, as Q4_1's, is
// m * (d_x * sum q_x), one float per sub-block.
static inline __attribute__((always_inline)) void dot_q4_k_avx2(float *out, const uint8_t *row, const Q8Block *xq,
                                                                size_t xs, int nb, const int NT) {
    __m256 acc[4];
    float mins[4] = {0, 0, 0, 0};
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    for (int b = 0; b < nb / 8; b++, row += 144) {
        // q4k_scale_min for all 8 sub-blocks at once, four bytes per word operation: w0..w2 are
        // the 12 scale bytes; the low 6 bits of w0 (w1) are scales (mins) 0-3, and 4-7 take 4
        // bits from w2 and their top 2 from the spare bits of w0 (w1)
        uint32_t w0, w1, w2, sm[4];
        memcpy(&w0, row + 4, 4), memcpy(&w1, row + 8, 4), memcpy(&w2, row + 12, 4);
        sm[0] = w0 & 0x3f3f3f3f, sm[1] = (w2 & 0x0f0f0f0f) | ((w0 >> 6) & 0x03030303) << 4; // scales 0-7
        sm[2] = w1 & 0x3f3f3f3f, sm[3] = ((w2 >> 4) & 0x0f0f0f0f) | ((w1 >> 6) & 0x03030303) << 4; // mins 0-7
        __m256 dsc = _mm256_mul_ps(_mm256_set1_ps(f16(row)),
                                   _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)sm))));
        __m256 dm = _mm256_mul_ps(_mm256_set1_ps(f16(row + 2)),
                                  _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(sm + 2)))));
        float sc[8], m[8]; // d * scale and dmin * min of each sub-block
        _mm256_storeu_ps(sc, dsc), _mm256_storeu_ps(m, dm);
        for (int j = 0; j < 4; j++) {
            __m256i qs = _mm256_loadu_si256((const __m256i *)(row + 16 + 32 * j));
            __m256i w[2] = {_mm256_and_si256(qs, low4), _mm256_and_si256(_mm256_srli_epi16(qs, 4), low4)};
            for (int h = 0; h < 2; h++) {
                int k = 2 * j + h;
#pragma GCC unroll 4
                for (int t = 0; t < NT; t++) {
                    const Q8Block *x = xq + t * xs + 8 * b + k;
                    __m256 p = dot_u4(w[h], _mm256_loadu_si256((const __m256i *)x->q));
                    acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(sc[k] * x->d), p, acc[t]);
                    mins[t] += m[k] * x->s;
                }
            }
        }
    }
    for (int t = 0; t < NT; t++) out[t] = hsum8(acc[t]) - mins[t];
}

// Q6_K: a 210-byte block, two halves of 128; run k (0..3) of a half takes 4 bits from ql (low or
// high nibbles of its first or second 32 bytes) and 2 from qh (bits 2k, 2k + 1), minus 32, with
// one int8 scale per 16 elements. The scales go into the integer sum (madd with a vector of
// them instead of ones), so a run's sum sc0 * s0 + sc1 * s1 is exact, as in the portable code.
static inline __attribute__((always_inline)) void dot_q6_k_avx2(float *out, const uint8_t *row, const Q8Block *xq,
                                                                size_t xs, int nb, const int NT) {
    __m256 acc[4];
    for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    const __m256i low4 = _mm256_set1_epi8(0x0F), low2 = _mm256_set1_epi8(0x03), bias = _mm256_set1_epi8(32);
    for (int b = 0; b < nb / 8; b++, row += 210) {
        float d = f16(row + 208);
        for (int h = 0; h < 2; h++) {
            const uint8_t *ql = row + 64 * h, *qh = row + 128 + 32 * h;
            const int8_t *sc = (const int8_t *)(row + 192 + 8 * h);
            __m256i l0 = _mm256_loadu_si256((const __m256i *)ql), l1 = _mm256_loadu_si256((const __m256i *)(ql + 32));
            __m256i hb = _mm256_loadu_si256((const __m256i *)qh);
            for (int k = 0; k < 4; k++) {
                __m256i lo = k % 2 ? l1 : l0;
                lo = _mm256_and_si256(k < 2 ? lo : _mm256_srli_epi16(lo, 4), low4);
                __m256i hi = _mm256_slli_epi16(_mm256_and_si256(_mm256_srli_epi16(hb, 2 * k), low2), 4);
                __m256i w = _mm256_sub_epi8(_mm256_or_si256(lo, hi), bias); // -32..31
                // elements 0-15 land in the low 128 bits of the 16-bit pair sums, 16-31 in the high
                __m256i scales = _mm256_set_m128i(_mm_set1_epi16(sc[2 * k + 1]), _mm_set1_epi16(sc[2 * k]));
#pragma GCC unroll 4
                for (int t = 0; t < NT; t++) {
                    const Q8Block *x = xq + t * xs + 8 * b + 4 * h + k;
                    __m256i xv = _mm256_loadu_si256((const __m256i *)x->q);
                    __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(xv, w));
                    __m256 p = _mm256_cvtepi32_ps(_mm256_madd_epi16(p16, scales));
                    acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * x->d), p, acc[t]);
                }
            }
        }
    }
    for (int t = 0; t < NT; t++) out[t] = hsum8(acc[t]);
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
QMAT_TILE(tile_q5_0, dot_q5_0_avx2)
QMAT_TILE(tile_q5_1, dot_q5_1_avx2)
QMAT_TILE(tile_q4_k, dot_q4_k_avx2)
QMAT_TILE(tile_q6_k, dot_q6_k_avx2)
#undef QMAT_TILE
#endif

void qdot_q8(float *out, const uint8_t *row, uint32_t type, const Q8Block *xq, size_t x_stride, int n, int nt) {
#ifdef QMAT_AVX2
    int nb = n / 32;
    switch (type) {
    case GGML_Q4_0: tile_q4_0(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q4_1: tile_q4_1(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q8_0: tile_q8_0(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q5_0: tile_q5_0(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q5_1: tile_q5_1(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q4_K: tile_q4_k(out, row, xq, x_stride, nb, nt); return;
    case GGML_Q6_K: tile_q6_k(out, row, xq, x_stride, nb, nt); return;
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
QMAT_ROWS(rows_q5_0, tile_q5_0(r, row, x, nb, (int)nb, nt))
QMAT_ROWS(rows_q5_1, tile_q5_1(r, row, x, nb, (int)nb, nt))
QMAT_ROWS(rows_q4_k, tile_q4_k(r, row, x, nb, (int)nb, nt))
QMAT_ROWS(rows_q6_k, tile_q6_k(r, row, x, nb, (int)nb, nt))
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
    else if (w.type == GGML_Q5_0) rows = rows_q5_0;
    else if (w.type == GGML_Q5_1) rows = rows_q5_1;
    else if (w.type == GGML_Q4_K) rows = rows_q4_k;
    else if (w.type == GGML_Q6_K) rows = rows_q6_k;
#endif
    // Parallel over rows. A prefill hands out 8 chunks a thread as threads come free: a thread
    // whose core is shared with other work does fewer chunks instead of the others waiting for
    // its fixed share at the barrier (a fixed split cost a third of our 2-thread prefill beside
    // one busy job). A decode step is too short for that to pay: one chunk a thread.
    int n_chunks = (T >= 8 ? 8 : 1) * omp_get_max_threads(), chunk = (O + n_chunks - 1) / n_chunks;
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = 0; c < n_chunks; c++) {
        int o0 = c * chunk, o1 = o0 + chunk < O ? o0 + chunk : O;
        if (o0 < o1) rows(out, w.data, rb, bias, xq, nb, w.type, T, O, o0, o1);
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

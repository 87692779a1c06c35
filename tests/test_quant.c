// Quantized weights kept quantized (ref_cpu/qmatmul.c): each type's fused dot products against
// the load-time path (dequantize() to fp32, then a dot in double precision), with bounds
// derived by hand; the SIMD kernels against the portable ones; token tiles against single
// tokens (bit for bit); and the whole model with --weights native against fp32.
#include "forward.h"
#include "ops.h"
#include "qmatmul.h"
#include "testutil.h"

#include <stdint.h>

static uint32_t rng = 12345;
static uint32_t rnd(void) {
    rng = rng * 1664525u + 1013904223u;
    return rng >> 8;
}
static float frand(void) { return (float)rnd() / (float)(1u << 24) * 2.0f - 1.0f; } // [-1, 1)

// A random fp16 in +-[2^-6, 2^0): the range of real block scales, never inf or nan.
static void put_f16(uint8_t *p, int allow_negative) {
    uint16_t h = (uint16_t)(((9 + rnd() % 6) << 10) | (rnd() & 0x3ff));
    if (allow_negative && rnd() % 2) h |= 0x8000;
    p[0] = (uint8_t)h, p[1] = (uint8_t)(h >> 8);
}

static const uint32_t TYPES[] = {GGML_Q4_0, GGML_Q4_1, GGML_Q8_0, GGML_Q4_K, GGML_Q6_K, GGML_Q5_0, GGML_Q5_1};
enum { N_TYPES = 7 };

// rows of n elements of `type`: random bytes, with every fp16 scale a sane value
static uint8_t *random_rows(uint32_t type, int rows, int n) {
    size_t rb = qmat_row_bytes(type, n), ts = ggml_type_size(type);
    uint8_t *w = malloc(rb * rows);
    for (size_t i = 0; i < rb * rows; i++) w[i] = (uint8_t)rnd();
    for (uint8_t *b = w; b < w + rb * rows; b += ts) {
        switch (type) {
        case GGML_Q4_0: case GGML_Q8_0: put_f16(b, 1); break;
        case GGML_Q4_1: case GGML_Q5_1: put_f16(b, 1), put_f16(b + 2, 1); break;
        case GGML_Q5_0: put_f16(b, 1); break;
        case GGML_Q4_K: put_f16(b, 0), put_f16(b + 2, 0); break;
        case GGML_Q6_K: put_f16(b + 208, 1); break;
        }
    }
    return w;
}

static float *random_x(int n, float scale) {
    float *x = malloc(n * sizeof(float));
    for (int i = 0; i < n; i++) x[i] = frand() * scale * (i % 7 == 0 ? 4.0f : 1.0f); // some outliers per block
    return x;
}

// The independent reference: dequantize() (the load-time path, itself checked against llama.cpp's
// files in test_formats) and a dot product in double precision. Also returns sum |w_i x_i|.
static double ref_dot(const uint8_t *row, uint32_t type, const float *x, int n, double *abs_sum, float *wbuf) {
    dequantize(wbuf, row, type, n);
    double s = 0, a = 0;
    for (int i = 0; i < n; i++) s += (double)wbuf[i] * x[i], a += fabs((double)wbuf[i] * x[i]);
    *abs_sum = a;
    return s;
}

// The limit for the 8-bit path, derived by hand. Quantising x to q*d moves each x_i by at most
// d/2 (d of its block), so the exact sum moves by at most E = sum_i |w_i| d_b(i) / 2. The integer
// part of each block is exact; what is left is float rounding: a few float operations per block,
// each off by at most 2^-24 of a partial sum bounded by sum |w_i| (|x_i| + d/2). So the limit is
// E + (4 * blocks + 16) * 2^-24 * that sum.
static double q8_limit(const float *w, const float *x, const Q8Block *xq, int n) {
    double e = 0, mag = 0;
    for (int i = 0; i < n; i++) {
        double half = xq[i / 32].d / 2.0;
        e += fabs(w[i]) * half;
        mag += fabs(w[i]) * (fabs(x[i]) + half);
    }
    return e + (4.0 * (n / 32) + 16) * ldexp(1.0, -24) * mag;
}

// The fast quantiser (AVX2 where built) against the plain one: the same bytes, including
// halves that round to even, zero blocks, and values that clamp.
START_TEST(quantize_fast_equals_portable) {
    int n = 32 * 64;
    float *x = random_x(n, 5.0f);
    for (int i = 0; i < 32; i++) x[i] = 0;                  // a zero block
    for (int i = 32; i < 64; i++) x[i] = (float)(i - 48) * 0.5f; // 127 * k / 16 steps: many exact halves
    x[64] = 127.0f, x[65] = -127.0f, x[66] = 63.5f, x[67] = -0.5f;
    Q8Block *a = malloc((size_t)n / 32 * sizeof(Q8Block)), *b = malloc((size_t)n / 32 * sizeof(Q8Block));
    quantize_q8_blocks(a, x, n);
    quantize_q8_blocks_portable(b, x, n);
    for (int k = 0; k < n / 32; k++) {
        ck_assert_msg(memcmp(a[k].q, b[k].q, 32) == 0, "block %d: quantized values differ", k);
        ck_assert_msg(a[k].d == b[k].d && a[k].s == b[k].s, "block %d: d %g/%g s %g/%g", k, a[k].d, b[k].d, a[k].s, b[k].s);
    }
    free(a), free(b), free(x);
}
END_TEST

START_TEST(quantize_q8_blocks_bounds) {
    int n = 256;
    float *x = random_x(n, 3.0f);
    x[40] = 0; // a zero block must stay zero, not divide by zero
    for (int i = 64; i < 96; i++) x[i] = 0;
    Q8Block xq[8];
    quantize_q8_blocks(xq, x, n);
    for (int b = 0; b < n / 32; b++) {
        float amax = 0;
        int sum = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[32 * b + i]));
        ck_assert(fabsf(xq[b].d - amax / 127.0f) <= 1e-7f * amax);
        for (int i = 0; i < 32; i++) {
            ck_assert_int_le(abs(xq[b].q[i]), 127);
            ck_assert_msg(fabsf(x[32 * b + i] - xq[b].q[i] * xq[b].d) <= xq[b].d * 0.5f * (1 + 1e-5f),
                          "block %d elem %d: %g vs %d * %g", b, i, x[32 * b + i], xq[b].q[i], xq[b].d);
            sum += xq[b].q[i];
        }
        ck_assert_float_eq_tol(xq[b].s, xq[b].d * sum, 1e-6f * fabsf(xq[b].d * sum) + 1e-12f);
    }
    ck_assert_float_eq(xq[2].d, 0.0f);
    free(x);
}
END_TEST

// Every type, several lengths: the fp32-input dot (teaching) within float rounding of the
// reference; the 8-bit dots (portable and SIMD) within q8_limit; SIMD and portable within the
// rounding part of that limit of each other.
START_TEST(fused_dots_match_reference) {
    const int lengths[] = {256, 576, 1536};
    float wbuf[1536];
    for (int ti = 0; ti < N_TYPES; ti++) {
        uint32_t type = TYPES[ti];
        for (int li = 0; li < 3; li++) {
            int n = lengths[li];
            if (!qmat_supported(type, n)) continue; // 576 is not a multiple of 256
            for (int trial = 0; trial < 20; trial++) {
                uint8_t *row = random_rows(type, 1, n);
                float *x = random_x(n, trial % 2 ? 0.01f : 5.0f);
                Q8Block xq[48];
                quantize_q8_blocks(xq, x, n);
                double abs_sum, ref = ref_dot(row, type, x, n, &abs_sum, wbuf);
                // fp32 input: n float multiply-adds, each off by at most 2^-24 of sum |w x|
                float f = qdot_f32(row, type, x, n);
                ck_assert_msg(fabs(f - ref) <= (n + 2) * ldexp(1.0, -24) * abs_sum, "%s n=%d: f32 dot %.9g vs %.9g",
                              ggml_type_name(type), n, f, ref);
                double lim = q8_limit(wbuf, x, xq, n);
                float fast, port;
                qdot_q8(&fast, row, type, xq, n / 32, n, 1);
                qdot_q8_portable(&port, row, type, xq, n / 32, n, 1);
                ck_assert_msg(fabs(port - ref) <= lim, "%s n=%d: portable q8 dot %.9g vs %.9g (limit %.3g)",
                              ggml_type_name(type), n, port, ref, lim);
                ck_assert_msg(fabs(fast - ref) <= lim, "%s n=%d: q8 dot %.9g vs %.9g (limit %.3g)",
                              ggml_type_name(type), n, fast, ref, lim);
                ck_assert_msg(fabs(fast - port) <= (4.0 * (n / 32) + 16) * ldexp(1.0, -24) * (abs_sum + lim),
                              "%s n=%d: SIMD %.9g vs portable %.9g", ggml_type_name(type), n, fast, port);
                free(row), free(x);
            }
        }
    }
}
END_TEST

// The limit is not vacuous: with the outliers of random_x (max |x| of a block 4x its mean) it is a
// few percent of sum |w x| (the worst case: every rounding error of x adding up the same way).
START_TEST(q8_limit_is_tight) {
    int n = 1536;
    uint8_t *row = random_rows(GGML_Q4_1, 1, n);
    float *x = random_x(n, 1.0f), wbuf[1536];
    Q8Block xq[48];
    quantize_q8_blocks(xq, x, n);
    double abs_sum;
    ref_dot(row, GGML_Q4_1, x, n, &abs_sum, wbuf);
    double lim = q8_limit(wbuf, x, xq, n);
    ck_assert_msg(lim < 0.03 * abs_sum, "limit %.3g vs sum |w x| %.3g", lim, abs_sum);
    free(row), free(x);
}
END_TEST

// A tile of 4 tokens gives each token exactly the numbers it gets alone.
START_TEST(tiles_equal_single_tokens) {
    int n = 512;
    for (int ti = 0; ti < N_TYPES; ti++) {
        uint8_t *row = random_rows(TYPES[ti], 1, n);
        float *x = random_x(4 * n, 1.0f), tile[4], one;
        Q8Block xq[4 * 16];
        quantize_q8_blocks(xq, x, 4 * n);
        qdot_q8(tile, row, TYPES[ti], xq, n / 32, n, 4);
        for (int t = 0; t < 4; t++) {
            qdot_q8(&one, row, TYPES[ti], xq + t * (n / 32), n / 32, n, 1);
            ck_assert_msg(memcmp(&one, &tile[t], sizeof one) == 0, "%s token %d: tile %.9g vs alone %.9g",
                          ggml_type_name(TYPES[ti]), t, tile[t], one);
        }
        free(row), free(x);
    }
}
END_TEST

// The matrix products: every output of a T-token product equals the same row's dot for that
// token alone (bit for bit), and the 8-bit product is within the limit of the fp32-input one.
START_TEST(qmatmul_rows_and_tiles) {
    int O = 37, T = 7; // T: a tile of 4 and a tail of 3
    for (int ti = 0; ti < N_TYPES; ti++) {
        uint32_t type = TYPES[ti];
        int I = ggml_block_size(type) == 256 ? 1536 : 576; // rows of whole blocks
        QMat w = {random_rows(type, O, I), type};
        float *in = random_x(T * I, 1.0f), *bias = random_x(O, 1.0f);
        float *out = malloc(T * O * sizeof(float)), *ref = malloc(T * O * sizeof(float)), one[37];
        Q8Block *xq = malloc(T * (I / 32) * sizeof(Q8Block));
        qmatmul_forward(out, in, w, bias, xq, T, I, O);
        qmatmul_f32_forward(ref, in, w, bias, T, I, O);
        float wbuf[1536];
        for (int t = 0; t < T; t++) {
            qmatmul_forward(one, in + t * I, w, bias, xq, 1, I, O);
            ck_assert_msg(memcmp(one, out + t * O, O * sizeof(float)) == 0, "%s: token %d of a block differs from alone",
                          ggml_type_name(type), t);
            quantize_q8_blocks(xq, in + t * I, I);
            for (int o = 0; o < O; o++) {
                dequantize(wbuf, w.data + o * qmat_row_bytes(type, I), type, I);
                double lim = q8_limit(wbuf, in + t * I, xq, I) + 1e-5 * fabs(ref[t * O + o]);
                ck_assert_msg(fabs(out[t * O + o] - ref[t * O + o]) <= lim, "%s [%d,%d]: %g vs %g", ggml_type_name(type),
                              t, o, out[t * O + o], ref[t * O + o]);
            }
        }
        free((void *)w.data), free(in), free(bias), free(out), free(ref), free(xq);
    }
}
END_TEST

START_TEST(embedding_rows_dequantised) {
    int D = 64, V = 5, toks[3] = {4, 0, 2};
    QMat e = {random_rows(GGML_Q8_0, V, D), GGML_Q8_0};
    float out[3 * 64], want[64];
    embedding_any_forward(out, NULL, e, toks, 3, D);
    for (int t = 0; t < 3; t++) {
        dequantize(want, e.data + toks[t] * qmat_row_bytes(GGML_Q8_0, D), GGML_Q8_0, D);
        ck_assert(memcmp(want, out + t * D, sizeof want) == 0);
    }
    free((void *)e.data);
}
END_TEST


// The fp32 tiled product (prefill) against the simple one: within float rounding (each output
// is a sum of I products in a different order: at most (I + 2) 2^-24 sum |w x| apart), and every
// token of a block bit-identical to the same token alone.
START_TEST(matmul_tiled_matches_simple) {
    int I = 577, O = 29, T = 11; // I not a multiple of 8: the tail; T: two tiles and a tail of 3
    float *w = random_x(O * I, 1.0f), *in = random_x(T * I, 1.0f), *bias = random_x(O, 1.0f);
    float *a = malloc(T * O * sizeof(float)), *b = malloc(T * O * sizeof(float)), one[29];
    matmul_forward(a, in, w, bias, T, I, O);
    matmul_tiled_forward(b, in, w, bias, T, I, O);
    for (int t = 0; t < T; t++) {
        matmul_tiled_forward(one, in + t * I, w, bias, 1, I, O);
        ck_assert_msg(memcmp(one, b + t * O, sizeof one) == 0, "token %d: tile != alone", t);
        for (int o = 0; o < O; o++) {
            double s = fabs(bias[o]);
            for (int i = 0; i < I; i++) s += fabs((double)w[o * I + i] * in[t * I + i]);
            ck_assert_msg(fabs(a[t * O + o] - b[t * O + o]) <= (I + 2) * ldexp(1.0, -24) * s, "[%d,%d] %.9g vs %.9g",
                          t, o, a[t * O + o], b[t * O + o]);
        }
    }
    free(w), free(in), free(bias), free(a), free(b);
}
END_TEST

// ---- the whole model ---------------------------------------------------------------------------

static Model load_kind(const char *path, WeightsKind kind) {
    Model m;
    Error err = {{0}};
    ck_assert_msg(model_load_as(&m, path, kind, &err) == 0, "%s", err.msg);
    return m;
}

static const char *smollm2(void) {
    const char *path = default_model();
    ck_assert_msg(path != NULL, "SINKS_MODEL is not set (run the tests through make)");
    return path;
}

// What native keeps quantized on the default model: every matrix (Q4_1 layers, Q8_0 embedding
// and tied head), and nothing of it in the fp32 arena.
START_TEST(native_keeps_blocks) {
    Model m = load_kind(smollm2(), WEIGHTS_NATIVE), f = load_kind(smollm2(), WEIGHTS_FP32);
    ck_assert(m.w.tok_emb == NULL && m.w.qtok_emb.type == GGML_Q8_0 && m.w.qlm_head.data == m.w.qtok_emb.data);
    for (int l = 0; l < m.cfg.n_layers; l++) {
        const LayerWeights *w = &m.w.layers[l];
        ck_assert(w->wq == NULL && w->qwq.type == GGML_Q4_1 && w->qw_down.type == GGML_Q4_1 && w->attn_norm != NULL);
    }
    ck_assert_uint_eq(m.n_params + m.n_quant, f.n_params); // every weight once, fp32 or quantized
    ck_assert_uint_lt(m.quant_bytes, f.n_params); // under a byte per weight, against 4 for fp32
    model_free(&m);
    model_free(&f);
}
END_TEST

// Native: a block of tokens gives each token the numbers that token-by-token decoding gives.
START_TEST(native_prefill_equals_decode) {
    Model m = load_kind(smollm2(), WEIGHTS_NATIVE);
    int T = 23, V = m.cfg.vocab_size, ids[23];
    for (int i = 0; i < T; i++) ids[i] = (i * 7919 + 13) % V;
    float *whole = forward_all(&m, ids, T, 64), *one = forward_all(&m, ids, T, 1), *five = forward_all(&m, ids, T, 5);
    ck_assert_msg(memcmp(whole, one, (size_t)T * V * sizeof(float)) == 0, "native: prefill != token-by-token decode");
    ck_assert_msg(memcmp(whole, five, (size_t)T * V * sizeof(float)) == 0, "native: blocks of 5 != one block");
    free(whole), free(one), free(five);
    model_free(&m);
}
END_TEST

// The dequantised copy of a native model (what --device cuda uploads) is the fp32 model exactly.
START_TEST(fp32_copy_equals_fp32_load) {
    Model n = load_kind(smollm2(), WEIGHTS_NATIVE), f = load_kind(smollm2(), WEIGHTS_FP32), c;
    Error err = {{0}};
    ck_assert_msg(model_fp32_copy(&c, &n, &err) == 0, "%s", err.msg);
    ck_assert_uint_eq(c.n_params, f.n_params);
    ck_assert(memcmp(c.arena, f.arena, f.n_params * sizeof(float)) == 0);
    model_free(&n), model_free(&f), model_free(&c);
}
END_TEST

// Native against the Hugging Face logits on the same dequantised weights (the fixture
// test_models checks fp32 against at 2e-3). The weights are the same numbers; what differs is
// the input of every product, rounded to 8 bits per block of 32 (an error of up to 1/254 of the
// block's largest value per element), compounded over 30 layers and largest where a block holds
// one of the huge activations of the first tokens. Measured: max |logit diff| 0.5-1.4 on the 5
// positions (the printout); a broken kernel gives 30+ (seen: the Q4_1 min term dropped, the
// nibble halves swapped). The limit, 3.0, is 2x the measured and 10x below a broken kernel; the
// greedy token must agree at every position.
START_TEST(native_close_to_hf) {
    Model m = load_kind(smollm2(), WEIGHTS_NATIVE);
    double worst = smollm2_vs_hf(&m, "native vs HF");
    ck_assert_msg(worst <= 3.0, "native: max |logit - HF| %.3f > 3.0", worst);
    model_free(&m);
}
END_TEST

int main(void) {
    RUN_TESTS("quant", 600, quantize_q8_blocks_bounds, quantize_fast_equals_portable, fused_dots_match_reference, q8_limit_is_tight,
              tiles_equal_single_tokens, qmatmul_rows_and_tiles, embedding_rows_dequantised, matmul_tiled_matches_simple, native_keeps_blocks,
              native_prefill_equals_decode, fp32_copy_equals_fp32_load, native_close_to_hf);
}

// The teaching attention and the exercise checkers (`make exercise-NN`).
// 1. attention_causal_forward, the plain version chapter 4 teaches, equals attention_forward (the
//    sink/window version the model runs) on a dense cache.
// 2. Each checker passes a correct answer, written here independently, and FAILS on the wrong
//    answers readers write: no max subtraction, a forgotten eps, an off-by-one causal mask, a
//    wrong scale, a wrong key/value head, a cache that forgets its sinks.
#include "testutil.h"

#include "../chapters/exercises/checks.h"

static unsigned seed = 11;
static float uniform(float lo, float hi) { return check_uniform(&seed, lo, hi); }

// ---- 1. plain causal attention == sink attention on a dense cache ----------------------------

START_TEST(causal_equals_sink_version_on_dense_cache) {
    static const struct { int T, n_past, H, KV, hd; } shapes[] = {
        {1, 0, 1, 1, 4}, {6, 0, 4, 4, 8}, {1, 17, 9, 3, 64}, {5, 11, 9, 3, 64}, {8, 3, 6, 2, 32},
    };
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        int T = shapes[c].T, P = shapes[c].n_past, H = shapes[c].H, KV = shapes[c].KV, hd = shapes[c].hd, N = P + T;
        size_t nq = (size_t)T * H * hd, nk = (size_t)N * KV * hd, na = (size_t)H * T * N;
        float *q = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4);
        float *o1 = malloc(nq * 4), *o2 = malloc(nq * 4), *a1 = malloc(na * 4), *a2 = malloc(na * 4);
        for (size_t i = 0; i < nq; i++) q[i] = uniform(-2, 2);
        for (size_t i = 0; i < nk; i++) k[i] = uniform(-2, 2), v[i] = uniform(-1, 1);
        attention_causal_forward(o1, a1, q, k, v, T, P, H, KV, hd);
        // sinks 0, window 0 (every earlier slot): the dense cache; capacity N, so att rows match.
        // Then 4 sinks with window 0: the sinks are inside the window, nothing is hidden.
        for (int n_sink = 0; n_sink <= 4; n_sink += 4) {
            for (size_t i = 0; i < na; i++) a2[i] = 0.0f;
            attention_forward(o2, a2, q, q, k, v, T, P, n_sink, 0, H, KV, hd, N);
            // The same float operations in the same order, except that each version's `omp simd`
            // dot product may be vectorised differently: a few ulp of the scores, 1e-6 here.
            ck_assert_msg(max_abs_diff(o1, o2, nq) < 1e-6, "shape %zu, %d sinks: outputs differ by %g", c, n_sink,
                          max_abs_diff(o1, o2, nq));
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++) {
                    // probabilities of the visible keys 0..P+t (the sink version leaves the rest unset)
                    const float *r1 = a1 + ((size_t)h * T + t) * N, *r2 = a2 + ((size_t)h * T + t) * N;
                    ck_assert_msg(max_abs_diff(r1, r2, (size_t)P + t + 1) < 1e-6, "shape %zu: probabilities differ",
                                  c);
                }
        }
        free(q), free(k), free(v), free(o1), free(o2), free(a1), free(a2);
    }
}
END_TEST

// The test above must be able to fail: a causal attention whose mask lets each query see one
// key too few differs from the sink version at once.
START_TEST(causal_comparison_sees_a_wrong_mask) {
    int T = 4, H = 2, hd = 8;
    float q[4 * 2 * 8], k[4 * 2 * 8], v[4 * 2 * 8], o1[64], o2[64], a1[2 * 4 * 4], a2[2 * 4 * 4];
    for (int i = 0; i < 64; i++) q[i] = uniform(-2, 2), k[i] = uniform(-2, 2), v[i] = uniform(-1, 1);
    attention_causal_forward(o1, a1, q, k, v, T, 0, H, H, hd);
    attention_forward(o2, a2, q, q, k, v, T, 0, 0, 2, H, H, hd, T); // window 2: key 0 hidden at t = 3
    ck_assert(max_abs_diff(o1, o2, 64) > 1e-3);
}
END_TEST

// ---- 1b. the tiled attention the model runs == the sink version it is made from --------------

// attention_tiled_forward cuts the visible keys into tiles and merges them by rescaling: equal to
// attention_forward within float rounding (1e-6 on outputs of size ~1 and on probabilities), with
// hidden slots at probability 0; and every token of a block bit-identical to the same token run
// alone (T = 1 at its slot), as decoding and prefill must be. The shapes cross tile boundaries
// (ATT_TILE = 128), put the sink/window border inside a group of 8 keys, hide slots behind the
// window, use head sizes that take the vector path (64) and the plain one (12), and a q_sink
// different from q.
START_TEST(tiled_equals_sink_version) {
    static const struct { int T, n_past, n_sink, window, H, KV, hd; } shapes[] = {
        {1, 0, 4, 0, 9, 3, 64},      {1, 300, 4, 0, 9, 3, 64},   {1, 1100, 4, 1020, 9, 3, 64},
        {37, 280, 4, 200, 9, 3, 64}, {5, 130, 0, 128, 4, 2, 12}, {200, 70, 3, 61, 6, 6, 64},
        {9, 140, 6, 129, 2, 1, 16},  {3, 500, 4, 64, 9, 3, 64},
    };
    for (size_t c = 0; c < sizeof shapes / sizeof *shapes; c++) {
        int T = shapes[c].T, P = shapes[c].n_past, S = shapes[c].n_sink, W = shapes[c].window, H = shapes[c].H;
        int KV = shapes[c].KV, hd = shapes[c].hd, N = P + T;
        size_t nq = (size_t)T * H * hd, nk = (size_t)N * KV * hd, na = (size_t)H * T * N;
        float *q = malloc(nq * 4), *qs = malloc(nq * 4), *k = malloc(nk * 4), *v = malloc(nk * 4);
        float *o1 = malloc(nq * 4), *o2 = malloc(nq * 4), *a1 = malloc(na * 4), *a2 = malloc(na * 4);
        float *o3 = malloc((size_t)H * hd * 4), *a3 = malloc((size_t)H * N * 4);
        float *part = malloc(attention_part_floats(T, N, H, hd) * 4);
        for (size_t i = 0; i < nq; i++) q[i] = uniform(-2, 2), qs[i] = uniform(-2, 2);
        for (size_t i = 0; i < nk; i++) k[i] = uniform(-2, 2), v[i] = uniform(-1, 1);
        attention_forward(o1, a1, q, qs, k, v, T, P, S, W, H, KV, hd, N);
        attention_tiled_forward(o2, a2, part, q, qs, k, v, T, P, S, W, H, KV, hd, N);
        ck_assert_msg(max_abs_diff(o1, o2, nq) < 1e-6, "shape %zu: outputs differ by %g", c, max_abs_diff(o1, o2, nq));
        for (int h = 0; h < H; h++)
            for (int t = 0; t < T; t++)
                for (int j = 0; j <= P + t; j++) {
                    size_t x = ((size_t)h * T + t) * N + j;
                    ck_assert_msg(fabsf(a1[x] - a2[x]) < 1e-6f, "shape %zu head %d token %d slot %d: p %g vs %g", c,
                                  h, t, j, a2[x], a1[x]);
                }
        for (int t = 0; t < T; t += T > 8 ? 7 : 1) { // alone: the same bits
            attention_tiled_forward(o3, a3, part, q + (size_t)t * H * hd, qs + (size_t)t * H * hd, k, v, 1, P + t, S,
                                    W, H, KV, hd, N);
            ck_assert_msg(memcmp(o3, o2 + (size_t)t * H * hd, (size_t)H * hd * 4) == 0, "shape %zu token %d: block != alone",
                          c, t);
        }
        free(q), free(qs), free(k), free(v), free(o1), free(o2), free(a1), free(a2), free(o3), free(a3), free(part);
    }
}
END_TEST

// ---- 2. correct answers, written independently (double precision where it is natural) -------

static void softmax_good(float *x, int n) {
    double m = x[0], s = 0;
    for (int i = 1; i < n; i++) m = fmax(m, x[i]);
    for (int i = 0; i < n; i++) s += exp(x[i] - m);
    for (int i = 0; i < n; i++) x[i] = (float)(exp(x[i] - m) / s);
}
static void softmax_no_max(float *x, int n) { // overflows at 1000, 0/0 at -1000
    float s = 0;
    for (int i = 0; i < n; i++) s += x[i] = expf(x[i]);
    for (int i = 0; i < n; i++) x[i] /= s;
}
static void softmax_min_subtracted(float *x, int n) { // subtracts the wrong extreme
    float m = x[0], s = 0;
    for (int i = 1; i < n; i++) m = fminf(m, x[i]);
    for (int i = 0; i < n; i++) s += x[i] = expf(x[i] - m);
    for (int i = 0; i < n; i++) x[i] /= s;
}

static void rmsnorm_impl(float *out, const float *in, const float *w, int T, int D, float eps, int use_eps,
                         int denom_minus_one, int use_w) {
    for (int t = 0; t < T; t++) {
        double ss = 0;
        for (int i = 0; i < D; i++) ss += (double)in[t * D + i] * in[t * D + i];
        int d = denom_minus_one && D > 1 ? D - 1 : D;
        double r = 1.0 / sqrt(ss / d + (use_eps ? eps : 0));
        for (int i = 0; i < D; i++) out[t * D + i] = (float)(in[t * D + i] * r * (use_w ? w[i] : 1.0f));
    }
}
static void rmsnorm_good(float *o, const float *in, const float *w, int T, int D, float eps) {
    rmsnorm_impl(o, in, w, T, D, eps, 1, 0, 1);
}
static void rmsnorm_no_eps(float *o, const float *in, const float *w, int T, int D, float eps) {
    rmsnorm_impl(o, in, w, T, D, eps, 0, 0, 1);
}
static void rmsnorm_d_minus_1(float *o, const float *in, const float *w, int T, int D, float eps) {
    rmsnorm_impl(o, in, w, T, D, eps, 1, 1, 1);
}
static void rmsnorm_no_weight(float *o, const float *in, const float *w, int T, int D, float eps) {
    rmsnorm_impl(o, in, w, T, D, eps, 1, 0, 0);
}

// Attention with its possible mistakes: `last` is how far a query at p sees (0: p, -1: p - 1,
// +1: p + 1, 99: everything), scale_pow 0.5 is the right 1/sqrt(d), kv_mod maps heads by h % KV.
static void attention_impl(float *out, float *att, const float *q, const float *k, const float *v, int T, int P,
                           int H, int KV, int hd, int last, double scale_pow, int kv_mod) {
    int N = P + T, group = H / KV;
    for (int h = 0; h < H; h++)
        for (int t = 0; t < T; t++) {
            int kvh = kv_mod ? h % KV : h / group, p = P + t;
            int end = last == 99 ? N - 1 : p + last;
            if (end > N - 1) end = N - 1;
            if (end < 0) end = 0;
            double s[512], m = -INFINITY, sum = 0;
            for (int j = 0; j <= end; j++) {
                double d = 0;
                for (int i = 0; i < hd; i++) d += (double)q[(t * H + h) * hd + i] * k[(j * KV + kvh) * hd + i];
                s[j] = d / pow(hd, scale_pow);
                m = fmax(m, s[j]);
            }
            for (int j = 0; j <= end; j++) sum += s[j] = exp(s[j] - m);
            for (int i = 0; i < hd; i++) {
                double o = 0;
                for (int j = 0; j <= end; j++) o += s[j] / sum * v[(j * KV + kvh) * hd + i];
                out[(t * H + h) * hd + i] = (float)o;
            }
            (void)att;
        }
}
#define ATTN(name, last, pw, mod)                                                                             \
    static void name(float *o, float *a, const float *q, const float *k, const float *v, int T, int P, int H,  \
                     int KV, int hd) {                                                                         \
        attention_impl(o, a, q, k, v, T, P, H, KV, hd, last, pw, mod);                                         \
    }
ATTN(attention_good, 0, 0.5, 0)
ATTN(attention_sees_one_less, -1, 0.5, 0)
ATTN(attention_sees_the_next, 1, 0.5, 0)
ATTN(attention_not_causal, 99, 0.5, 0)
ATTN(attention_scale_1_over_d, 0, 1.0, 0)
ATTN(attention_no_scale, 0, 0.0, 0)
ATTN(attention_heads_modulo, 0, 0.5, 1)

static void evict_impl(long *pos, int *len, int S, int W, int keep_sinks, int extra) {
    int keep_last = W + extra, first = keep_sinks ? S : 0;
    if (*len <= first + keep_last) return;
    memmove(pos + first, pos + *len - keep_last, (size_t)keep_last * sizeof *pos);
    *len = first + keep_last;
}
static void evict_good(long *p, int *n, int S, int W) { evict_impl(p, n, S, W, 1, 0); }
static void evict_forgets_sinks(long *p, int *n, int S, int W) { evict_impl(p, n, S, W, 0, 0); }
static void evict_one_too_many(long *p, int *n, int S, int W) { evict_impl(p, n, S, W, 1, -1); }
static void evict_keeps_oldest(long *p, int *n, int S, int W) { // keeps S + W first: a frozen cache
    (void)p;
    if (*n > S + W) *n = S + W;
}

START_TEST(checkers_pass_correct_answers) {
    char msg[512] = "";
    ck_assert_msg(check_softmax(softmax_good, msg, sizeof msg) == 0, "%s", msg);
    ck_assert_msg(check_softmax(softmax_forward, msg, sizeof msg) == 0, "%s", msg);
    ck_assert_msg(check_rmsnorm(rmsnorm_good, msg, sizeof msg) == 0, "%s", msg);
    ck_assert_msg(check_attention(attention_good, msg, sizeof msg) == 0, "%s", msg);
    ck_assert_msg(check_evict(evict_good, msg, sizeof msg) == 0, "%s", msg);
}
END_TEST

#define EXPECT_FAIL(call, substring)                                                                           \
    do {                                                                                                       \
        char msg[512] = "";                                                                                    \
        ck_assert_msg((call) == 1, #call " passed a wrong answer");                                           \
        ck_assert_msg(strstr(msg, substring) != NULL, #call ": message \"%s\" lacks \"%s\"", msg, substring); \
    } while (0)

START_TEST(checkers_fail_wrong_answers) {
    // the message names the case that caught the mistake
    EXPECT_FAIL(check_softmax(softmax_no_max, msg, sizeof msg), "large logits");
    EXPECT_FAIL(check_softmax(softmax_min_subtracted, msg, sizeof msg), "wide range");
    EXPECT_FAIL(check_rmsnorm(rmsnorm_no_eps, msg, sizeof msg), "eps = 0.01");
    EXPECT_FAIL(check_rmsnorm(rmsnorm_d_minus_1, msg, sizeof msg), "rmsnorm");
    EXPECT_FAIL(check_rmsnorm(rmsnorm_no_weight, msg, sizeof msg), "rmsnorm");
    EXPECT_FAIL(check_attention(attention_sees_one_less, msg, sizeof msg), "attention");
    EXPECT_FAIL(check_attention(attention_sees_the_next, msg, sizeof msg), "T = 5, n_past = 0");
    EXPECT_FAIL(check_attention(attention_not_causal, msg, sizeof msg), "attention");
    EXPECT_FAIL(check_attention(attention_scale_1_over_d, msg, sizeof msg), "attention");
    EXPECT_FAIL(check_attention(attention_no_scale, msg, sizeof msg), "attention");
    EXPECT_FAIL(check_attention(attention_heads_modulo, msg, sizeof msg), "kv heads");
    EXPECT_FAIL(check_evict(evict_forgets_sinks, msg, sizeof msg), "S = 2, W = 4, after token 4");
    EXPECT_FAIL(check_evict(evict_one_too_many, msg, sizeof msg), "evict");
    EXPECT_FAIL(check_evict(evict_keeps_oldest, msg, sizeof msg), "evict");
}
END_TEST

int main(void) {
    RUN_TESTS("exercises", 60, causal_equals_sink_version_on_dense_cache, causal_comparison_sees_a_wrong_mask,
              tiled_equals_sink_version,
              checkers_pass_correct_answers, checkers_fail_wrong_answers);
}

// checks.h: the checkers behind `make exercise-NN`. Each takes the reader's function, runs it
// and the ref_cpu function it re-implements on the same random inputs (never all zeros, several
// shapes, plus the hard cases a quick answer gets wrong), and returns 0 when every output
// agrees, or 1 with the first mismatch written into msg. tests/test_exercises.c proves that each
// checker passes a correct answer and fails the usual wrong ones.
#ifndef EXERCISE_CHECKS_H
#define EXERCISE_CHECKS_H

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "kvcache.h"
#include "policy.h"
#include "ops.h"

typedef void (*SoftmaxFn)(float *x, int n);
typedef void (*RmsnormFn)(float *out, const float *in, const float *w, int T, int D, float eps);
typedef void (*AttentionFn)(float *out, float *att, const float *q, const float *k, const float *v, int T,
                            int n_past, int n_heads, int n_kv_heads, int head_dim);
typedef void (*EvictFn)(long *pos, int *len, int n_sink, int window);

// A fixed-seed generator, so that a failure is the same failure on the next run.
static inline float check_uniform(unsigned *state, float lo, float hi) {
    *state = *state * 1664525u + 1013904223u;
    return lo + (hi - lo) * (float)(*state >> 8) / 16777216.0f;
}

static inline int check_fail(char *msg, size_t cap, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, cap, fmt, ap);
    va_end(ap);
    return 1;
}

// |got - want| <= atol + rtol |want|, and no NaN or Inf. Returns the first bad index or -1.
static inline long check_close(const float *got, const float *want, size_t n, float atol, float rtol) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(got[i]) || fabsf(got[i] - want[i]) > atol + rtol * fabsf(want[i])) return (long)i;
    return -1;
}

// ---- exercise-03: softmax and RMSNorm --------------------------------------------------------

static inline int check_softmax(SoftmaxFn fn, char *msg, size_t cap) {
    // Random logits at several lengths, then the cases that need the max subtracted: large logits
    // (expf(1000) is inf without it), very negative ones (expf(-1000) is 0, and 0/0 is NaN),
    // and a range wider than float's exponent (expf(120) is inf: subtract the max, not the min).
    static const struct { const char *name; int n; float lo, hi; } cases[] = {
        {"random, n = 1", 1, -3, 3},           {"random, n = 5", 5, -3, 3},
        {"random, n = 257", 257, -8, 8},       {"large logits near 1000", 64, 990, 1000},
        {"very negative logits near -1000", 64, -1000, -990}, {"a wide range, -60 to 60", 64, -60, 60},
    };
    unsigned seed = 3;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int n = cases[c].n;
        float *x = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
        for (int i = 0; i < n; i++) x[i] = want[i] = check_uniform(&seed, cases[c].lo, cases[c].hi);
        fn(x, n);
        softmax_forward(want, n);
        // float32 exp and a sum of n terms: 1e-6 absolute, 1e-4 relative covers any summation order
        long bad = check_close(x, want, n, 1e-6f, 1e-4f);
        int r = bad < 0 ? 0 : check_fail(msg, cap, "softmax, %s: x[%ld] = %g, expected %g", cases[c].name, bad,
                                         x[bad], want[bad]);
        free(x);
        free(want);
        if (r) return r;
    }
    return 0;
}

static inline int check_rmsnorm(RmsnormFn fn, char *msg, size_t cap) {
    // Small inputs with a large eps make a forgotten eps visible; D = 1 catches n - 1 for n.
    static const struct { int T, D; float scale, eps; } cases[] = {
        {1, 1, 1.0f, 1e-5f}, {3, 8, 1.0f, 1e-5f}, {4, 576, 2.0f, 1e-5f}, {2, 16, 0.01f, 1e-2f},
    };
    unsigned seed = 5;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int T = cases[c].T, D = cases[c].D;
        size_t n = (size_t)T * D;
        float *in = malloc(n * sizeof(float)), *w = malloc(D * sizeof(float));
        float *out = malloc(n * sizeof(float)), *want = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) in[i] = cases[c].scale * check_uniform(&seed, -1, 1);
        for (int i = 0; i < D; i++) w[i] = check_uniform(&seed, 0.5f, 1.5f);
        for (size_t i = 0; i < n; i++) out[i] = NAN; // an element the answer skips shows as NaN
        fn(out, in, w, T, D, cases[c].eps);
        rmsnorm_forward(want, in, w, T, D, cases[c].eps);
        long bad = check_close(out, want, n, 1e-6f, 1e-4f); // a sum of D squares in another order
        int r = bad < 0 ? 0
                        : check_fail(msg, cap, "rmsnorm, T = %d, D = %d, eps = %g: out[%ld] = %g, expected %g", T, D,
                                     (double)cases[c].eps, bad, out[bad], want[bad]);
        free(in);
        free(w);
        free(out);
        free(want);
        if (r) return r;
    }
    return 0;
}

// ---- exercise-04: causal attention over a dense cache ----------------------------------------

static inline int check_attention(AttentionFn fn, char *msg, size_t cap) {
    // Prefill (n_past 0) and decode (T 1) shapes, one key/value head per query head and grouped
    // query heads (SmolLM2 has 9 query heads on 3 key/value heads of 64 dims).
    static const struct { int T, n_past, n_heads, n_kv_heads, head_dim; } cases[] = {
        {1, 0, 1, 1, 4}, {5, 0, 2, 2, 8}, {4, 3, 4, 2, 16}, {1, 20, 9, 3, 64}, {7, 9, 9, 3, 64},
    };
    unsigned seed = 7;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int T = cases[c].T, n_past = cases[c].n_past, H = cases[c].n_heads, KV = cases[c].n_kv_heads;
        int hd = cases[c].head_dim, N = n_past + T;
        size_t nq = (size_t)T * H * hd, nk = (size_t)N * KV * hd, na = (size_t)H * T * N;
        float *q = malloc(nq * sizeof(float)), *k = malloc(nk * sizeof(float)), *v = malloc(nk * sizeof(float));
        float *out = malloc(nq * sizeof(float)), *want = malloc(nq * sizeof(float));
        float *att = malloc(na * sizeof(float)), *att_want = malloc(na * sizeof(float));
        // scores of a few units, so that a wrong scale or a wrong mask changes the output visibly
        for (size_t i = 0; i < nq; i++) q[i] = check_uniform(&seed, -1.5f, 1.5f);
        for (size_t i = 0; i < nk; i++) k[i] = check_uniform(&seed, -1.5f, 1.5f);
        for (size_t i = 0; i < nk; i++) v[i] = check_uniform(&seed, -1, 1);
        for (size_t i = 0; i < nq; i++) out[i] = NAN;
        fn(out, att, q, k, v, T, n_past, H, KV, hd);
        attention_causal_forward(want, att_want, q, k, v, T, n_past, H, KV, hd);
        // sums of head_dim products and of N weighted values, possibly in another order
        long bad = check_close(out, want, nq, 1e-5f, 1e-4f);
        int r = 0;
        if (bad >= 0) {
            long t = bad / ((long)H * hd), h = bad / hd % H, i = bad % hd;
            r = check_fail(msg, cap,
                           "attention, T = %d, n_past = %d, %d heads on %d kv heads of %d dims: out[token %ld, head "
                           "%ld, dim %ld] = %g, expected %g",
                           T, n_past, H, KV, hd, t, h, i, out[bad], want[bad]);
        }
        free(q);
        free(k);
        free(v);
        free(out);
        free(want);
        free(att);
        free(att_want);
        if (r) return r;
    }
    return 0;
}

// ---- exercise-10: which tokens a sink cache keeps ---------------------------------------------

// Streams n tokens one at a time; after each, the reader's function evicts from its own list of
// stream positions, and the real policy (policy.c's evict for sinks, which both devices run)
// from another.
static inline int check_evict(EvictFn fn, char *msg, size_t cap) {
    static const struct { int n_sink, window, n; } cases[] = {{2, 4, 14}, {4, 8, 40}, {1, 1, 6}, {0, 5, 12}};
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        int S = cases[c].n_sink, W = cases[c].window;
        Policy p = {.kind = POLICY_SINKS, .n_sink = S, .window = W};
        long pos[64], real[64];
        int len = 0, real_len = 0, keep[64];
        for (int t = 0; t < cases[c].n; t++) {
            pos[len++] = t; // the new token takes the next slot
            real[real_len++] = t;
            fn(pos, &len, S, W);
            int n = policy_def(POLICY_SINKS)->evict(keep, real, real_len, &p);
            for (int i = 0; i < n; i++) real[i] = real[keep[i]];
            real_len = n;
            int same = len == real_len;
            for (int i = 0; same && i < len; i++) same = pos[i] == real[i];
            if (!same) {
                char got[256] = "", want[256] = "";
                for (int i = 0; i < len && i < 20; i++) snprintf(got + strlen(got), 256 - strlen(got), " %ld", pos[i]);
                for (int i = 0; i < real_len; i++) snprintf(want + strlen(want), 256 - strlen(want), " %ld", real[i]);
                return check_fail(msg, cap, "evict, S = %d, W = %d, after token %d: cache holds%s, expected%s", S, W,
                                  t, got, want);
            }
        }
    }
    return 0;
}

// Prints PASS or FAIL with the first mismatch; the exit status of a `make exercise-NN` run.
static inline int check_report(const char *what, int failed, const char *msg) {
    if (failed)
        printf("FAIL %s: %s\n", what, msg);
    else
        printf("PASS %s\n", what);
    return failed;
}

#endif

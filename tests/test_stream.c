// The StreamingLLM cache: eviction order and positions, agreement with dense attention where
// they must agree, chunked prefill against token-by-token decoding, the recompute baseline, and
// an independent re-rotating sink cache (Hugging Face SinkCache's method) against ours.
#include "stream.h"
#include "testutil.h"

static Model stories(void) {
    Model m;
    Error err = {{0}};
    char path[1024];
    snprintf(path, sizeof path, "%s/models/stories260K/stories260K.bin", shared_dir());
    ck_assert_msg(model_load(&m, path, &err) == 0, "%s", err.msg);
    return m;
}

static int *some_tokens(int n, int V) {
    int *t = malloc(n * sizeof(int));
    for (int i = 0; i < n; i++) t[i] = (i * 97 + 31) % V;
    t[0] = 1;
    return t;
}

// logits[n, V] of feeding tokens under policy p, in blocks of `feed` tokens per call.
static float *run(const Model *m, Policy p, const int *tokens, int n, int feed) {
    Error err = {{0}};
    ck_assert_msg(policy_validate(&p, &m->cfg, 1, &err) == 0, "%s", err.msg);
    Stream s;
    ck_assert_msg(stream_init(&s, m, &p, n, &err) == 0, "%s", err.msg);
    float *out = malloc((size_t)n * m->cfg.vocab_size * sizeof(float));
    for (int i = 0; i < n; i += feed) {
        int k = n - i < feed ? n - i : feed;
        ck_assert_msg(stream_feed(&s, tokens + i, k, out + (size_t)i * m->cfg.vocab_size, 1, &err) == 0, "%s", err.msg);
    }
    stream_free(&s);
    return out;
}

static Policy pol(PolicyKind k, int S, int W, int chunk) { return (Policy){.kind = k, .n_sink = S, .window = W, .chunk = chunk}; }

static int rows_equal(const float *a, const float *b, int row, int V) {
    return memcmp(a + (size_t)row * V, b + (size_t)row * V, V * sizeof(float)) == 0;
}

START_TEST(eviction_order_and_positions) {
    Model m = stories();
    Policy p = pol(POLICY_SINKS, 4, 8, 0);
    Error err = {{0}};
    ck_assert(policy_validate(&p, &m.cfg, 0, &err) == 0);
    Stream s;
    ck_assert(stream_init(&s, &m, &p, 0, &err) == 0);
    int *toks = some_tokens(50, m.cfg.vocab_size), cap = s.capacity;
    float *logits = malloc(m.cfg.vocab_size * sizeof(float));
    int view[64];
    for (int t = 0; t < 50; t++) {
        ck_assert(stream_feed(&s, &toks[t], 1, logits, 0, &err) == 0);
        int want = t + 1 < 12 ? t + 1 : 12;
        ck_assert_int_eq(stream_view(&s, view), want);
        // the first four tokens of the stream, then the most recent ones, in order
        for (int i = 0; i < want; i++) {
            long expect = t + 1 <= 12 || i < 4 ? i : t - (want - 1 - i);
            ck_assert_int_eq(s.pos[view[i]], expect);
        }
        ck_assert_int_le(s.len, 12 + p.chunk); // lazy: at most a block beyond S + W
        ck_assert_int_eq(s.capacity, cap);    // allocated once, never grows
    }
    // the window policy keeps no sinks
    stream_free(&s);
    p = pol(POLICY_WINDOW, 0, 8, 0);
    ck_assert(policy_validate(&p, &m.cfg, 0, &err) == 0);
    ck_assert(stream_init(&s, &m, &p, 0, &err) == 0);
    ck_assert(stream_feed(&s, toks, 30, logits, 0, &err) == 0);
    ck_assert_int_eq(stream_view(&s, view), 8);
    for (int i = 0; i < 8; i++) ck_assert_int_eq(s.pos[view[i]], 22 + i);
    stream_free(&s);
    free(logits);
    free(toks);
    model_free(&m);
}
END_TEST

// While every token still fits, window and sinks ARE dense attention: identical numbers.
START_TEST(equal_to_dense_until_the_cache_fills) {
    Model m = stories();
    int V = m.cfg.vocab_size, n = 40, *toks = some_tokens(n, V);
    float *dense = run(&m, pol(POLICY_DENSE, 0, 0, 0), toks, n, 1);
    float *big = run(&m, pol(POLICY_SINKS, 4, 60, 0), toks, n, 1); // S + W >= stream length
    for (int t = 0; t < n; t++) ck_assert_msg(rows_equal(dense, big, t, V), "sinks 4+60 != dense at %d", t);
    struct { PolicyKind k; int S, W; } cases[] = {{POLICY_WINDOW, 0, 16}, {POLICY_SINKS, 4, 12}};
    for (int c = 0; c < 2; c++) {
        float *x = run(&m, pol(cases[c].k, cases[c].S, cases[c].W, 0), toks, n, 1);
        int full = cases[c].S + cases[c].W; // token `full` still sees all: S + W cached + itself
        for (int t = 0; t <= full; t++) ck_assert_msg(rows_equal(dense, x, t, V), "%s differs at %d", policy_name(cases[c].k), t);
        ck_assert_msg(max_abs_diff(dense + (size_t)(full + 1) * V, x + (size_t)(full + 1) * V, V) > 1e-3,
                      "%s: evicting a token changed nothing", policy_name(cases[c].k));
        free(x);
    }
    // recompute over the last W tokens is dense while the stream is shorter than W
    float *rc = run(&m, pol(POLICY_RECOMPUTE, 0, 24, 0), toks, n, 1);
    for (int t = 0; t < 24; t++) ck_assert_msg(rows_equal(dense, rc, t, V), "recompute != dense at %d", t);
    ck_assert(max_abs_diff(dense + (size_t)24 * V, rc + (size_t)24 * V, V) > 1e-3);
    free(rc);
    free(dense);
    free(big);
    free(toks);
    model_free(&m);
}
END_TEST

// Feeding a long input in blocks gives every token the sinks and its own last W predecessors at
// the positions decoding would give it: the same logits as one token at a time. (Window keys
// sit at other absolute positions in a block, so the rotations round differently: ~1e-6.)
static void check_chunked(const Model *m, Policy p, int n) {
    int V = m->cfg.vocab_size, *toks = some_tokens(n, V);
    Policy one = p;
    one.chunk = 1;
    float *step = run(m, one, toks, n, 1);
    for (int chunk = 2; chunk <= p.window; chunk *= 2) {
        Policy q = p;
        q.chunk = chunk;
        float *blocks = run(m, q, toks, n, n);
        double d = max_abs_diff(step, blocks, (size_t)n * V);
        ck_assert_msg(d <= 1e-4, "%s %d+%d chunk %d: max diff %.3e from token-by-token", policy_name(p.kind), p.n_sink,
                      p.window, chunk, d);
        free(blocks);
        // decoding one token at a time with room for a block: eviction waits until the cache is
        // full, the view hides what it would have dropped, the logits are those of evicting at once
        float *lazy = run(m, q, toks, n, 1);
        d = max_abs_diff(step, lazy, (size_t)n * V);
        ck_assert_msg(d <= 1e-4, "%s %d+%d chunk %d, token by token: max diff %.3e from evicting every token",
                      policy_name(p.kind), p.n_sink, p.window, chunk, d);
        free(lazy);
    }
    free(step);
    free(toks);
}

START_TEST(chunked_prefill_equals_token_by_token) {
    Model m = stories();
    check_chunked(&m, pol(POLICY_SINKS, 4, 16, 0), 90);
    check_chunked(&m, pol(POLICY_WINDOW, 0, 16, 0), 90);
    model_free(&m);
    Error err = {{0}};
    ck_assert(model_load(&m, fixture_path("neox_parallel"), &err) == 0); // partial, half-split rotary
    check_chunked(&m, pol(POLICY_SINKS, 2, 8, 0), 40);
    model_free(&m);
}
END_TEST

// --reference-prefill: one dense pass over the prompt (identical to dense), then the cache is
// cut to S + W and streaming goes on from there.
START_TEST(reference_prefill_is_one_dense_pass) {
    Model m = stories();
    int V = m.cfg.vocab_size, n = 40, *toks = some_tokens(n, V);
    float *dense = run(&m, pol(POLICY_DENSE, 0, 0, 0), toks, n, n);
    Policy p = pol(POLICY_SINKS, 4, 12, 0);
    p.reference_prefill = 1;
    float *ref = run(&m, p, toks, n, n);
    ck_assert(memcmp(dense, ref, (size_t)n * V * sizeof(float)) == 0);
    Error err = {{0}};
    ck_assert(policy_validate(&p, &m.cfg, 0, &err) == 0);
    Stream s;
    ck_assert(stream_init(&s, &m, &p, n, &err) == 0);
    ck_assert(stream_feed(&s, toks, n, ref, 1, &err) == 0);
    ck_assert_int_eq(s.len, 16); // a reference prefill evicts at once
    ck_assert_int_eq(s.pos[4], n - 12);
    stream_free(&s);
    free(dense);
    free(ref);
    free(toks);
    model_free(&m);
}
END_TEST

// ---------------------------------------------------------------------------------------------
// An independent sink cache in the manner of Hugging Face's SinkCache: keys are stored ROTATED
// at their slot, and when the window slides by d slots every surviving window key is rotated
// back by d positions. Written from the definition, in double precision, sharing no code with
// ref_cpu/ beyond the random inputs.

enum { HD = 8, S_SINK = 2, W_WIN = 5, STEPS = 30 };

static void rotate(double *x, double pos, int half_style, double theta) {
    for (int i = 0; i < HD / 2; i++) {
        double ang = pos * pow(theta, -2.0 * i / HD), c = cos(ang), s = sin(ang);
        int a = half_style ? i : 2 * i, b = half_style ? i + HD / 2 : 2 * i + 1;
        double x0 = x[a], x1 = x[b];
        x[a] = x0 * c - x1 * s;
        x[b] = x0 * s + x1 * c;
    }
}

static void check_rerotation(RopeStyle style) {
    Config cfg = {.n_layers = 1, .n_heads = 1, .n_kv_heads = 1, .head_dim = HD, .dim = HD, .rot_dim = HD,
                  .rope_theta = 10000.0f, .rope_style = style};
    Error err = {{0}};
    KVCache c;
    RunState st;
    ck_assert(kvcache_init(&c, &cfg, S_SINK + W_WIN + 1, &err) == 0);
    ck_assert(rope_init(&st.rope, S_SINK + W_WIN + 1, HD, cfg.rope_theta, &err) == 0);
    double rk[S_SINK + W_WIN + 1][HD], rv[S_SINK + W_WIN + 1][HD]; // the reference cache
    int rlen = 0;
    unsigned seed = 7;
    for (int step = 0; step < STEPS; step++) {
        float q[HD], k[HD], v[HD], qr[HD], out[HD], att[S_SINK + W_WIN + 1];
        for (int i = 0; i < HD; i++) {
            q[i] = (float)((seed = seed * 1103515245u + 12345u) >> 8) / (1u << 24) - 0.5f;
            k[i] = (float)((seed = seed * 1103515245u + 12345u) >> 8) / (1u << 24) - 0.5f;
            v[i] = (float)((seed = seed * 1103515245u + 12345u) >> 8) / (1u << 24) - 0.5f;
        }
        // ours: unrotated keys in, rotated at slot positions on demand
        int n = c.len;
        kvcache_store(&c, 0, n, k, v, 1);
        c.len++;
        memcpy(qr, q, sizeof q);
        int pos = n;
        rope_forward(qr, &pos, &st.rope, 1, 1, HD, style);
        const float *krot = kvcache_rotated_keys(&c, 0, n + 1, &st.rope, 1, HD, style);
        attention_forward(out, att, qr, qr, krot, c.v, 1, n, S_SINK, W_WIN, 1, 1, HD, c.capacity);
        if (c.len > S_SINK + W_WIN) { // the sinks and the last W_WIN slots
            int keep[S_SINK + W_WIN];
            for (int j = 0; j < S_SINK + W_WIN; j++) keep[j] = j < S_SINK ? j : c.len - (S_SINK + W_WIN) + j;
            kvcache_keep(&c, keep, S_SINK + W_WIN);
        }
        // the reference: rotate the new key at its slot, attend, then evict and re-rotate
        double qd[HD], sc[S_SINK + W_WIN + 1], mx = -1e300, sum = 0, o[HD] = {0};
        for (int i = 0; i < HD; i++) rk[rlen][i] = k[i], rv[rlen][i] = v[i], qd[i] = q[i];
        rotate(rk[rlen], rlen, style == ROPE_HALF, cfg.rope_theta);
        rotate(qd, rlen, style == ROPE_HALF, cfg.rope_theta);
        rlen++;
        for (int j = 0; j < rlen; j++) {
            sc[j] = 0;
            for (int i = 0; i < HD; i++) sc[j] += qd[i] * rk[j][i];
            sc[j] /= sqrt((double)HD);
            mx = sc[j] > mx ? sc[j] : mx;
        }
        for (int j = 0; j < rlen; j++) sum += sc[j] = exp(sc[j] - mx);
        for (int j = 0; j < rlen; j++)
            for (int i = 0; i < HD; i++) o[i] += sc[j] / sum * rv[j][i];
        for (int i = 0; i < HD; i++)
            ck_assert_msg(fabs(o[i] - out[i]) <= 1e-5, "step %d dim %d: %.7f vs re-rotating cache %.7f", step, i, out[i], o[i]);
        if (rlen > S_SINK + W_WIN) { // drop the oldest window key, shift and re-rotate the rest by -1
            for (int j = S_SINK; j + 1 < rlen; j++) {
                memcpy(rk[j], rk[j + 1], sizeof rk[j]);
                memcpy(rv[j], rv[j + 1], sizeof rv[j]);
                rotate(rk[j], -1.0, style == ROPE_HALF, cfg.rope_theta);
            }
            rlen--;
        }
    }
    rope_free(&st.rope);
    kvcache_free(&c);
}

START_TEST(pre_rotary_cache_equals_rerotating_cache) {
    check_rerotation(ROPE_HALF);
    check_rerotation(ROPE_INTERLEAVED);
}
END_TEST

START_TEST(impossible_sizes_rejected) {
    Model m = stories(); // trained context 512
    Error err = {{0}};
    Policy p = pol(POLICY_SINKS, 4, 600, 0);
    ck_assert(policy_validate(&p, &m.cfg, 0, &err) != 0);
    ck_assert_ptr_nonnull(strstr(err.msg, "exceeds the model's trained context of 512"));
    ck_assert(policy_validate(&p, &m.cfg, 1, &err) == 0); // --force
    p = pol(POLICY_SINKS, 4, 0, 0);
    ck_assert(policy_validate(&p, &m.cfg, 0, &err) != 0 && strstr(err.msg, "--window"));
    p = pol(POLICY_SINKS, -1, 10, 0);
    ck_assert(policy_validate(&p, &m.cfg, 0, &err) != 0 && strstr(err.msg, "--sinks"));
    p = pol(POLICY_WINDOW, 0, 10, 20);
    ck_assert(policy_validate(&p, &m.cfg, 0, &err) != 0 && strstr(err.msg, "--chunk"));
    PolicyKind k;
    ck_assert(policy_parse(&k, "lru", &err) != 0 && strstr(err.msg, "'lru'"));
    model_free(&m);
}
END_TEST

// A scattered keep moves every surviving row of every layer down, in order, and only those.
START_TEST(scattered_keep_moves_the_right_rows) {
    Config cfg = {.n_layers = 2, .n_kv_heads = 1, .head_dim = 3};
    Error err = {{0}};
    KVCache c;
    ck_assert(kvcache_init(&c, &cfg, 10, &err) == 0);
    float k[10 * 3], v[10 * 3];
    for (int l = 0; l < 2; l++) {
        for (int i = 0; i < 30; i++) k[i] = 1000 * l + i, v[i] = -(1000 * l + i);
        kvcache_store(&c, l, 0, k, v, 10);
    }
    c.len = 10;
    int keep[5] = {0, 1, 4, 7, 8};
    kvcache_keep(&c, keep, 5);
    ck_assert_int_eq(c.len, 5);
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < 5; i++)
            for (int d = 0; d < 3; d++) {
                ck_assert_float_eq(c.k[(l * 10 + i) * 3 + d], 1000 * l + keep[i] * 3 + d);
                ck_assert_float_eq(c.v[(l * 10 + i) * 3 + d], -(1000 * l + keep[i] * 3 + d));
            }
    kvcache_free(&c);
}
END_TEST

// Sinks + stride, worked by hand: S = 2, W = 8 (4 dense, 4 on the stride), K = 3, 40 tokens.
// The sinks 0 1; the newest 4, 36-39; the 4 newest multiples of 3 before them, 24-33. Fed one
// token at a time or in blocks of 4, the cache ends the same. K = 1 keeps what sinks keeps (the
// same logits, to the rounding of rotations at other slots).
START_TEST(strided_keeps_sinks_stride_and_recent) {
    Model m = stories();
    Error err = {{0}};
    int *toks = some_tokens(40, m.cfg.vocab_size);
    long want[10] = {0, 1, 24, 27, 30, 33, 36, 37, 38, 39};
    for (int chunk = 1; chunk <= 4; chunk += 3) {
        Policy p = pol(POLICY_STRIDED, 2, 8, chunk);
        p.stride = 3;
        ck_assert(policy_validate(&p, &m.cfg, 0, &err) == 0);
        Stream s;
        ck_assert(stream_init(&s, &m, &p, 0, &err) == 0);
        float *logits = malloc((size_t)40 * m.cfg.vocab_size * sizeof(float));
        ck_assert(stream_feed(&s, toks, 40, logits, 1, &err) == 0);
        ck_assert_int_eq(s.len, 10);
        for (int i = 0; i < 10; i++) ck_assert_msg(s.pos[i] == want[i], "chunk %d slot %d: position %ld, want %ld", chunk, i, s.pos[i], want[i]);
        free(logits);
        stream_free(&s);
    }
    Policy k1 = pol(POLICY_STRIDED, 4, 12, 0), sinks = pol(POLICY_SINKS, 4, 12, 0);
    k1.stride = 1;
    float *a = run(&m, k1, toks, 40, 1), *b = run(&m, sinks, toks, 40, 1);
    // sinks evicts lazily, strided at once: keys sit at other slots, rotations round apart (~1e-6)
    double d = max_abs_diff(a, b, (size_t)40 * m.cfg.vocab_size);
    ck_assert_msg(d <= 1e-4, "strided K = 1 vs sinks: max diff %.3e", d);
    free(a), free(b), free(toks);
    model_free(&m);
}
END_TEST

int main(void) {
    RUN_TESTS("stream", 600,
              eviction_order_and_positions,
              equal_to_dense_until_the_cache_fills,
              chunked_prefill_equals_token_by_token,
              reference_prefill_is_one_dense_pass,
              pre_rotary_cache_equals_rerotating_cache,
              impossible_sizes_rejected,
              scattered_keep_moves_the_right_rows,
              strided_keeps_sinks_stride_and_recent);
}

// test_train.c: the training code against independent references.
//   - every parameter's gradient against central finite differences, in double precision,
//     for each attention kind (softmax, softmax-off-by-one, sigmoid);
//   - loss, gradients and two AdamW steps against PyTorch (tests/fixtures/train_tiny*,
//     written by tools/fixtures/make_train_fixture.py);
//   - a fixed run's loss curve and weights, bit for bit, twice on one thread and on two;
//   - a checkpoint's logits through the inference forward (model_load_hf + model_forward)
//     equal the training forward's;
//   - the Bigram-Backcopy generator follows its rule.
#include <omp.h>
#include <unistd.h>

#include "bbc_task.h"
#include "checkpoint.h"
#include "forward.h"
#include "stream.h"
#include "testutil.h"
#include "train.h"
#include "trainstream.h"
#include "../chapters/exercises/checks_train.h"

static TrainConfig tiny_config(AttnKind kind) {
    TrainConfig c = {7, 8, 10, 2, 2, 5, 10000.0f, 1e-5f, kind};
    return c;
}

// Random weights far from the initial point (norm gains near, not at, 1), so that every
// nonlinearity is exercised and attention is far from uniform.
static void randomize(TrainModel *m, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    for (int i = 0; i < m->n_tensors; i++) {
        const TensorInfo *t = &m->tensors[i];
        for (size_t j = 0; j < t->n; j++)
            m->params[t->offset + j] = t->rows ? 0.5 * rng_normal(&r) : 1.0 + 0.2 * rng_normal(&r);
    }
}

// Central differences, h = 1e-5 in double: truncation error ~h^2 |f'''| ~ 1e-10, rounding
// ~1e-16 |L| / h ~ 1e-11. Allowed: 1e-8 + 1e-6 |g|, orders of magnitude above both and far
// below what a wrong term in a backward formula changes (>= 1e-3 relative here).
static void check_gradients(AttnKind kind) {
    Error err = {{0}};
    TrainConfig c = tiny_config(kind);
    TrainModel m;
    ck_assert_msg(train_init(&m, &c, 2, 5, &err) == 0, "%s", err.msg);
    randomize(&m, 42 + kind);
    int tokens[10] = {0, 3, 1, 6, 2, 0, 5, 5, 4, 1};
    int targets[10] = {3, 1, 6, -1, 4, 5, 5, 4, 1, 2};
    train_forward(&m, tokens, targets, 2, 5);
    train_backward(&m);
    real *an = malloc(m.n_params * sizeof(real));
    memcpy(an, m.grads, m.n_params * sizeof(real));
    const real h = 1e-5;
    int bad = 0;
    for (int ti = 0; ti < m.n_tensors; ti++) {
        const TensorInfo *t = &m.tensors[ti];
        double worst = 0;
        for (size_t j = 0; j < t->n; j++) {
            size_t i = t->offset + j;
            real keep = m.params[i];
            m.params[i] = keep + h;
            real lp = train_forward(&m, tokens, targets, 2, 5);
            m.params[i] = keep - h;
            real lm = train_forward(&m, tokens, targets, 2, 5);
            m.params[i] = keep;
            real fd = (lp - lm) / (2 * h), diff = fabs(fd - an[i]);
            if (diff > 1e-8 + 1e-6 * fabs(fd)) {
                if (bad++ < 5)
                    fprintf(stderr, "%s %s[%zu]: analytic %.10g, finite differences %.10g\n", attn_kind_name(kind),
                            t->name, j, an[i], fd);
            }
            worst = diff > worst ? diff : worst;
        }
        ck_assert_msg(worst < 1e-3 || bad, "unreachable");
    }
    ck_assert_msg(bad == 0, "%s attention: %d gradients differ from finite differences", attn_kind_name(kind), bad);
    free(an);
    train_free(&m);
}

START_TEST(gradients_softmax) { check_gradients(ATTN_SOFTMAX); }
END_TEST
START_TEST(gradients_softmax1) { check_gradients(ATTN_SOFTMAX1); }
END_TEST
START_TEST(gradients_sigmoid) { check_gradients(ATTN_SIGMOID); }
END_TEST

static real *read_f64(const char *name, size_t n) {
    size_t nf;
    float *raw = read_f32(fixture_path(name), &nf); // bytes; reinterpret as doubles
    ck_assert_msg(nf * 4 == n * sizeof(real), "%s: %zu bytes, expected %zu", name, nf * 4, n * sizeof(real));
    real *x = malloc(n * sizeof(real));
    memcpy(x, raw, n * sizeof(real));
    free(raw);
    return x;
}

static double jnum(const cJSON *j, const char *k) {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(j, k);
    ck_assert_msg(cJSON_IsNumber(n), "fixture: missing %s", k);
    return n->valuedouble;
}

static int *jints(const cJSON *j, const char *k, int n) {
    const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, k);
    ck_assert_msg(cJSON_GetArraySize(a) == n, "fixture: %s has the wrong length", k);
    int *x = malloc(n * sizeof(int));
    for (int i = 0; i < n; i++) x[i] = cJSON_GetArrayItem(a, i)->valueint;
    return x;
}

// Largest |a - b| / (atol + rtol |b|); <= 1 passes.
static double worst_ratio(const real *a, const real *b, size_t n, double atol, double rtol, size_t *where) {
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double r = fabs(a[i] - b[i]) / (atol + rtol * fabs(b[i]));
        if (!(r <= w)) w = r, *where = i;
    }
    return w;
}

// Both sides compute in float64 with the same formulas in different orders: agreement to ~1e-15
// relative is expected; 1e-10 leaves room and still catches any wrong term (>= 1e-4).
START_TEST(matches_pytorch) {
    Error err = {{0}};
    cJSON *j = read_json(fixture_path("train_tiny.json"));
    TrainConfig c = {(int)jnum(j, "vocab_size"), (int)jnum(j, "dim"), (int)jnum(j, "hidden_dim"),
                     (int)jnum(j, "n_layers"), (int)jnum(j, "n_heads"), (int)jnum(j, "seq_len"),
                     (float)jnum(j, "rope_theta"), (float)jnum(j, "norm_eps"), ATTN_SOFTMAX};
    int B = (int)jnum(j, "batch"), T = c.seq_len;
    TrainModel m;
    ck_assert_msg(train_init(&m, &c, B, T, &err) == 0, "%s", err.msg);
    real *p0 = read_f64("train_tiny_params.f64", m.n_params), *g = read_f64("train_tiny_grads.f64", m.n_params);
    real *s1 = read_f64("train_tiny_step1.f64", m.n_params), *s2 = read_f64("train_tiny_step2.f64", m.n_params);
    memcpy(m.params, p0, m.n_params * sizeof(real));
    int *tokens = jints(j, "tokens", B * T), *targets = jints(j, "targets", B * T);
    OptimConfig o = {OPTIM_ADAMW, (float)jnum(j, "lr"), (float)jnum(j, "beta1"), (float)jnum(j, "beta2"),
                     (float)jnum(j, "eps"), (float)jnum(j, "weight_decay"), 0};
    // the fixture's constants are exact in float, so both sides use the same numbers
    ck_assert(o.lr == jnum(j, "lr") && o.beta2 == jnum(j, "beta2") && c.norm_eps == jnum(j, "norm_eps"));
    real loss = train_forward(&m, tokens, targets, B, T);
    ck_assert_msg(fabs(loss - jnum(j, "loss")) < 1e-12, "loss %.15g, PyTorch %.15g", loss, jnum(j, "loss"));
    train_backward(&m);
    size_t at = 0;
    double w = worst_ratio(m.grads, g, m.n_params, 1e-14, 1e-10, &at);
    ck_assert_msg(w <= 1, "gradient %zu: %.15g, PyTorch %.15g", at, m.grads[at], g[at]);
    // the parameters move by ~lr = 0.008 per step; allowed: 1e-13 absolute
    optim_step(&m, &o, o.lr);
    w = worst_ratio(m.params, s1, m.n_params, 1e-13, 0, &at);
    ck_assert_msg(w <= 1, "after one AdamW step, parameter %zu: %.15g, PyTorch %.15g", at, m.params[at], s1[at]);
    train_forward(&m, tokens, targets, B, T);
    train_backward(&m);
    optim_step(&m, &o, o.lr);
    w = worst_ratio(m.params, s2, m.n_params, 1e-13, 0, &at);
    ck_assert_msg(w <= 1, "after two AdamW steps, parameter %zu: %.15g, PyTorch %.15g", at, m.params[at], s2[at]);
    free(p0); free(g); free(s1); free(s2); free(tokens); free(targets);
    cJSON_Delete(j);
    train_free(&m);
}
END_TEST

// A fixed run: 12 AdamW steps on Bigram-Backcopy batches, big enough (4 x 32 tokens, width 32)
// that the ops run on every thread. Returns the losses and final weights.
#define RUN_V 16
#define RUN_D 32
#define RUN_F 64
#define RUN_B 4
#define RUN_T 32
static void fixed_run(real *losses, real *weights, size_t n_params, int threads) {
    Error err = {{0}};
    omp_set_num_threads(threads);
    TrainConfig c = {RUN_V, RUN_D, RUN_F, 2, 2, RUN_T, 10000.0f, 1e-5f, ATTN_SOFTMAX};
    TrainModel m;
    BbcTask task;
    ck_assert_msg(train_init(&m, &c, RUN_B, RUN_T, &err) == 0 && bbc_init(&task, RUN_V, 2, 7, &err) == 0, "%s",
                  err.msg);
    ck_assert(m.n_params == n_params);
    train_init_weights(&m, 99);
    Rng r;
    rng_seed(&r, 5);
    OptimConfig o = {OPTIM_ADAMW, 1e-2f, 0.9f, 0.95f, 1e-8f, 0.1f, 1.0f};
    int seq[RUN_T + 1], tok[RUN_B * RUN_T], tgt[RUN_B * RUN_T];
    for (int s = 0; s < 12; s++) {
        for (int b = 0; b < RUN_B; b++) {
            bbc_sample(&task, &r, seq, RUN_T + 1);
            for (int t = 0; t < RUN_T; t++) tok[b * RUN_T + t] = seq[t], tgt[b * RUN_T + t] = seq[t + 1];
        }
        losses[s] = train_forward(&m, tok, tgt, RUN_B, RUN_T);
        train_backward(&m);
        optim_step(&m, &o, o.lr);
    }
    memcpy(weights, m.params, n_params * sizeof(real));
    bbc_free(&task);
    train_free(&m);
}

START_TEST(loss_curve_is_reproducible) {
    size_t n = RUN_V * RUN_D + 2 * (2 * RUN_D + 4 * RUN_D * RUN_D + 3 * RUN_F * RUN_D) + RUN_D;
    real l1[12], l2[12], l3[12], *w1 = malloc(n * sizeof(real)), *w2 = malloc(n * sizeof(real)),
                                 *w3 = malloc(n * sizeof(real));
    fixed_run(l1, w1, n, 1);
    fixed_run(l2, w2, n, 1);
    fixed_run(l3, w3, n, 2);
    ck_assert_msg(l1[11] < l1[0] - 0.1, "the loss did not fall: %g -> %g", l1[0], l1[11]);
    ck_assert_msg(memcmp(l1, l2, sizeof l1) == 0 && memcmp(w1, w2, n * sizeof(real)) == 0,
                  "two runs on one thread differ");
    // every reduction is summed by one thread in a fixed order, so two threads agree too
    ck_assert_msg(memcmp(l1, l3, sizeof l1) == 0 && memcmp(w1, w3, n * sizeof(real)) == 0,
                  "one thread and two threads differ");
    free(w1); free(w2); free(w3);
}
END_TEST

// log p(v) from logits z[V], in double precision.
static double logprob(const float *z, int V, int v) {
    double max = z[0], sum = 0;
    for (int i = 1; i < V; i++) max = z[i] > max ? z[i] : max;
    for (int i = 0; i < V; i++) sum += exp(z[i] - max);
    return z[v] - max - log(sum);
}

// Writes m as a checkpoint into a new directory made from dir (a mkdtemp template) and loads it
// back through the inference loader.
static Model checkpoint_roundtrip(const TrainModel *m, char *dir) {
    Error err = {{0}};
    ck_assert(mkdtemp(dir) != NULL);
    ck_assert_msg(checkpoint_write(m, dir, -1, &err) == 0, "%s", err.msg);
    Model hf;
    ck_assert_msg(model_load_hf(&hf, dir, &err) == 0, "%s", err.msg);
    return hf;
}

static void checkpoint_remove(const char *dir) {
    char path[256];
    snprintf(path, sizeof path, "%s/config.json", dir);
    unlink(path);
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    unlink(path);
    rmdir(dir);
}

// The checkpoint through the inference code (load_hf.c, llama.c with its own RMSNorm, rotary
// and attention, in float32) gives the training forward's log-probabilities. The training
// weights are first rounded to float so the only difference is float arithmetic: ~1e-6 on
// log-probabilities of size ~3. Allowed: 1e-4.
START_TEST(checkpoint_runs_in_inference_forward) {
    Error err = {{0}};
    TrainConfig c = {13, 16, 24, 2, 4, 9, 10000.0f, 1e-5f, ATTN_SOFTMAX};
    TrainModel m;
    ck_assert_msg(train_init(&m, &c, 1, 9, &err) == 0, "%s", err.msg);
    randomize(&m, 3);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] = (float)m.params[i];
    int tokens[9] = {0, 4, 12, 7, 7, 1, 3, 9, 2}, targets[9];
    for (int t = 0; t < 9; t++) targets[t] = -1;
    train_forward(&m, tokens, targets, 1, 9);
    char dir[] = "/tmp/sinks_train_ckpt_XXXXXX";
    Model hf = checkpoint_roundtrip(&m, dir);
    ck_assert(hf.cfg.rope_style == ROPE_HALF && hf.cfg.tied_head && hf.cfg.ctx_len == 9);
    KVCache kv;
    RunState s;
    ck_assert_msg(kvcache_init(&kv, &hf.cfg, 9, &err) == 0 && runstate_init(&s, &hf.cfg, 9, 9, &err) == 0, "%s",
                  err.msg);
    float logits[9 * 13];
    ck_assert_msg(model_forward(logits, &hf, &kv, &s, tokens, 9, 1, &err) == 0, "%s", err.msg);
    double worst = 0;
    for (int t = 0; t < 9; t++)
        for (int v = 0; v < 13; v++)
            worst = fmax(worst, fabs(logprob(logits + t * 13, 13, v) - log(m.a.probs[t * 13 + v])));
    ck_assert_msg(worst < 1e-4, "log-probabilities differ by %g", worst);
    // and the round trip back into a TrainModel gives the same weights
    TrainModel back;
    int sink = 0;
    ck_assert_msg(checkpoint_read(&back, dir, 1, 0, &sink, &err) == 0, "%s", err.msg);
    ck_assert(sink == -1 && back.n_params == m.n_params && back.cfg.attn == ATTN_SOFTMAX);
    ck_assert(memcmp(back.params, m.params, m.n_params * sizeof(real)) == 0);
    train_free(&back);
    runstate_free(&s);
    kvcache_free(&kv);
    model_free(&hf);
    checkpoint_remove(dir);
    train_free(&m);
}
END_TEST

// The stream of a softmax model under dense, window and sink caches equals what the inference
// code's Stream (ref_cpu/stream.c) computes from the checkpoint: two independent
// implementations of the policy (one decodes token by token in double, the other feeds blocks
// in float with its own eviction and rotation). Allowed: 1e-4 per token loss.
START_TEST(stream_equals_inference_stream) {
    Error err = {{0}};
    TrainConfig c = {13, 16, 24, 2, 2, 12, 10000.0f, 1e-5f, ATTN_SOFTMAX};
    TrainModel m;
    ck_assert_msg(train_init(&m, &c, 1, 12, &err) == 0, "%s", err.msg);
    randomize(&m, 8);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] = (float)m.params[i];
    char dir[] = "/tmp/sinks_train_stream_XXXXXX";
    Model hf = checkpoint_roundtrip(&m, dir);
    enum { N = 40 };
    int toks[N];
    Rng r;
    rng_seed(&r, 4);
    for (int i = 0; i < N; i++) toks[i] = rng_int(&r, 13);
    struct { PolicyKind kind; int S, W; } cases[] = {{POLICY_SINKS, 2, 5}, {POLICY_WINDOW, 0, 7}, {POLICY_SINKS, 1, 8}, {POLICY_DENSE, 0, 0}};
    for (int ci = 0; ci < 4; ci++) {
        double ours[N], worst = 0;
        ck_assert_msg(train_stream_nll(ours, &m, toks, N, cases[ci].S, cases[ci].kind == POLICY_DENSE ? 0 : cases[ci].W, &err) == 0, "%s", err.msg);
        Policy p = {.kind = cases[ci].kind, .n_sink = cases[ci].S, .window = cases[ci].W};
        ck_assert_msg(policy_validate(&p, &hf.cfg, 1, &err) == 0, "%s", err.msg);
        Stream st;
        ck_assert_msg(stream_init(&st, &hf, &p, N, &err) == 0, "%s", err.msg);
        float *logits = malloc((size_t)N * 13 * sizeof(float));
        ck_assert_msg(stream_feed(&st, toks, N, logits, 1, &err) == 0, "%s", err.msg);
        for (int i = 0; i + 1 < N; i++)
            worst = fmax(worst, fabs(-logprob(logits + (size_t)i * 13, 13, toks[i + 1]) - ours[i]));
        ck_assert_msg(worst < 1e-4, "case %d (%d+%d): token losses differ by %g", ci, cases[ci].S, cases[ci].W, worst);
        free(logits);
        stream_free(&st);
    }
    model_free(&hf);
    checkpoint_remove(dir);
    train_free(&m);
}
END_TEST

START_TEST(bigram_backcopy_rule) {
    Error err = {{0}};
    BbcTask t;
    ck_assert_msg(bbc_init(&t, 32, 3, 11, &err) == 0, "%s", err.msg);
    Rng r;
    rng_seed(&r, 1);
    int seq[400], again[400], n_copies = 0;
    bbc_sample(&t, &r, seq, 400);
    rng_seed(&r, 1);
    bbc_sample(&t, &r, again, 400);
    ck_assert(memcmp(seq, again, sizeof seq) == 0);
    ck_assert(seq[0] == BBC_BOS);
    for (int i = 1; i < 400; i++) {
        ck_assert(seq[i] >= 1 && seq[i] < 32);
        if (i >= 3 && bbc_is_trigger(&t, seq[i - 1])) ck_assert(seq[i] == seq[i - 2]), n_copies++;
    }
    ck_assert_msg(n_copies > 10, "only %d triggers in 400 tokens", n_copies);
    bbc_free(&t);
    BbcTask bad;
    ck_assert(bbc_init(&bad, 3, 1, 1, &err) != 0 && strstr(err.msg, "--vocab"));
    ck_assert(bbc_init(&bad, 8, 6, 1, &err) != 0 && strstr(err.msg, "--triggers"));
}
END_TEST

// The checker of `make exercise-15` passes the right softmax backward and fails the usual
// wrong ones. (The reader's exercise_softmax_backward is not linked here: this file defines it
// as the right answer, which is what the chapter asks for.)
void exercise_softmax_backward(double *ds, const double *p, const double *dp, int n) {
    double sum = 0;
    for (int j = 0; j < n; j++) sum += p[j] * dp[j];
    for (int j = 0; j < n; j++) ds[j] = p[j] * (dp[j] - sum);
}
static void sb_no_sum(double *ds, const double *p, const double *dp, int n) {
    for (int j = 0; j < n; j++) ds[j] = p[j] * dp[j];
}
static void sb_no_p(double *ds, const double *p, const double *dp, int n) {
    double sum = 0;
    for (int j = 0; j < n; j++) sum += p[j] * dp[j];
    for (int j = 0; j < n; j++) ds[j] = dp[j] - sum;
}
static void sb_sigmoid(double *ds, const double *p, const double *dp, int n) {
    for (int j = 0; j < n; j++) ds[j] = dp[j] * p[j] * (1 - p[j]);
}

START_TEST(exercise_checker_catches_wrong_answers) {
    char msg[512];
    ck_assert_msg(check_softmax_backward(exercise_softmax_backward, msg, sizeof msg) == 0, "%s", msg);
    ck_assert(check_softmax_backward(sb_no_sum, msg, sizeof msg) == 1 && strstr(msg, "finite differences"));
    ck_assert(check_softmax_backward(sb_no_p, msg, sizeof msg) == 1);
    ck_assert(check_softmax_backward(sb_sigmoid, msg, sizeof msg) == 1);
}
END_TEST

int main(void) {
    RUN_TESTS("train", 300, gradients_softmax, gradients_softmax1, gradients_sigmoid, matches_pytorch,
              loss_curve_is_reproducible, checkpoint_runs_in_inference_forward, stream_equals_inference_stream,
              bigram_backcopy_rule, exercise_checker_catches_wrong_answers);
}

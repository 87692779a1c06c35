// testutil.h: fixture loading and comparison helpers shared by the Check test programs.
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "mapfile.h"

// logits[T, V] of one forward over ids, in blocks of `block` tokens.
static inline float *forward_all(const Model *m, const int *ids, int T, int block) {
    Error err = {{0}};
    KVCache c;
    RunState s;
    float *out = malloc((size_t)T * m->cfg.vocab_size * sizeof(float));
    ck_assert_msg(kvcache_init(&c, &m->cfg, T + 1, &err) == 0, "%s", err.msg);
    ck_assert_msg(runstate_init(&s, &m->cfg, block, T + 1, &err) == 0, "%s", err.msg);
    ck_assert_msg(model_forward(out, m, &c, &s, ids, T, 1, &err) == 0, "%s", err.msg);
    runstate_free(&s);
    kvcache_free(&c);
    return out;
}

#ifndef FIXTURES
#define FIXTURES "tests/fixtures"
#endif

static inline const char *env_or(const char *name, const char *fallback) {
    const char *v = getenv(name);
    return v && *v ? v : fallback;
}
static inline const char *shared_dir(void) { return env_or("SINKS_SHARED", "../shared"); }
static inline const char *default_model(void) { return getenv("SINKS_MODEL"); }
static inline int sanitized(void) { return getenv("SINKS_SANITIZED") != NULL; }

// Every time limit of the tests comes from here: a figure sized for an idle machine times this
// multiplier. SINKS_TEST_TIME_MULT sets it (e.g. 10 on a slow or crowded machine); by default it
// is 3, and 12 under the sanitizers (SINKS_SANITIZED=1: ASan + UBSan run 3-4x slower, and the
// two cores are shared with other work). Check's own CK_TIMEOUT_MULTIPLIER multiplies on top.
static inline double test_time_mult(void) {
    const char *v = getenv("SINKS_TEST_TIME_MULT");
    double m = v && *v ? atof(v) : 0;
    return m > 0 ? m : sanitized() ? 12 : 3;
}
static inline double time_limit(double idle_seconds) { return idle_seconds * test_time_mult(); }

// dir/name, in one of 8 rotating buffers so that a few paths can be alive at once.
static inline char *path_join(const char *dir, const char *name) {
    static char buf[8][1024];
    static int k;
    char *p = buf[k++ % 8];
    snprintf(p, 1024, "%s/%s", dir, name);
    return p;
}

static inline char *fixture_path(const char *name) { return path_join(FIXTURES, name); }

// Space-separated ints of a .ids fixture; *n gets the count.
static inline int *read_ids(const char *path, int *n) {
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    int cap = 1024, *ids = malloc(cap * sizeof *ids);
    *n = 0;
    while (fscanf(f, "%d", &ids[*n]) == 1)
        if (++*n == cap) ids = realloc(ids, (cap *= 2) * sizeof *ids);
    fclose(f);
    return ids;
}

// A raw little-endian float32 fixture; *n gets the count.
static inline float *read_f32(const char *path, size_t *n) {
    Error err = {{0}};
    MappedFile m;
    ck_assert_msg(mapfile_open(&m, path, &err) == 0, "%s", err.msg);
    *n = m.size / 4;
    float *x = malloc(m.size + 4);
    memcpy(x, m.data, m.size);
    mapfile_close(&m);
    return x;
}

static inline cJSON *read_json(const char *path) {
    Error err = {{0}};
    char *text = read_text_file(path, NULL, &err);
    ck_assert_msg(text != NULL, "%s", err.msg);
    cJSON *j = cJSON_Parse(text);
    free(text);
    ck_assert_msg(j != NULL, "%s: bad JSON", path);
    return j;
}

static inline int *json_ints(const cJSON *arr, int *n) {
    *n = cJSON_GetArraySize(arr);
    int *v = malloc((*n + 1) * sizeof *v);
    for (int i = 0; i < *n; i++) v[i] = cJSON_GetArrayItem(arr, i)->valueint;
    return v;
}

// Largest |a - b| over n values; NaN or Inf in either fails the test at once.
static inline double max_abs_diff(const float *a, const float *b, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_msg(isfinite(a[i]) && isfinite(b[i]), "non-finite value at %zu: %g vs %g", i, a[i], b[i]);
        double d = fabs((double)a[i] - (double)b[i]);
        if (d > m) m = d;
    }
    return m;
}

// SmolLM2 against the Hugging Face fixture (tests/fixtures/smollm2_logits.*: logits at a few
// positions of a prompt, from the same dequantised weights): runs m over the prompt, asserts the
// top token agrees at every position, prints each position's largest |logit - HF| under `label`
// and returns the largest of them.
static inline double smollm2_vs_hf(const Model *m, const char *label) {
    cJSON *j = read_json(fixture_path("smollm2_logits.json"));
    int T, P, V = m->cfg.vocab_size;
    int *ids = json_ints(cJSON_GetObjectItem(j, "ids"), &T);
    int *pos = json_ints(cJSON_GetObjectItem(j, "positions"), &P);
    size_t n;
    float *ref = read_f32(fixture_path("smollm2_logits.f32"), &n);
    ck_assert_uint_eq(n, (size_t)P * V);
    float *out = forward_all(m, ids, T, 64);
    double worst = 0;
    for (int p = 0; p < P; p++) {
        double d = max_abs_diff(out + (size_t)pos[p] * V, ref + (size_t)p * V, V);
        printf("%s: position %3d max |logit - HF| = %.3e\n", label, pos[p], d);
        fflush(stdout);
        worst = d > worst ? d : worst;
        ck_assert_int_eq(argmax(out + (size_t)pos[p] * V, V), argmax(ref + (size_t)p * V, V));
    }
    free(out), free(ref), free(ids), free(pos);
    cJSON_Delete(j);
    return worst;
}

// Runs a shell command and returns everything it printed (malloc'ed); *status as pclose gives it.
static inline char *capture(const char *cmd, int *status) {
    FILE *p = popen(cmd, "r");
    ck_assert_msg(p != NULL, "cannot run %s", cmd);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    while ((n += fread(out + n, 1, cap - n - 1, p)) == cap - 1) out = realloc(out, cap *= 2);
    out[n] = '\0';
    *status = pclose(p);
    return out;
}

// Runs tests[n] as one Check suite; `timeout` is the limit per test in seconds on an idle
// machine, scaled by test_time_mult(); returns the exit code.
static inline int run_tests(const char *name, int timeout, const TTest *const *tests, int n) {
    char def[32]; // any test case made without an explicit limit gets the same scaled one
    snprintf(def, sizeof def, "%d", (int)time_limit(timeout));
    setenv("CK_DEFAULT_TIMEOUT", def, 1);
    Suite *s = suite_create(name);
    TCase *tc = tcase_create(name);
    tcase_set_timeout(tc, time_limit(timeout));
    for (int i = 0; i < n; i++) tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? 1 : 0;
}
#define RUN_TESTS(name, timeout, ...)                                               \
    do {                                                                          \
        const TTest *tests_[] = {__VA_ARGS__};                                    \
        return run_tests(name, timeout, tests_, (int)(sizeof tests_ / sizeof *tests_)); \
    } while (0)

#endif

// Chapter 5: GPT-NeoX models from Hugging Face directories (small random ones, since real
// Pythia weights cannot be downloaded here), each checked against transformers' own logits.
// Pythia's form is the parallel residual; the sequential one is the other GPT-NeoX option.
#include <math.h>
#include <string.h>

#include "common.h"
#include "forward.h"
#include "mapfile.h"

// Loads tests/fixtures/neox_<form>, runs the tokens transformers ran, prints the largest
// difference from transformers' logits.
static int run_fixture(const char *dir, const char *form) {
    char path[1024];
    snprintf(path, sizeof path, "%s/neox_%s", dir, form);
    Model m;
    Error err = {{0}};
    CHECK(model_load(&m, path, &err), err);
    const Config *c = &m.cfg;
    printf("neox_%s: %d layers, dim %d, %d heads of %d dims, rotary on the first %d, %s residual\n", form,
           c->n_layers, c->dim, c->n_heads, c->head_dim, c->rot_dim, c->parallel_residual ? "parallel" : "sequential");
    // The token ids and logits transformers produced for this checkpoint (tests/fixtures).
    snprintf(path, sizeof path, "%s/neox_%s_logits.json", dir, form);
    char *json = read_text_file(path, NULL, &err);
    if (!json) {
        fprintf(stderr, "error: %s\n", err.msg);
        return 1;
    }
    int ids[64], n = 0;
    for (char *p = strstr(json, "\"ids\""); p && (p = strpbrk(p + 1, "0123456789]")) && *p != ']' && n < 64;) {
        ids[n++] = (int)strtol(p, &p, 10);
        p--;
    }
    free(json);
    snprintf(path, sizeof path, "%s/neox_%s_logits.f32", dir, form);
    MappedFile ref;
    CHECK(mapfile_open(&ref, path, &err), err);
    if (ref.size != (size_t)n * c->vocab_size * sizeof(float)) {
        fprintf(stderr, "error: %s: %zu bytes, expected %d x %d floats\n", path, ref.size, n, c->vocab_size);
        return 1;
    }
    KVCache cache;
    RunState st;
    CHECK(kvcache_init(&cache, c, n, &err), err);
    CHECK(runstate_init(&st, c, n, n, &err), err);
    float *logits = malloc((size_t)n * c->vocab_size * sizeof(float));
    CHECK(model_forward(logits, &m, &cache, &st, ids, n, 1, &err), err);
    const float *hf = (const float *)ref.data;
    double worst = 0;
    for (size_t i = 0; i < (size_t)n * c->vocab_size; i++) worst = fmax(worst, fabs(logits[i] - hf[i]));
    printf("  %d tokens: max |our logit - transformers' logit| = %.1e\n", n, worst);
    free(logits);
    mapfile_close(&ref);
    runstate_free(&st);
    kvcache_free(&cache);
    model_free(&m);
    return 0;
}

int main(int argc, char **argv) {
    Opt o[] = {{"--residual", "both", "parallel (Pythia's form), sequential, or both"},
               {"--fixtures", getenv("SINKS_FIXTURES") ? getenv("SINKS_FIXTURES") : "tests/fixtures",
                "the directory with neox_parallel/ and neox_sequential/"}};
    OPTS_PARSE(o, "ch05: GPT-NeoX against transformers' logits");
    const char *form = OPT_STR(o, "--residual"), *dir = OPT_STR(o, "--fixtures");
    int both = strcmp(form, "both") == 0;
    if (!both && strcmp(form, "parallel") != 0 && strcmp(form, "sequential") != 0) {
        fprintf(stderr, "error: --residual %s: expected parallel, sequential or both\n", form);
        return 2;
    }
    int rc = 0;
    if (both || strcmp(form, "parallel") == 0) rc |= run_fixture(dir, "parallel");
    if (both || strcmp(form, "sequential") == 0) rc |= run_fixture(dir, "sequential");
    return rc;
}

// Chapter 5: a GPT-NeoX model from a Hugging Face directory (a small random one, since real
// Pythia weights cannot be downloaded here), checked against transformers' own logits.
#include <math.h>
#include <string.h>

#include "common.h"
#include "forward.h"
#include "mapfile.h"

int main(void) {
    const char *dir = getenv("SINKS_FIXTURES") ? getenv("SINKS_FIXTURES") : "tests/fixtures";
    char path[1024];
    snprintf(path, sizeof path, "%s/neox_sequential", dir);
    Model m;
    Error err = {{0}};
    CHECK(model_load(&m, path, &err), err);
    const Config *c = &m.cfg;
    printf("GPT-NeoX: %d layers, dim %d, %d heads of %d dims, rotary on the first %d, %s residual\n", c->n_layers,
           c->dim, c->n_heads, c->head_dim, c->rot_dim, c->parallel_residual ? "parallel" : "sequential");
    // The token ids and logits transformers produced for this checkpoint (tests/fixtures).
    snprintf(path, sizeof path, "%s/neox_sequential_logits.json", dir);
    char *json = read_text_file(path, NULL, &err);
    if (!json) return 1;
    int ids[64], n = 0;
    for (char *p = strstr(json, "\"ids\""); p && (p = strpbrk(p + 1, "0123456789]")) && *p != ']' && n < 64;) {
        ids[n++] = (int)strtol(p, &p, 10);
        p--;
    }
    free(json);
    snprintf(path, sizeof path, "%s/neox_sequential_logits.f32", dir);
    MappedFile ref;
    CHECK(mapfile_open(&ref, path, &err), err);
    KVCache cache;
    RunState st;
    CHECK(kvcache_init(&cache, c, n, &err), err);
    CHECK(runstate_init(&st, c, n, n, &err), err);
    float *logits = malloc((size_t)n * c->vocab_size * sizeof(float));
    CHECK(model_forward(logits, &m, &cache, &st, ids, n, 1, &err), err);
    const float *hf = (const float *)ref.data;
    double worst = 0;
    for (size_t i = 0; i < (size_t)n * c->vocab_size; i++) worst = fmax(worst, fabs(logits[i] - hf[i]));
    printf("%d tokens: max |our logit - transformers' logit| = %.1e\n", n, worst);
    free(logits);
    mapfile_close(&ref);
    runstate_free(&st);
    kvcache_free(&cache);
    model_free(&m);
    return 0;
}

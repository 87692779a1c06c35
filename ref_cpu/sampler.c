#include "sampler.h"

#include <stdlib.h>

#include "ops.h"

int sampler_init(Sampler *s, int vocab_size, float temperature, int top_k, float top_p, uint64_t seed, Error *err) {
    if (!(temperature >= 0)) return err_set(err, "--temperature must be >= 0");
    if (top_k < 0) return err_set(err, "--top-k must be >= 0");
    if (!(top_p > 0 && top_p <= 1)) return err_set(err, "--top-p must be in (0, 1]");
    s->vocab_size = vocab_size;
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    s->state = seed ? seed : 0x9E3779B97F4A7C15ull; // xorshift needs a non-zero state
    s->cand = malloc((size_t)vocab_size * sizeof *s->cand);
    return s->cand ? 0 : err_set(err, "out of memory");
}

void sampler_free(Sampler *s) {
    free(s->cand);
    s->cand = NULL;
}

float sampler_random(Sampler *s) {
    s->state ^= s->state >> 12;
    s->state ^= s->state << 25;
    s->state ^= s->state >> 27;
    return (float)((s->state * 0x2545F4914F6CDD1Dull) >> 40) / 16777216.0f;
}

static int by_prob_desc(const void *a, const void *b) {
    float x = ((const ProbIndex *)a)->prob, y = ((const ProbIndex *)b)->prob;
    return (x < y) - (x > y);
}

// ANCHOR: sample
int sampler_sample(Sampler *s, float *logits) {
    int V = s->vocab_size;
    if (s->temperature == 0.0f) return argmax(logits, V);
    for (int i = 0; i < V; i++) logits[i] /= s->temperature;
    softmax_forward(logits, V);
    int n = 0;
    for (int i = 0; i < V; i++) s->cand[n++] = (ProbIndex){logits[i], i};
    qsort(s->cand, (size_t)n, sizeof *s->cand, by_prob_desc);
    if (s->top_k > 0 && s->top_k < n) n = s->top_k;
    // keep the smallest set of most likely tokens whose mass reaches top_p
    float mass = 0.0f;
    int keep = n;
    for (int i = 0; i < n; i++) {
        mass += s->cand[i].prob;
        if (mass >= s->top_p) {
            keep = i + 1;
            break;
        }
    }
    float total = 0.0f;
    for (int i = 0; i < keep; i++) total += s->cand[i].prob;
    float r = sampler_random(s) * total, cdf = 0.0f;
    for (int i = 0; i < keep; i++) {
        cdf += s->cand[i].prob;
        if (r < cdf) return s->cand[i].index;
    }
    return s->cand[keep - 1].index; // rounding
}
// END: sample

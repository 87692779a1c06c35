// sampler.h: picks the next token from logits: greedy, or temperature + top-k + top-p with a
// seeded xorshift generator (the same seed gives the same text on every machine).
#ifndef SAMPLER_H
#define SAMPLER_H

#include <stdint.h>

#include "error.h"

typedef struct {
    float prob;
    int index;
} ProbIndex;

typedef struct {
    int vocab_size;
    float temperature; // 0 = greedy (argmax)
    int top_k;         // 0 = off
    float top_p;       // 1 = off
    uint64_t state;    // xorshift64* state
    ProbIndex *cand;   // [vocab_size] scratch
} Sampler;

int sampler_init(Sampler *s, int vocab_size, float temperature, int top_k, float top_p, uint64_t seed, Error *err);
void sampler_free(Sampler *s);
// Samples from logits[vocab_size] (modified in place).
int sampler_sample(Sampler *s, float *logits);
float sampler_random(Sampler *s); // uniform in [0, 1)

#endif
